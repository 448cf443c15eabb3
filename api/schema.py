"""OpenAPI details drf-spectacular cannot infer: our authentication schemes, one copy of section A."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An access token from login (opaque)."}


class CookieTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.CookieTokenAuthentication"
    name = "tokenCookie"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": "token",
            "description": "The add-in's HttpOnly cookie; state-changing calls also need x-api-key.",
        }


def exclude_dev_prefix(endpoints, **kwargs):
    """/api/docuid/... repeats /api/... for the add-in's development build: document it once."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith("/api/docuid/")]
