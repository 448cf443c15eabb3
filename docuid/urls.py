from django.contrib import admin
from django.urls import include, path

from docuid import health, metrics, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("accounts.urls", namespace="accounts")),
    path("documents/", include("documents.urls")),
    path("s/", include("documents.share_urls")),
    path("", include("operations.urls")),
]

handler400 = "docuid.views.bad_request"
handler403 = "docuid.views.permission_denied"
handler404 = "docuid.views.page_not_found"
handler500 = "docuid.views.server_error"
