"""The site's own small views."""

from django.templatetags.static import static


def test_favicon_ico_points_to_the_icon_the_pages_name(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("favicon.svg")


def test_the_start_page_offers_the_way_in(client, db):
    page = client.get("/").content.decode()
    assert 'href="/login/"' in page and ">Sign in</a>" in page
    assert 'href="/status"' in page
