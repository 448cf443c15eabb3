from django.urls import path

from documents import original_views, rendition_views, share_views, views

app_name = "documents"

urlpatterns = [
    path("", views.document_list, name="list"),
    path("upload/", views.document_upload, name="upload"),
    path("shares/", share_views.share_list, name="shares"),
    path("shares/<int:share_id>/expiry/", share_views.share_update, name="share_update"),
    path("shares/<int:share_id>/revoke/", share_views.share_revoke, name="share_revoke"),
    path("<int:pk>/", views.document_detail, name="detail"),
    path("<int:pk>/open/", views.document_open, name="open"),
    path("<int:pk>/view/", views.document_view, name="view"),
    path("<int:pk>/view/status/", views.document_view_status, name="view_status"),
    path("<int:pk>/rendition/", rendition_views.document_rendition, name="rendition"),
    path("<int:pk>/thumbnail/", rendition_views.document_thumbnail, name="thumbnail"),
    path("<int:pk>/download/", views.document_download, name="download"),
    path("<int:pk>/original-download/", original_views.document_original_download, name="original_download"),
    path("<int:pk>/versions/", views.version_add, name="version_add"),
    path("<int:pk>/versions/<int:number>/download/", views.version_download, name="version_download"),
    path("<int:pk>/delete/", views.document_delete, name="delete"),
    path("<int:pk>/access/", views.grant_create, name="grant_create"),
    path("<int:pk>/access/<int:grant_id>/remove/", views.grant_delete, name="grant_delete"),
    path("<int:pk>/share/", share_views.share_create, name="share_create"),
]
