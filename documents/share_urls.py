"""Public share links, /s/<token> (the log masker hides the token)."""

from django.urls import path

from documents import share_views

app_name = "share"

urlpatterns = [
    path("<str:token>", share_views.share_link, name="link"),
    path("<str:token>/open", share_views.share_open, name="open"),
    path("<str:token>/download", share_views.share_download, name="download"),
]
