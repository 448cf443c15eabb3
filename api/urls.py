from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.views import compat, renditions, v1
from api.views.base import NotFoundView

compat_patterns = [
    path("biometric/auth-request", compat.AuthRequestView.as_view()),
    path("biometric/auth-result", compat.AuthResultView.as_view()),
    path("auth/me", compat.MeView.as_view()),
    path("auth/logout", compat.LogoutView.as_view()),
    re_path(
        r"^dashboard/documents/(?P<family>word-files|excel-files|powerpoint-files)$", compat.FamilyFilesView.as_view()
    ),
    path("dashboard/documents/<int:pk>", compat.DocumentView.as_view()),
    path("dashboard/documents/<int:pk>/access", compat.DocumentAccessView.as_view()),
    path("documents/<int:pk>/download", compat.DownloadView.as_view()),
    path("documents/<int:pk>/content", compat.ContentView.as_view()),
    path("documents/<int:pk>/preview", renditions.PreviewView.as_view()),
    path("dashboard/shares/optimized", compat.ShareView.as_view()),
]

v1_patterns = [
    path("auth/login", v1.LoginView.as_view()),
    path("auth/verify/<uuid:session_id>", v1.VerifyView.as_view()),
    path("auth/refresh", v1.RefreshView.as_view()),
    path("auth/logout", v1.LogoutView.as_view()),
    path("documents", v1.DocumentListView.as_view()),
    path("documents/search", v1.SearchView.as_view()),
    path("documents/<int:pk>", v1.DocumentDetailView.as_view()),
    path("documents/<int:pk>/content", v1.DocumentContentView.as_view()),
    path("documents/<int:pk>/download", v1.DocumentDownloadView.as_view()),
    path("documents/<int:pk>/thumbnail", renditions.ThumbnailView.as_view()),
]

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("v1/", include(v1_patterns)),
    path("docuid/", include(compat_patterns)),
    path("", include(compat_patterns)),
    re_path(r"^.*$", NotFoundView.as_view()),
]
