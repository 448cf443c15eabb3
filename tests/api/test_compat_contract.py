"""Section A of API_CONTRACT.md, row by row: what the shipped Office add-in sends and understands."""

import base64
import re

import pytest

from accounts.models import ApiToken, LoginRequest
from audit.models import AuditEvent
from tests.api.conftest import APPROVES, DENIES, NEVER_ANSWERS, ApiCaller, office_documents

pytestmark = pytest.mark.django_db

DOC_FIELDS = {
    "documentId": int,
    "fileName": str,
    "filePath": str,
    "fileType": str,
    "fileSize": int,
    "description": (str, type(None)),
    "folderId": (int, type(None)),
    "isPasswordProtected": bool,
    "createdAt": str,
    "updatedAt": str,
}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


def assert_doc(doc: dict) -> None:
    for name, kind in DOC_FIELDS.items():
        assert isinstance(doc[name], kind), (name, doc[name])
    assert ISO.match(doc["createdAt"]) and ISO.match(doc["updatedAt"])


def sign_in(caller: ApiCaller, mobile: str = APPROVES, prefix: str = "/api") -> str:
    assert (
        caller.post(f"{prefix}/biometric/auth-request", {"mobile": mobile, "requestFrom": "DocuID"}).status_code == 200
    )
    response = caller.post(f"{prefix}/biometric/auth-result", {"mobile": mobile})
    assert response.status_code == 200, response.content
    return response.json()["token"]


# --- login -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/api", "/api/docuid"])
def test_auth_request_answers_200_with_data_status_true(caller, approver, prefix):
    response = caller.post(f"{prefix}/biometric/auth-request", {"mobile": APPROVES, "requestFrom": "DocuID"})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and isinstance(body["message"], str) and body["data"]["status"] is True
    cookie = response.cookies["docuid_login_claim"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "None"
    assert LoginRequest.objects.get().channel == LoginRequest.Channel.ADDIN


def test_auth_request_answers_404_with_the_contract_detail_for_an_unknown_number(caller):
    response = caller.post("/api/biometric/auth-request", {"mobile": "+12025550177", "requestFrom": "DocuID"})
    assert response.status_code == 404
    detail = response.json()["error"]["detail"]
    assert detail.startswith("The mobile number provided (") and detail.endswith(") was not found.")
    assert "2025550177" not in detail  # masked in the answer too


def test_the_approving_demo_number_gets_user_details_a_token_and_a_token_cookie(caller, approver):
    caller.post("/api/biometric/auth-request", {"mobile": APPROVES, "requestFrom": "DocuID"})
    response = caller.post("/api/biometric/auth-result", {"mobile": APPROVES})
    assert response.status_code == 200
    body = response.json()
    details = body["data"]["details"]
    assert set(details) == {"id", "name", "email", "mobile", "country_code", "address"}
    assert details["id"] == approver.pk and details["mobile"] == APPROVES and details["country_code"] == "1"
    assert isinstance(body["message"], str) and body["token"].startswith("dat_")
    cookie = response.cookies["token"]
    assert cookie.value == body["token"]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "None"
    assert ApiToken.objects.get().user == approver


def test_the_never_answering_demo_number_stays_pending_with_422(caller, silent):
    caller.post("/api/biometric/auth-request", {"mobile": NEVER_ANSWERS, "requestFrom": "DocuID"})
    response = caller.post("/api/biometric/auth-result", {"mobile": NEVER_ANSWERS})
    assert response.status_code == 422
    assert "pending" in response.json()["error"]["detail"]


def test_the_denying_demo_number_gets_401_denied(caller, denier):
    caller.post("/api/biometric/auth-request", {"mobile": DENIES, "requestFrom": "DocuID"})
    response = caller.post("/api/biometric/auth-result", {"mobile": DENIES})
    assert response.status_code == 401
    assert "Denied" in response.json()["error"]["detail"]


def test_auth_result_for_a_number_never_requested_is_404_user_not_found(caller, approver):
    response = caller.post("/api/biometric/auth-result", {"mobile": APPROVES})
    assert response.status_code == 404
    assert response.json()["error"]["detail"] == "User not found"


def test_a_login_request_expired_while_pending_ends_with_401(caller, silent):
    from django.utils import timezone

    caller.post("/api/biometric/auth-request", {"mobile": NEVER_ANSWERS})
    LoginRequest.objects.update(expires_at=timezone.now())
    response = caller.post("/api/biometric/auth-result", {"mobile": NEVER_ANSWERS})
    assert response.status_code == 401 and "Expired" in response.json()["error"]["detail"]


def test_the_approved_request_gives_its_token_only_once(caller, approver):
    sign_in(caller)
    response = caller.post("/api/biometric/auth-result", {"mobile": APPROVES})
    assert response.status_code == 404  # the claim cookie was spent with the token
    assert ApiToken.objects.count() == 1


def test_an_api_login_is_audited_with_the_api_client(caller, approver):
    sign_in(caller)
    event = AuditEvent.objects.get(action="auth.login")
    assert event.data["api_client"] == "Office add-in" and event.data["channel"] == "addin"
    assert AuditEvent.objects.filter(action="auth.approved").exists()


# --- me and logout ----------------------------------------------------------------------------


def test_me_answers_the_person_with_a_bearer_token(caller, approver):
    caller.token = sign_in(caller)
    body = caller.get("/api/auth/me").json()
    assert body == {
        "userId": approver.pk,
        "name": approver.name,
        "email": approver.email,
        "accountType": "user",
        "status": "active",
    }


def test_me_answers_the_person_with_only_the_token_cookie(caller, approver):
    sign_in(caller)  # the cookie stays in the test client's jar
    assert caller.get("/api/auth/me").status_code == 200


def test_me_without_a_token_is_401_not_authenticated(caller):
    response = caller.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json() == {"error": "Not authenticated"}


def test_logout_answers_the_contract_and_the_token_stops_working_at_once(caller, approver):
    caller.token = sign_in(caller)
    response = caller.post("/api/auth/logout")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Logged out successfully"}
    assert caller.get("/api/auth/me").status_code == 401
    caller.token = None
    assert caller.get("/api/auth/me").status_code == 401  # the cookie was cleared and its token revoked


# --- documents ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "family"),
    [("word-files", "word"), ("excel-files", "excel"), ("powerpoint-files", "powerpoint")],
)
def test_family_lists_show_only_that_office_family(owner_caller, owner, path, family):
    documents = office_documents(owner)
    response = owner_caller.get(f"/api/dashboard/documents/{path}")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and isinstance(body["message"], str)
    files = body["data"]["files"]
    assert [f["documentId"] for f in files] == [documents[family].pk]
    assert_doc(files[0])


def test_document_detail_answers_the_doc_shape(owner_caller, owner):
    document = office_documents(owner)["word"]
    response = owner_caller.get(f"/api/dashboard/documents/{document.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert_doc(body["data"]["document"])
    assert body["data"]["document"]["fileType"] == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert body["data"]["document"]["fileName"] == "Letter.docx"


def test_access_gives_a_short_lived_link_that_downloads_without_a_token(owner_caller, owner, api_key):
    document = office_documents(owner)["excel"]
    response = owner_caller.get(f"/api/dashboard/documents/{document.pk}/access")
    assert response.status_code == 200
    doc = response.json()["data"]["document"]
    assert_doc(doc)
    assert doc["isEncrypted"] is False and doc["status"] == "active"
    access = doc["access"]
    assert access["method"] == "GET" and access["headers"] == {} and access["expiresIn"] == 300
    assert isinstance(access["previewUrl"], str)
    download = ApiCaller().get(access["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"PK")


def test_access_counts_as_a_document_open(owner_caller, owner):
    document = office_documents(owner)["word"]
    owner_caller.get(f"/api/dashboard/documents/{document.pk}/access")
    event = AuditEvent.objects.get(action="document.open")
    assert event.data["api_client"] == "Office add-in"


def test_download_sends_the_bytes_with_type_and_attachment_name(owner_caller, owner):
    document = office_documents(owner)["powerpoint"]
    response = owner_caller.get(f"/api/documents/{document.pk}/download")
    assert response.status_code == 200
    assert response["Content-Type"] == document.mime_type
    assert response["Content-Disposition"].startswith("attachment;") and "Deck.pptx" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == document.current_version.file.open("rb").read()
    assert AuditEvent.objects.filter(action="document.download", outcome="success").exists()


def test_content_sends_the_file_as_base64_with_its_type(owner_caller, owner):
    document = office_documents(owner)["word"]
    response = owner_caller.get(f"/api/documents/{document.pk}/content")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["encoding"] == "base64" and data["fileType"] == document.mime_type
    assert base64.b64decode(data["content"]) == document.current_version.file.open("rb").read()


def test_content_as_text_extracts_the_words(owner_caller, owner):
    document = office_documents(owner)["word"]
    data = owner_caller.get(f"/api/documents/{document.pk}/content", {"format": "text"}).json()["data"]
    assert data["encoding"] == "utf-8" and "Dear reader" in data["content"]


def test_share_creates_a_link_with_the_contract_shape(owner_caller, owner):
    document = office_documents(owner)["word"]
    response = owner_caller.post(
        "/api/dashboard/shares/optimized",
        {
            "documentId": document.pk,
            "recipientType": "individual",
            "recipients": {"email": "friend@example.com"},
            "accessLevel": "download",
            "requiresPassword": False,
            "customMessage": "Have a look",
            "allowDownload": True,
            "allowPrint": False,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and isinstance(body["message"], str)
    data = body["data"]
    assert isinstance(data["shareId"], int) and isinstance(data["message"], str)
    assert data["shareLink"].startswith("http://testserver/s/")
    assert ApiCaller().client.get(data["shareLink"].removeprefix("http://testserver")).status_code == 200


def test_share_to_a_mobile_with_a_country_code_and_a_generated_password(owner_caller, owner):
    document = office_documents(owner)["word"]
    response = owner_caller.post(
        "/api/dashboard/shares/optimized",
        {
            "documentId": document.pk,
            "recipientType": "individual",
            "recipients": {"mobile": "2025550123", "countryCallingCode": "+1"},
            "accessLevel": "view",
            "requiresPassword": True,
            "allowDownload": False,
            "allowPrint": False,
        },
    )
    assert response.status_code == 200
    assert len(response.json()["data"]["password"]) >= 8
    from documents.models import Share

    share = Share.objects.get()
    assert share.recipient_phone == "+12025550123" and share.has_password and share.access == "view"


def test_an_unauthenticated_document_call_is_401(caller, owner):
    document = office_documents(owner)["word"]
    for path in (
        "/api/dashboard/documents/word-files",
        f"/api/dashboard/documents/{document.pk}",
        f"/api/dashboard/documents/{document.pk}/access",
        f"/api/documents/{document.pk}/download",
        f"/api/documents/{document.pk}/content",
    ):
        assert caller.get(path).status_code == 401, path
    assert caller.post("/api/dashboard/shares/optimized", {"documentId": document.pk}).status_code == 401
