"""Public share links, /s/<token> (the log masker hides the token).

Every path decides access from the token alone (its state, expiry, views, password, access level):
the link's page, its open page (/view, the document drawn as signed-in people see it), the file
(/open: a PDF or an image inline), its PDF (/pdf: the PDF or an Office file's rendition, inline,
what the viewer draws), the download, and the rendition's state (/view/status, polled).
"""

from django.urls import path

from documents import share_link_views

app_name = "share"

urlpatterns = [
    path("<str:token>", share_link_views.share_link, name="link"),
    path("<str:token>/view", share_link_views.share_view, name="view"),
    path("<str:token>/view/status", share_link_views.share_view_status, name="view_status"),
    path("<str:token>/open", share_link_views.share_open, name="open"),
    path("<str:token>/pdf", share_link_views.share_pdf, name="pdf"),
    path("<str:token>/download", share_link_views.share_download, name="download"),
]
