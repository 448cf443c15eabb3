"""Section B of API_CONTRACT.md: /api/v1/, one error envelope everywhere."""

import base64
import uuid

import pytest

from accounts.models import LoginRequest
from documents.models import Grant
from tests.api.conftest import APPROVES, DENIES, NEVER_ANSWERS, ApiCaller, office_documents
from tests.factories import make_document

pytestmark = pytest.mark.django_db

ENVELOPE = {"success", "error", "message", "details", "timestamp", "requestId"}
V1_DOC = {"id", "title", "type", "size", "sizeFormatted", "dateCreated", "dateModified", "permissions", "metadata"}


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) >= ENVELOPE
    assert body["success"] is False and body["error"] == code
    assert isinstance(body["message"], str) and isinstance(body["details"], dict)
    assert body["requestId"] == response["X-Request-ID"]
    return body


def start(caller, phone=APPROVES) -> dict:
    response = caller.post("/api/v1/auth/login", {"phoneNumber": phone, "deviceInfo": {"name": "Laptop"}})
    assert response.status_code == 200, response.content
    return response.json()


def verify(caller, login: dict):
    return caller.get(f"/api/v1/auth/verify/{login['sessionId']}", headers={"X-Claim-Secret": login["claimSecret"]})


def sign_in(caller, phone=APPROVES) -> dict:
    body = verify(caller, start(caller, phone)).json()
    assert body["status"] == "verified", body
    return body


def test_login_returns_a_session_id_a_claim_secret_and_a_match_code(caller, approver):
    body = start(caller)
    assert body["success"] is True and body["expiresIn"] == 300
    assert uuid.UUID(body["sessionId"]) == LoginRequest.objects.get().pk
    assert len(body["matchCode"]) == 2 and body["matchCode"].isdigit()
    assert isinstance(body["claimSecret"], str)
    assert LoginRequest.objects.get().channel == "api"


def test_login_with_a_malformed_number_is_400_invalid_phone_number(caller):
    body = assert_envelope(caller.post("/api/v1/auth/login", {"phoneNumber": "12"}), 400, "INVALID_PHONE_NUMBER")
    assert "phoneNumber" in body["details"]


def test_login_with_an_unknown_number_is_404_user_not_found(caller):
    assert_envelope(caller.post("/api/v1/auth/login", {"phoneNumber": "+12025550177"}), 404, "USER_NOT_FOUND")


def test_verify_of_the_approving_demo_number_returns_tokens_and_the_user(caller, approver):
    body = sign_in(caller)
    assert body["accessToken"].startswith("dat_") and body["refreshToken"].startswith("drt_")
    assert body["expiresIn"] == 24 * 3600 and body["refreshExpiresIn"] == 7 * 24 * 3600
    assert body["user"]["id"] == approver.pk and isinstance(body["user"]["permissions"], list)


def test_verify_of_the_silent_demo_number_is_pending(caller, silent):
    assert verify(caller, start(caller, NEVER_ANSWERS)).json() == {"success": True, "status": "pending"}


def test_verify_of_the_denying_demo_number_is_failed(caller, denier):
    body = verify(caller, start(caller, DENIES)).json()
    assert body["status"] == "failed" and body["success"] is False


def test_verify_after_the_request_expired_is_expired(caller, silent):
    from django.utils import timezone

    login = start(caller, NEVER_ANSWERS)
    LoginRequest.objects.update(expires_at=timezone.now())
    assert verify(caller, login).json()["status"] == "expired"


def test_verify_without_the_claim_secret_is_refused(caller, approver):
    login = start(caller)
    response = caller.get(f"/api/v1/auth/verify/{login['sessionId']}")
    assert_envelope(response, 403, "VERIFICATION_FAILED")


def test_refresh_returns_a_new_access_token(caller, approver):
    tokens = sign_in(caller)
    response = caller.post("/api/v1/auth/refresh", {"refreshToken": tokens["refreshToken"]})
    assert response.status_code == 200
    body = response.json()
    assert body["accessToken"] != tokens["accessToken"] and body["refreshToken"] != tokens["refreshToken"]


def test_logout_revokes_the_token_at_once(caller, approver):
    caller.token = sign_in(caller)["accessToken"]
    assert caller.post("/api/v1/auth/logout").json() == {"success": True, "message": "Logged out successfully"}
    assert_envelope(caller.get("/api/v1/documents"), 401, "INVALID_TOKEN")


def test_documents_list_has_the_contract_shape_and_pagination(owner_caller, owner):
    office_documents(owner)
    response = owner_caller.get("/api/v1/documents", {"page": 1, "limit": 3, "sortBy": "title", "sortOrder": "asc"})
    assert response.status_code == 200
    data = response.json()["data"]
    assert [d["title"] for d in data["documents"]] == ["Budget.xlsx", "Deck.pptx", "Letter.docx"]
    assert set(data["documents"][0]) >= V1_DOC
    assert set(data["documents"][0]["metadata"]) == {"author", "category", "tags"}
    assert data["pagination"] == {
        "page": 1,
        "limit": 3,
        "total": 4,
        "totalExact": True,
        "totalPages": 2,
        "hasNext": True,
        "hasPrevious": False,
    }


def test_documents_list_filters_by_type(owner_caller, owner):
    documents = office_documents(owner)
    data = owner_caller.get("/api/v1/documents", {"type": "xlsx"}).json()["data"]
    assert [d["id"] for d in data["documents"]] == [documents["excel"].pk]
    assert data["documents"][0]["type"] == "xlsx"


def test_documents_list_refuses_a_limit_over_100(owner_caller):
    body = assert_envelope(owner_caller.get("/api/v1/documents", {"limit": 101}), 400, "VALIDATION_ERROR")
    assert "limit" in body["details"]


def test_document_detail_adds_description_page_count_and_versions(owner_caller, owner):
    document = make_document(owner, name="Report.pdf", description="Yearly numbers")
    body = owner_caller.get(f"/api/v1/documents/{document.pk}").json()["data"]["document"]
    assert body["metadata"]["description"] == "Yearly numbers" and body["metadata"]["pageCount"] == 1
    assert body["versions"][0]["number"] == 1 and body["versions"][0]["current"] is True


def test_content_formats_text_html_and_office(owner_caller, owner):
    document = office_documents(owner)["word"]
    url = f"/api/v1/documents/{document.pk}/content"
    assert "Dear reader" in owner_caller.get(url, {"format": "text"}).json()["data"]["content"]
    assert "<p>" in owner_caller.get(url, {"format": "html"}).json()["data"]["content"]
    office = owner_caller.get(url, {"format": "office"}).json()["data"]
    assert base64.b64decode(office["content"])[:2] == b"PK"


def test_content_as_text_of_a_pdf_is_415_unsupported_format(owner_caller, owner):
    document = office_documents(owner)["pdf"]
    response = owner_caller.get(f"/api/v1/documents/{document.pk}/content", {"format": "text"})
    assert_envelope(response, 415, "UNSUPPORTED_FORMAT")


def test_download_sends_the_file(owner_caller, owner):
    document = office_documents(owner)["pdf"]
    response = owner_caller.get(f"/api/v1/documents/{document.pk}/download")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_a_view_only_grantee_gets_403_document_access_denied_on_download(other_caller, owner, other):
    document = office_documents(owner)["pdf"]
    Grant.objects.create(document=document, user=other, permission="view")
    response = other_caller.get(f"/api/v1/documents/{document.pk}/download")
    assert_envelope(response, 403, "DOCUMENT_ACCESS_DENIED")


def test_search_returns_results_and_search_metadata(owner_caller, owner):
    from documents import samples

    office_documents(owner)
    forecast = make_document(
        owner, name="Forecast.xlsx", data=samples.xlsx_bytes([["q"]]), description="quarterly forecast"
    )
    make_document(owner, name="Notes.pdf", description="quarterly notes")  # a PDF: filtered out by type
    response = owner_caller.post(
        "/api/v1/documents/search",
        {"query": "quarterly", "filters": {"type": ["xlsx", "docx"]}, "sortBy": "relevance", "page": 1, "limit": 10},
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert [d["id"] for d in data["documents"]] == [forecast.pk]
    meta = data["searchMetadata"]
    assert meta["query"] == "quarterly" and meta["totalMatches"] == 1 and isinstance(meta["searchTime"], float)


def test_search_filters_by_author_tags_and_date_range(owner_caller, owner):
    tagged = make_document(owner, name="Tagged.pdf", tags=["finance"], category="Reports")
    make_document(owner, name="Other.pdf")
    body = {
        "query": "",
        "filters": {
            "tags": ["finance"],
            "author": owner.name.split()[0],
            "category": "Reports",
            "dateRange": {"from": "2000-01-01", "to": "2999-12-31"},
        },
    }
    data = owner_caller.post("/api/v1/documents/search", body).json()["data"]
    assert [d["id"] for d in data["documents"]] == [tagged.pk]


def test_an_unknown_document_is_404_document_not_found(owner_caller):
    assert_envelope(owner_caller.get("/api/v1/documents/999999"), 404, "DOCUMENT_NOT_FOUND")


def test_no_token_is_401_invalid_token_with_a_bearer_challenge(caller):
    response = caller.get("/api/v1/documents")
    assert_envelope(response, 401, "INVALID_TOKEN")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_api_call_from_the_web_session_works_without_a_token(owner):
    caller = ApiCaller()
    caller.client.force_login(type(owner).objects.get(pk=owner.pk))
    assert caller.get("/api/v1/documents").status_code == 200
