"""Section A of API_CONTRACT.md: what the shipped Office add-in calls, with the shapes it understands.

Served under /api/ and /api/docuid/ (the add-in's development prefix). Login goes through the
same LoginRequest services as the web; documents through documents.selectors and services.
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services as account_services
from accounts.context import ClientContext
from accounts.models import LoginRequest
from accounts.phone import normalize_phone
from accounts.services.api_tokens import api_login_complete, api_token_revoke
from api import serializers as s
from api.authentication import TOKEN_COOKIE
from api.claims import COOKIE_NAME, claim_load, claim_matches_caller, login_start_bound
from api.clients import HasApiKey, request_client
from api.errors import ApiError
from api.links import caller_or_link_user, link_signature
from api.representations import compat_document, user_details
from api.views import renditions
from api.views.base import ApiView
from audit.actions import Action
from documents import replica, selectors, services
from documents.errors import DocumentError
from documents.models import Family, ShareAccess

FAMILIES = {"word-files": Family.WORD, "excel-files": Family.EXCEL, "powerpoint-files": Family.POWERPOINT}
MAX_LISTED = 1000  # the add-in shows one list per Office family; it has no paging
TAG = "Office add-in (compatibility)"
ERRORS = {
    400: OpenApiResponse(s.CompatError, description="Malformed input."),
    401: OpenApiResponse(s.CompatError, description="Missing, invalid, expired or revoked token or key."),
    429: OpenApiResponse(s.CompatError, description="Rate limit exceeded (see Retry-After)."),
}
DOC_ERRORS = ERRORS | {404: OpenApiResponse(s.CompatError, description="No such document, or not yours to see.")}


def validated(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _compat_error(status_code: int, code: str, detail: str) -> Response:
    return Response({"success": False, "error": {"detail": detail, "code": code}}, status=status_code)


def _cookie(response: Response, name: str, value: str, *, max_age: int) -> None:
    # The add-in runs in Office's web view on another origin: the cookie must be SameSite=None (so Secure).
    response.set_cookie(name, value, max_age=max_age, path="/api/", secure=True, httponly=True, samesite="None")


def _prefix(request) -> str:
    return "/api/docuid" if request.path.startswith("/api/docuid/") else "/api"


class CompatView(ApiView):
    error_style = "compat"


# --- login ----------------------------------------------------------------------------------


class AuthRequestView(CompatView):
    """Start a biometric login for a phone number; the starter gets an HttpOnly claim cookie."""

    throttle_scope = "auth"
    authentication_classes = []
    permission_classes = [HasApiKey]

    @extend_schema(
        tags=[TAG],
        request=s.MobileIn,
        responses={200: s.AuthRequestOut, 404: OpenApiResponse(s.CompatError, description="Unknown number.")} | ERRORS,
    )
    def post(self, request):
        data = validated(s.MobileIn, request.data)
        login_request, claim = login_start_bound(
            request, phone_number=data["mobile"], channel=LoginRequest.Channel.ADDIN, field="mobile"
        )
        if login_request.user is None and settings.DOCUID_API_REVEAL_UNKNOWN_NUMBERS:
            return _compat_error(
                404, "USER_NOT_FOUND", f"The mobile number provided ({login_request.masked_phone}) was not found."
            )
        response = Response(
            {
                "success": True,
                "message": "Approve the sign-in on your phone.",
                "data": {"status": True, "matchCode": login_request.match_code},
            }
        )
        _cookie(response, COOKIE_NAME, claim, max_age=settings.DOCUID_LOGIN_REQUEST_TTL_SECONDS + 60)
        return response


class AuthResultView(CompatView):
    """Poll the login; only the caller holding the claim cookie (same client, same network) gets the token."""

    throttle_scope = "poll"
    authentication_classes = []
    permission_classes = [HasApiKey]

    @extend_schema(
        tags=[TAG],
        request=s.MobileResultIn,
        responses={
            200: s.AuthResultOut,
            401: OpenApiResponse(s.CompatError, description="Denied (detail contains 'Denied'), or expired."),
            404: OpenApiResponse(s.CompatError, description="No sign-in of yours for this number."),
            422: OpenApiResponse(s.CompatError, description="Pending (detail contains 'pending')."),
        }
        | {k: v for k, v in ERRORS.items() if k != 401},
    )
    def post(self, request):
        data = validated(s.MobileResultIn, request.data)
        try:
            phone = normalize_phone(data["mobile"])
        except ValidationError as exc:
            raise ApiError(400, "INVALID_PHONE_NUMBER", exc.messages[0]) from None
        context = ClientContext.from_request(request._request)
        client = request_client(request)
        claim = claim_load(request.COOKIES.get(COOKIE_NAME))
        user_not_found = _compat_error(404, "USER_NOT_FOUND", "User not found")
        if claim is None or not claim_matches_caller(claim, client=client, network=context.ip_masked):
            return user_not_found
        try:
            login_request = account_services.login_request_refresh(
                request_id=claim.request_id, request=request._request
            )
        except account_services.LoginError:
            return user_not_found
        if login_request.phone_number != phone:
            return user_not_found
        if login_request.user is None and settings.DOCUID_API_REVEAL_UNKNOWN_NUMBERS:
            return user_not_found
        if login_request.status == LoginRequest.Status.PENDING:
            return _compat_error(422, "PENDING", "Authentication pending")
        if login_request.status != LoginRequest.Status.APPROVED:
            return self._ended(login_request.status, account_services.login_request_error_message(login_request))
        try:
            issued = api_login_complete(
                request_id=login_request.pk,
                claim_secret=claim.secret,
                client=client,
                client_context=context,
                request=request._request,
            )
        except account_services.LoginError as exc:
            if exc.code == "pending":
                return _compat_error(422, "PENDING", "Authentication pending")
            return self._ended(exc.code, exc.message)
        user = issued.token.user
        response = Response(
            {
                "success": True,
                "message": "Authentication successful",
                "token": issued.access_token,
                "expiresIn": issued.expires_in,
                "data": {"details": user_details(user)},
            }
        )
        _cookie(response, TOKEN_COOKIE, issued.access_token, max_age=issued.expires_in)
        response.delete_cookie(COOKIE_NAME, path="/api/", samesite="None")
        return response

    @staticmethod
    def _ended(status: str, message: str) -> Response:
        if status in {LoginRequest.Status.DENIED, "denied", "fraud_reported", "wrong_match_code", "assertion_failed"}:
            return _compat_error(401, "VERIFICATION_FAILED", "Denied - User denied biometric authentication.")
        if status in {LoginRequest.Status.EXPIRED, "expired"}:
            return _compat_error(401, "VERIFICATION_EXPIRED", f"Expired - {message}")
        return _compat_error(401, "VERIFICATION_FAILED", f"Failed - {message}")


class MeView(CompatView):
    compat_unauthenticated_body = {"error": "Not authenticated"}

    @extend_schema(
        tags=[TAG],
        responses={200: s.MeOut, 401: OpenApiResponse(s.CompatSimpleError, description="Not authenticated.")},
    )
    def get(self, request):
        user = request.user
        return Response(
            {
                "userId": user.pk,
                "name": user.name,
                "email": user.email,
                "accountType": "staff" if user.is_staff else "user",
                "status": "active" if user.is_active else "inactive",
            }
        )


def logout(view: ApiView, request) -> None:
    """Revoke the calling token (its whole family) or end the browser session."""
    token = request.auth
    if token is not None and hasattr(token, "family"):
        api_token_revoke(token=token, acting_user=request.user, request=request._request)
    else:
        account_services.session_logout(request=request._request)


class LogoutView(CompatView):
    @extend_schema(tags=[TAG], request=None, responses={200: s.MessageOut} | ERRORS)
    def post(self, request):
        logout(self, request)
        response = Response({"success": True, "message": "Logged out successfully"})
        response.delete_cookie(TOKEN_COOKIE, path="/api/", samesite="None")
        return response


# --- documents --------------------------------------------------------------------------------


class FamilyFilesView(CompatView):
    throttle_scope = "list"

    @extend_schema(
        tags=[TAG], operation_id="dashboard_documents_family_list", responses={200: s.CompatFilesOut} | ERRORS
    )
    def get(self, request, family: str):
        filters = selectors.DocumentFilters(family=FAMILIES[family])
        # One page of up to MAX_LISTED: a fixed number of queries however many documents there are.
        page = replica.documents_list(
            request.user, filters=filters, per_page=MAX_LISTED, max_per_page=MAX_LISTED, with_files=True
        )
        files = [compat_document(d, prefix=_prefix(request)) for d in page.documents]
        label = {"word-files": "Word", "excel-files": "Excel", "powerpoint-files": "PowerPoint"}[family]
        return Response(
            {"success": True, "message": f"{len(files)} {label} documents", "data": {"files": files[:MAX_LISTED]}}
        )


class DocumentView(CompatView):
    throttle_scope = "list"

    @extend_schema(tags=[TAG], responses={200: s.CompatDocOut} | DOC_ERRORS)
    def get(self, request, pk: int):
        document = self.visible_document(request, pk, audit_action=Action.DOCUMENT_VIEW)
        services.document_access_record(
            action=Action.DOCUMENT_VIEW,
            actor=request.user,
            document=document,
            request=request._request,
            data=self.audit_data(request),
        )
        return Response({"success": True, "data": {"document": compat_document(document, prefix=_prefix(request))}})


class DocumentAccessView(CompatView):
    """Open a document from the add-in: its details plus a short-lived link to the bytes."""

    throttle_scope = "content"

    @extend_schema(tags=[TAG], responses={200: s.CompatAccessOut} | DOC_ERRORS)
    def get(self, request, pk: int):
        document = self.visible_document(request, pk, audit_action=Action.DOCUMENT_OPEN)
        services.document_access_record(
            action=Action.DOCUMENT_OPEN,
            actor=request.user,
            document=document,
            request=request._request,
            data=self.audit_data(request, via="access_link"),
        )
        permissions = selectors.document_permissions(request.user, document)
        signature = link_signature(request=request, document_id=document.pk)  # dies with this token or session
        url = request.build_absolute_uri(f"{_prefix(request)}/documents/{document.pk}/download?sig={signature}")
        body = compat_document(document, prefix=_prefix(request)) | {
            "isEncrypted": False,
            "status": "active",
            "access": {
                "url": url if permissions.download else "",
                # The PDF (original or rendition) in a viewer: view permission is enough (api.views.renditions).
                "previewUrl": request.build_absolute_uri(
                    f"{_prefix(request)}/documents/{document.pk}/preview?sig={signature}"
                ),
                "expiresIn": settings.DOCUID_API_LINK_SECONDS,
                "method": "GET",
                "headers": {},
            },
        }
        return Response({"success": True, "data": {"document": body}})


class DownloadView(CompatView):
    """The file: with a bearer token / cookie, or with the signed `sig` of an /access link."""

    throttle_scope = "content"
    permission_classes = [AllowAny]

    @extend_schema(
        tags=[TAG],
        parameters=[
            OpenApiParameter("sig", str, description="The signature of an /access link (instead of a token)."),
            OpenApiParameter("inline", int, enum=[1], description="Show PDFs and images inline."),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file's bytes, with its type and file name."
            ),
            403: OpenApiResponse(s.CompatError, description="View only: no download permission."),
        }
        | DOC_ERRORS,
    )
    def get(self, request, pk: int):
        user = caller_or_link_user(request, document_id=pk)
        document = self.visible_document(request, pk, audit_action=Action.DOCUMENT_DOWNLOAD, user=user)
        return self.download_response(request, document, user=user, inline=request.query_params.get("inline") == "1")


class ContentView(CompatView):
    throttle_scope = "content"

    @extend_schema(
        tags=[TAG],
        parameters=[s.ContentQuery],
        responses={
            200: s.ContentOut,
            403: OpenApiResponse(s.CompatError, description="View only: no download permission (format=office)."),
            413: OpenApiResponse(s.CompatError, description="Too large for inline content; download it."),
            415: OpenApiResponse(s.CompatError, description="No text can be extracted from this type."),
        }
        | DOC_ERRORS,
    )
    def get(self, request, pk: int):
        query = validated(
            s.ContentQuery, {k: request.query_params[k] for k in ("format",) if k in request.query_params}
        )
        document = self.visible_document(request, pk, audit_action=Action.DOCUMENT_OPEN)
        if query["format"] == "pdf":
            return renditions.pdf_response(self, request, document)
        return Response({"success": True, "data": self.content_body(request, document, query["format"])})


class ShareView(CompatView):
    @extend_schema(
        tags=[TAG],
        request=s.ShareIn,
        responses={200: s.ShareOut, 403: OpenApiResponse(s.CompatError, description="Not allowed to share.")}
        | DOC_ERRORS,
    )
    def post(self, request):
        data = validated(s.ShareIn, request.data)
        document = self.visible_document(request, data["documentId"])
        recipients = data["recipients"]
        phone = ""
        if recipients.get("mobile"):
            raw = recipients["mobile"].strip()
            if not raw.startswith("+") and recipients.get("countryCallingCode"):
                raw = "+" + recipients["countryCallingCode"].strip().lstrip("+") + raw
            try:
                phone = normalize_phone(raw)
            except ValidationError as exc:
                raise ApiError(
                    400, "INVALID_PHONE_NUMBER", exc.messages[0], {"recipients": {"mobile": exc.messages}}
                ) from None
        if not phone and not recipients.get("email"):
            raise ApiError(
                400, "VALIDATION_ERROR", "Give the recipient's email or mobile.", {"recipients": ["Required."]}
            )
        password, generated = data.get("password", ""), False
        if data["requiresPassword"] and not password:
            password, generated = secrets.token_urlsafe(9), True
        elif not data["requiresPassword"]:
            password = ""
        access = (
            ShareAccess.DOWNLOAD if data["accessLevel"] == "download" or data["allowDownload"] else ShareAccess.VIEW
        )
        try:
            share, token = services.share_create(
                acting_user=request.user,
                document=document,
                access=access,
                password=password,
                recipient_email=recipients.get("email", ""),
                recipient_phone=phone,
                request=request._request,
            )
        except DocumentError as exc:
            status_code = 403 if exc.code == "INSUFFICIENT_PERMISSIONS" else 400
            raise ApiError(status_code, exc.code, exc.message) from None
        body = {
            "shareId": share.pk,
            "shareLink": settings.DOCUID_SITE_URL + reverse("share:link", args=[token]),
            "message": "Share link created.",
            "expiresAt": share.expires_at.isoformat(),
        }
        if generated:
            body["password"] = password
        return Response({"success": True, "message": "Document shared successfully", "data": body})
