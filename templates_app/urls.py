"""URLs of the template pages, under /a/<account_id>/templates/."""

from django.urls import path

from templates_app import views

app_name = "templates_app"

T = "a/<str:account_id>/templates/"

urlpatterns = [
    path(T, views.template_list, name="templates"),
    path(T + "new/", views.template_create, name="template_create"),
    path(T + "review/", views.review_queue, name="review_queue"),
    path(T + "<str:template_id>/", views.template_detail, name="template_detail"),
    path(T + "<str:template_id>/delete/", views.template_delete, name="template_delete"),
    path(T + "<str:template_id>/preview/", views.template_preview, name="template_preview"),
    path(T + "<str:template_id>/spam-check/", views.template_spam_check, name="template_spam_check"),
    path(T + "<str:template_id>/v<int:number>/preview/", views.version_preview, name="version_preview"),
    path(T + "<str:template_id>/v<int:number>/<str:step>/", views.version_step, name="version_step"),
]
