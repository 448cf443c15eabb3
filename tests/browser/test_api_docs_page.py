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


def test_the_docs_page_has_no_inline_style_block(client):
    html = client.get("/api/docs/").content.decode()
    assert "<style" not in html  # the CSP's style-src 'self' would refuse it
    assert "/static/css/api-docs.css" in html


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


# Records every CSP violation the page reports (inline <style>, style attributes, scripts, other origins).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [390, 1280])
def test_the_docs_page_reports_no_csp_violation_and_fits_the_screen(site, new_context, width):
    context = new_context(viewport={"width": width, "height": 844})
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if msg.type == "error" else None)
    assert page.goto(site + "/api/docs/").status == 200
    page.wait_for_selector(".opblock", timeout=15_000)
    page.locator(".opblock-summary").first.click()  # expanding an operation renders more of the UI
    page.wait_for_timeout(500)
    assert page.evaluate("window.__cspViolations") == []
    assert [text for text in console if "Content Security Policy" in text] == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
