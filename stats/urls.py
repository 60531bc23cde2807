"""URLs of the statistics pages, under /a/<account_id>/statistics/, and of the webhook pages, under
/a/<account_id>/webhooks/."""

from django.urls import path

from stats import views
from stats.webhooks import views as hooks

app_name = "stats"

S = "a/<str:account_id>/statistics/"
W = "a/<str:account_id>/webhooks/"
E = W + "<str:endpoint_id>/"

urlpatterns = [
    path(S, views.stats_dashboard, name="dashboard"),
    path(S + "export.csv", views.stats_export, name="export"),
    path(S + "usage/", views.stats_usage, name="usage"),
    path(W, hooks.webhook_list, name="webhooks"),
    path(W + "new/", hooks.webhook_create, name="webhook_create"),
    path(E, hooks.webhook_detail, name="webhook_detail"),
    path(E + "edit/", hooks.webhook_edit, name="webhook_edit"),
    path(E + "toggle/", hooks.webhook_toggle, name="webhook_toggle"),
    path(E + "test/", hooks.webhook_test, name="webhook_test"),
    path(E + "secret/", hooks.webhook_secret, name="webhook_secret"),
    path(E + "delete/", hooks.webhook_delete, name="webhook_delete"),
    path(E + "replay/", hooks.webhook_replay_failed, name="webhook_replay_failed"),
    path(E + "events/<str:event_id>/", hooks.webhook_event, name="webhook_event"),
    path(E + "events/<str:event_id>/replay/", hooks.webhook_event_replay, name="webhook_event_replay"),
]
