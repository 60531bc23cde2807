"""URLs of the statistics pages, under /a/<account_id>/statistics/."""

from django.urls import path

from stats import views

app_name = "stats"

S = "a/<str:account_id>/statistics/"

urlpatterns = [
    path(S, views.stats_dashboard, name="dashboard"),
    path(S + "export.csv", views.stats_export, name="export"),
    path(S + "usage/", views.stats_usage, name="usage"),
]
