import pytest


@pytest.mark.django_db(transaction=True)
def test_the_start_page_renders_with_its_stylesheet_and_no_console_errors(site, new_context):
    page = new_context().new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    response = page.goto(site + "/")
    assert response.status == 200
    assert page.locator("a.brand").inner_text() == "DocuID"
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_a_missing_page_shows_the_request_id_for_support(site, new_context):
    page = new_context().new_page()
    response = page.goto(site + "/no/such/page")
    assert response.status == 404
    assert response.headers["x-request-id"] in page.locator("code").inner_text()
