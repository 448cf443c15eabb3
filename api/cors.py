"""CORS: exactly the active API clients' browser origins may call /api/ with credentials."""

from accounts.services.api_tokens import api_client_origins


def allow_api_client_origins(sender, request, **kwargs) -> bool:
    origin = request.headers.get("Origin", "").rstrip("/")
    return bool(origin) and origin in api_client_origins()
