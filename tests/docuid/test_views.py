"""The site's own small views."""

from django.templatetags.static import static


def test_favicon_ico_points_to_the_icon_the_pages_name(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("favicon.svg")
