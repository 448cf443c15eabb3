from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "DocuID API"

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        import api.schema  # noqa: F401 — registers the OpenAPI authentication extensions
        from api.cors import allow_api_client_origins

        check_request_enabled.connect(allow_api_client_origins, dispatch_uid="api-client-origins")
