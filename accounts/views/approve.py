"""The phone side: who is asking, pick the match code, approve with a passkey, or deny / report."""

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors, services
from accounts.context import ClientContext
from accounts.models import LoginRequest
from accounts.views.common import ended_page, json_error, read_json

INVALID_LINK = "This approval link is not valid. Open the latest notification, or scan the code on the sign-in screen."
# The requesting browser sees both the match code and (in its QR code) a link that can
# approve, so a code confirmed anywhere else proves nothing: the browser that approves must pick it itself.
CONFIRMED_KEY = "docuid_match_confirmed"


def _confirmed_here(request: HttpRequest, login_request: LoginRequest) -> bool:
    return login_request.match_confirmed_at is not None and str(login_request.pk) in request.session.get(
        CONFIRMED_KEY, []
    )


def _ended(request: HttpRequest, message: str, status: int = 200) -> HttpResponse:
    return ended_page(request, title="Nothing to approve", message=message, status=status)


@never_cache
@require_GET
def approve_view(request: HttpRequest, token: str) -> HttpResponse:
    login_request, via_qr = selectors.login_request_get_by_link(token=token)
    if login_request is None:
        return _ended(request, INVALID_LINK, status=404)
    if login_request.status == LoginRequest.Status.PENDING and login_request.is_expired():
        login_request = services.login_request_expire(request_id=login_request.pk, request=request)
    if login_request.status == LoginRequest.Status.APPROVED or login_request.status == LoginRequest.Status.CONSUMED:
        context = {
            "login_request": login_request,
            "vapid_public_key": settings.DOCUID_VAPID_PUBLIC_KEY,
            "push_url": reverse("accounts:approve-push", args=[token]),
        }
        return render(request, "accounts/approved.html", context)
    if login_request.status != LoginRequest.Status.PENDING:
        return _ended(request, services.login_request_error_message(login_request))
    context = {
        "login_request": login_request,
        "token": token,
        # The QR link is seen by whoever asked: it may cancel, but not report fraud.
        "via_qr": via_qr,
        "choices": services.match_code_choices(login_request),
        "match_confirmed": _confirmed_here(request, login_request),
        "options_url": reverse("accounts:approve-options", args=[token]),
        "verify_url": reverse("accounts:approve-verify", args=[token]),
    }
    return render(request, "accounts/approve.html", context)


@never_cache
@require_POST
def approve_code_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        login_request = services.login_request_confirm_match_code(
            approval_token=token, code=request.POST.get("code", ""), request=request
        )
    except services.LoginError as exc:
        return _ended(request, exc.message, status=404 if exc.code == "not_found" else 200)
    request.session[CONFIRMED_KEY] = [*request.session.get(CONFIRMED_KEY, [])[-4:], str(login_request.pk)]
    return redirect("accounts:approve", token=token)


@never_cache
@require_POST
def approve_deny_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        login_request = services.login_request_deny(approval_token=token, request=request)
    except services.LoginError as exc:
        return _ended(request, exc.message, status=404 if exc.code == "not_found" else 200)
    if login_request.status == LoginRequest.Status.CANCELLED:
        return ended_page(request, title="Sign-in cancelled", message="Cancelled. Nobody was signed in.")
    return ended_page(request, title="Sign-in denied", message="Denied. Nobody was signed in.")


@never_cache
@require_POST
def approve_fraud_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        services.login_request_report_fraud(approval_token=token, request=request)
    except services.LoginError as exc:
        return _ended(request, exc.message, status=404 if exc.code == "not_found" else 200)
    return ended_page(
        request,
        title="Thanks for telling us",
        message="Nobody was signed in. Sign-in for your number is paused for a while and our support team has been told.",
    )


@never_cache
@require_POST
def approve_options_view(request: HttpRequest, token: str) -> JsonResponse:
    login_request, _ = selectors.login_request_get_by_link(token=token)
    if login_request is not None and not _confirmed_here(request, login_request):
        return json_error("match_code_required", services.MESSAGES["match_code_required"], 409)
    try:
        options = services.login_request_assertion_options(approval_token=token, request=request)
    except services.LoginError as exc:
        return json_error(exc.code, exc.message, 404 if exc.code == "not_found" else 409)
    return JsonResponse(options)


@never_cache
@require_POST
def approve_verify_view(request: HttpRequest, token: str) -> JsonResponse:
    data = read_json(request)
    if data is None:
        return json_error("malformed", "The request was not understood.", 400)
    try:
        services.login_request_approve(approval_token=token, credential=data, request=request)
    except services.LoginError as exc:
        return json_error(exc.code, exc.message, 404 if exc.code == "not_found" else 400)
    return JsonResponse({"ok": True, "redirect": reverse("accounts:approve", args=[token])})


@never_cache
@require_POST
def approve_push_view(request: HttpRequest, token: str) -> JsonResponse:
    data = read_json(request)
    if data is None:
        return json_error("malformed", "The request was not understood.", 400)
    try:
        services.push_subscription_save(
            approval_token=token, subscription=data, browser=ClientContext.from_request(request).browser
        )
    except services.LoginError as exc:
        return json_error(exc.code, exc.message, 403)
    except ValidationError:
        return json_error("invalid_subscription", "That is not a push subscription this site can use.", 400)
    return JsonResponse({"ok": True}, status=201)


@require_GET
def service_worker_view(request: HttpRequest) -> HttpResponse:
    """The service worker, served from the site root so its scope covers the approval pages."""
    path = finders.find("sw.js")
    with open(path, "rb") as handle:
        response = HttpResponse(handle.read(), content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
