from django.urls import path

from operations import views

app_name = "operations"

urlpatterns = [
    path("status", views.status_page, name="status"),
    path("ops/alertmanager/webhook", views.alertmanager_webhook, name="alertmanager-webhook"),
]
