"""The starting side: phone number form, waiting page (match code, QR), status polling, sign-in."""

import math

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.sessions.backends.base import UpdateError
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.context import ClientContext
from accounts.forms import LoginForm
from accounts.known_browsers import known_browser_remember
from accounts.models import LoginRequest
from accounts.phone import readable_phone
from accounts.providers import get_provider
from accounts.views.common import ended_page, json_error, rate_limited_page, read_json

CLAIMS_KEY = "docuid_login_claims"
PASSKEY_STATE_KEY = "docuid_passkey_signin_state"
POLL_SECONDS = 2


def _claims(request: HttpRequest) -> dict:
    return request.session.get(CLAIMS_KEY, {})


def _claim_for(request: HttpRequest, request_id) -> dict | None:
    return _claims(request).get(str(request_id))


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            login_request, claim_secret = services.login_request_start(
                phone_number=form.cleaned_data["phone_number"],
                client_context=ClientContext.from_request(request),
                channel=LoginRequest.Channel.WEB,
            )
        except services.RateLimited as exc:
            return rate_limited_page(request, exc)
        except ValidationError as exc:
            form.add_error("phone_number", exc.messages[0])
        else:
            # One pending sign-in per browser is plenty; older claims are dropped. Only the QR
            # link is kept: the full-power approval link is for the phone alone.
            claims = {str(login_request.pk): {"secret": claim_secret, "qr_url": login_request.qr_url}}
            request.session[CLAIMS_KEY] = claims
            return redirect("accounts:wait", request_id=login_request.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/login.html", {"form": form}, status=status)


def _qr_svg(url: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=4, dark="#1b1f24", light="#ffffff", omitsize=True)


@never_cache
@require_GET
def wait_view(request: HttpRequest, request_id) -> HttpResponse:
    claim = _claim_for(request, request_id)
    if claim is None:
        return ended_page(request, title="Not your sign-in", message=services.MESSAGES["not_yours"], status=403)
    try:
        login_request = services.login_request_refresh(request_id=request_id, request=request)
    except services.LoginError as exc:
        return ended_page(request, title="Sign-in ended", message=exc.message, status=404)
    if login_request.status == LoginRequest.Status.APPROVED:
        return _finish(request, login_request.pk, claim["secret"])
    if login_request.status != LoginRequest.Status.PENDING:
        _claims(request).pop(str(request_id), None)
        request.session.modified = True
        title = {
            LoginRequest.Status.EXPIRED: "Sign-in request expired",
            LoginRequest.Status.DENIED: "Sign-in denied",
        }.get(login_request.status, "Sign-in not completed")
        return ended_page(request, title=title, message=services.login_request_error_message(login_request))
    context = {
        "login_request": login_request,
        # In full, not masked: only the browser that typed it holds this claim, and a masked
        # number hides exactly the middle digits where a typo would be. Logs still mask it.
        "asked_number": readable_phone(login_request.phone_number),
        # The countdown runs from the server's own clock, so a wrong clock in the browser
        # cannot make the page claim more (or less) time than the request has.
        # Rounded up: the page never calls a request expired while the server would still take it.
        "seconds_left": max(0, math.ceil((login_request.expires_at - timezone.now()).total_seconds())),
        "poll_seconds": POLL_SECONDS,
        "status_url": reverse("accounts:status", args=[login_request.pk]),
        "qr_svg": _qr_svg(claim["qr_url"])
        # A claim made before the QR token existed carries no QR link: its page just has no code.
        if claim.get("qr_url") and get_provider(login_request.provider).uses_approval_page
        else "",
    }
    return render(request, "accounts/wait.html", context)


def _finish(request: HttpRequest, request_id, claim_secret: str) -> HttpResponse:
    try:
        login_request = services.login_request_claim(request_id=request_id, claim_secret=claim_secret, request=request)
    except services.LoginError as exc:
        return ended_page(
            request, title="Sign-in not completed", message=exc.message, status=403 if exc.code == "not_yours" else 200
        )
    # The claim stays in the session (Django keeps it across the key rotation): coming
    # back to this page then says "already used" instead of "another browser's".
    services.session_login(
        request=request, user=login_request.user, device=login_request.device, method=login_request.provider
    )
    messages.success(request, f"Welcome, {login_request.user.get_short_name()}.")
    response = redirect(settings.LOGIN_REDIRECT_URL)
    known_browser_remember(response, request=request, phone_number=login_request.user.phone_number)
    return response


@never_cache
@require_GET
def status_view(request: HttpRequest, request_id) -> JsonResponse:
    if _claim_for(request, request_id) is None:
        return JsonResponse({"status": "not_found", "message": services.MESSAGES["not_yours"]}, status=404)
    try:
        login_request = services.login_request_refresh(request_id=request_id, request=request)
    except services.LoginError as exc:
        return JsonResponse({"status": "not_found", "message": exc.message}, status=404)
    body = {"status": login_request.status}
    if login_request.status not in (LoginRequest.Status.PENDING, LoginRequest.Status.APPROVED):
        body["message"] = services.login_request_error_message(login_request)
    return JsonResponse(body)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    services.session_logout(request=request)
    messages.info(request, "You are signed out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


@never_cache
@require_POST
def passkey_options_view(request: HttpRequest) -> JsonResponse:
    options, state = services.passkey_signin_begin(request=request)
    # Several ceremonies may be open at once (autofill and the button): keep the last few.
    request.session[PASSKEY_STATE_KEY] = [*request.session.get(PASSKEY_STATE_KEY, [])[-2:], state]
    return JsonResponse(options)


@never_cache
@require_POST
def passkey_complete_view(request: HttpRequest) -> JsonResponse:
    # The states are popped and saved first: one challenge, one try.
    states = request.session.pop(PASSKEY_STATE_KEY, None) or []
    try:
        request.session.save()
    except UpdateError:  # the session ended meanwhile (signed in by a parallel ceremony)
        return json_error("session_ended", "This sign-in page is out of date. Reload it and try again.", 400)
    data = read_json(request)
    if data is None:
        return json_error("malformed", "The request was not understood.", 400)
    try:
        device = services.passkey_signin_complete(states=states, credential=data, request=request)
    except services.LoginError as exc:
        return json_error(exc.code, exc.message, 400)
    services.session_login(request=request, user=device.user, device=device, method="passkey")
    response = JsonResponse({"ok": True, "redirect": resolve_url(settings.LOGIN_REDIRECT_URL)})
    known_browser_remember(response, request=request, phone_number=device.user.phone_number)
    return response
