"""The browsable API docs at /api/docs/: Swagger UI from the sidecar (no CDN), working under our CSP."""

import pytest


def test_the_docs_page_loads_only_same_origin_scripts(client):
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "<script>" not in html  # every script has a src on our origin
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_renders_every_operation_in_a_browser(site, new_context):
    page = new_context().new_page()
    script_errors: list[str] = []
    page.on(
        "console", lambda msg: script_errors.append(msg.text) if msg.type == "error" and "script" in msg.text else None
    )
    response = page.goto(site + "/api/docs/")
    assert response.status == 200
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() >= 18
    assert "/api/v1/auth/login" in page.content()
    assert script_errors == []
