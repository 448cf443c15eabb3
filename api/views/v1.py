"""Section B of API_CONTRACT.md: the versioned API under /api/v1/, errors in one envelope."""

import math
import time

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts import services as account_services
from accounts.context import ClientContext
from accounts.models import LoginRequest
from accounts.services.api_tokens import TokenError, api_login_complete, api_token_refresh
from api import serializers as s
from api.claims import COOKIE_NAME, HEADER_NAME, claim_load, claim_matches_caller, login_start_bound
from api.clients import HasApiKey, request_client
from api.errors import ApiError
from api.representations import v1_document, v1_document_detail, v1_user
from api.views import renditions
from api.views.base import ApiView
from api.views.compat import logout, validated
from audit.actions import Action
from documents import replica, selectors, services
from documents.filetypes import TYPES

TAG_AUTH = "v1 authentication"
TAG_DOCS = "v1 documents"
ERRORS = {
    400: OpenApiResponse(s.V1Error, description="VALIDATION_ERROR: malformed or invalid input (see details)."),
    401: OpenApiResponse(s.V1Error, description="INVALID_TOKEN: missing, invalid, expired or revoked token or key."),
    429: OpenApiResponse(s.V1Error, description="RATE_LIMIT_EXCEEDED (see Retry-After)."),
}
DOC_ERRORS = ERRORS | {404: OpenApiResponse(s.V1Error, description="DOCUMENT_NOT_FOUND (or not yours to see).")}
SORT_FIELDS = {"title": "title", "dateModified": "modified", "size": "size"}


def _families(types) -> tuple[str, ...]:
    return tuple(sorted({TYPES[t].family if t in TYPES else t for t in types}))


def _sort(sort_by: str, order: str) -> str:
    if sort_by not in SORT_FIELDS:
        return ""  # relevance
    return ("-" if order == "desc" else "") + SORT_FIELDS[sort_by]


def _query(request, serializer_class) -> dict:
    # Query strings are read leniently (cache-busting parameters are common); JSON bodies strictly.
    known = {name: request.query_params[name] for name in serializer_class().fields if name in request.query_params}
    return validated(serializer_class, known)


def _page_body(request, page) -> dict:
    # The page's permissions in one query (documents.selectors decides), not one per row.
    permissions = selectors.permissions_for(request.user, page.documents)
    documents = [
        v1_document(d, permissions[d.pk]) | {"highlights": [page.highlights[d.pk]] if d.pk in page.highlights else []}
        for d in page.documents
    ]
    total = page.total or 0
    return {
        "documents": documents,
        "pagination": {
            "page": page.number,
            "limit": page.per_page,
            # Exact up to selectors.TOTAL_LOOKAHEAD matches past the page's start; beyond that a
            # lower bound (totalExact false) — hasNext is always exact (docs/API.md, Paging).
            "total": total,
            "totalExact": page.total_exact,
            "totalPages": math.ceil(total / page.per_page) if total else 0,
            "hasNext": page.has_next,
            "hasPrevious": page.has_previous,
        },
    }


def _tokens_body(issued) -> dict:
    token = issued.token
    return {
        "accessToken": issued.access_token,
        "refreshToken": issued.refresh_token,
        "tokenType": "Bearer",
        "expiresIn": issued.expires_in,
        "refreshExpiresIn": int((token.refresh_expires_at - token.created_at).total_seconds()),
    }


# --- authentication ----------------------------------------------------------------------------


class LoginView(ApiView):
    throttle_scope = "auth"
    authentication_classes = []
    permission_classes = [HasApiKey]

    @extend_schema(
        tags=[TAG_AUTH],
        request=s.LoginIn,
        responses={200: s.LoginOut, 404: OpenApiResponse(s.V1Error, description="USER_NOT_FOUND")} | ERRORS,
    )
    def post(self, request):
        data = validated(s.LoginIn, request.data)
        login_request, claim = login_start_bound(
            request, phone_number=data["phoneNumber"], channel=LoginRequest.Channel.API, field="phoneNumber"
        )
        if login_request.user is None and settings.DOCUID_API_REVEAL_UNKNOWN_NUMBERS:
            raise ApiError(404, "USER_NOT_FOUND", "No DocuID account can sign in with this number.")
        return Response(
            {
                "success": True,
                "sessionId": str(login_request.pk),
                "claimSecret": claim,
                "expiresIn": settings.DOCUID_LOGIN_REQUEST_TTL_SECONDS,
                "matchCode": login_request.match_code,
            }
        )


class VerifyView(ApiView):
    """Poll a login. Only its starter (claim secret, same API client, same network) can collect the tokens."""

    throttle_scope = "poll"
    authentication_classes = []
    permission_classes = [HasApiKey]

    @extend_schema(
        tags=[TAG_AUTH],
        parameters=[
            OpenApiParameter(HEADER_NAME, str, OpenApiParameter.HEADER, description="The claimSecret from login.")
        ],
        responses={
            200: s.VerifyOut,
            403: OpenApiResponse(s.V1Error, description="VERIFICATION_FAILED: not the caller that started it."),
            404: OpenApiResponse(s.V1Error, description="USER_NOT_FOUND: no such login session."),
        }
        | ERRORS,
    )
    def get(self, request, session_id):
        context = ClientContext.from_request(request._request)
        client = request_client(request)
        claim = claim_load(request.headers.get(HEADER_NAME) or request.COOKIES.get(COOKIE_NAME))
        if (
            claim is None
            or claim.request_id != str(session_id)
            or not claim_matches_caller(claim, client=client, network=context.ip_masked)
        ):
            raise ApiError(403, "VERIFICATION_FAILED", "Only the client that started this login can verify it.")
        try:
            login_request = account_services.login_request_refresh(
                request_id=claim.request_id, request=request._request
            )
        except account_services.LoginError:
            raise ApiError(404, "USER_NOT_FOUND", "No such login session.") from None
        if login_request.status == LoginRequest.Status.PENDING:
            return Response({"success": True, "status": "pending"})
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
                return Response({"success": True, "status": "pending"})
            return self._ended(exc.code, exc.message)
        return Response(
            {"success": True, "status": "verified", **_tokens_body(issued), "user": v1_user(issued.token.user)}
        )

    @staticmethod
    def _ended(status: str, message: str) -> Response:
        state = "expired" if status in {LoginRequest.Status.EXPIRED, "expired"} else "failed"
        return Response({"success": False, "status": state, "message": message})


class RefreshView(ApiView):
    throttle_scope = "auth"
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(tags=[TAG_AUTH], request=s.RefreshIn, responses={200: s.RefreshOut} | ERRORS)
    def post(self, request):
        data = validated(s.RefreshIn, request.data)
        try:
            issued = api_token_refresh(
                refresh_token=data["refreshToken"],
                client=request_client(request),
                client_context=ClientContext.from_request(request._request),
                request=request._request,
            )
        except TokenError as exc:
            raise ApiError(401, exc.code, exc.message) from None
        return Response({"success": True, **_tokens_body(issued)})


class LogoutView(ApiView):
    @extend_schema(tags=[TAG_AUTH], request=None, responses={200: s.MessageOut} | ERRORS)
    def post(self, request):
        logout(self, request)
        return Response({"success": True, "message": "Logged out successfully"})


# --- documents -----------------------------------------------------------------------------------


class DocumentListView(ApiView):
    throttle_scope = "list"

    @extend_schema(
        tags=[TAG_DOCS],
        operation_id="v1_documents_list",
        parameters=[s.DocumentListQuery],
        responses={200: s.V1ListOut} | ERRORS,
    )
    def get(self, request):
        query = _query(request, s.DocumentListQuery)
        filters = selectors.DocumentFilters(
            query=query["search"].strip(),
            families=_families([query["type"]]) if query.get("type") else (),
            sort=_sort(query["sortBy"], query["sortOrder"]),
        )
        page = replica.documents_list(
            request.user, filters=filters, page=query["page"], per_page=query["limit"], with_total=True
        )
        return Response({"success": True, "data": _page_body(request, page)})


class SearchView(ApiView):
    throttle_scope = "list"
    # A POST that writes nothing: it reads the replica like the list (docuid.read_your_writes).
    reads_only = True

    @extend_schema(tags=[TAG_DOCS], request=s.SearchIn, responses={200: s.V1SearchOut} | ERRORS)
    def post(self, request):
        started = time.perf_counter()
        data = validated(s.SearchIn, request.data)
        given = data.get("filters", {})
        dates = given.get("dateRange", {})
        filters = selectors.DocumentFilters(
            query=data["query"].strip(),
            families=_families(given.get("type", [])),
            category=given.get("category", ""),
            tags=tuple(given.get("tags", [])),
            author=given.get("author", ""),
            modified_from=dates.get("from"),
            modified_to=dates.get("to"),
            sort=_sort(data["sortBy"], data["sortOrder"]),
        )
        page = replica.documents_list(
            request.user, filters=filters, page=data["page"], per_page=data["limit"], with_total=True
        )
        body = _page_body(request, page)
        took = round((time.perf_counter() - started) * 1000, 2)
        body["searchMetadata"] = {
            "query": data["query"],
            "totalResults": page.total or 0,
            "totalMatches": page.total or 0,
            # Relevance applies only with words to rank by; without them the list's default order.
            "sortBy": data["sortBy"] if data["sortBy"] != "relevance" or filters.query else "dateModified",
            "took": took,
            "searchTime": took,
            "didYouMean": page.did_you_mean,
        }
        return Response({"success": True, "data": body})


class DocumentDetailView(ApiView):
    throttle_scope = "list"

    @extend_schema(tags=[TAG_DOCS], responses={200: s.V1DetailOut} | DOC_ERRORS)
    def get(self, request, pk: int):
        document = self.visible_document(request, pk, audit_action=Action.DOCUMENT_VIEW)
        permissions = selectors.document_permissions(request.user, document)
        services.document_access_record(
            action=Action.DOCUMENT_VIEW,
            actor=request.user,
            document=document,
            request=request._request,
            data=self.audit_data(request),
        )
        # Earlier versions are the owner's working history (as on the web): others see the current one.
        versions = selectors.document_versions(document) if permissions.manage else [document.current_version]
        body = v1_document_detail(document, permissions, [v for v in versions if v is not None])
        return Response({"success": True, "data": {"document": body}})


class DocumentContentView(ApiView):
    throttle_scope = "content"

    @extend_schema(
        tags=[TAG_DOCS],
        parameters=[s.ContentQuery],
        responses={
            200: s.ContentOut,
            403: OpenApiResponse(s.V1Error, description="DOCUMENT_ACCESS_DENIED (format=office needs download)."),
            413: OpenApiResponse(s.V1Error, description="DOCUMENT_TOO_LARGE: download it instead."),
            415: OpenApiResponse(
                s.V1Error, description="UNSUPPORTED_FORMAT: no text (or, format=pdf, no PDF) for this type."
            ),
        }
        | {k: v for k, v in renditions.PDF_ERRORS.items() if k != 415}
        | DOC_ERRORS,
    )
    def get(self, request, pk: int):
        query = _query(request, s.ContentQuery)
        document = self.visible_document(request, pk, audit_action=Action.DOCUMENT_OPEN)
        if query["format"] == "pdf":
            return renditions.pdf_response(self, request, document)
        return Response({"success": True, "data": self.content_body(request, document, query["format"])})


class DocumentDownloadView(ApiView):
    throttle_scope = "content"

    @extend_schema(
        tags=[TAG_DOCS],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file's bytes, with its type and file name."
            ),
            403: OpenApiResponse(s.V1Error, description="DOCUMENT_ACCESS_DENIED: view only."),
        }
        | DOC_ERRORS,
    )
    def get(self, request, pk: int):
        document = self.visible_document(request, pk, audit_action=Action.DOCUMENT_DOWNLOAD)
        return self.download_response(request, document)
