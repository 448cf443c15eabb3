"""Registering a passkey on the phone from a staff-issued enrollment link."""

from django.contrib.sessions.backends.base import UpdateError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import services
from accounts.views.common import ended_page, json_error, read_json

STATE_KEY = "docuid_enroll_state"


@never_cache
@require_GET
def enroll_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = services.enrollment_link_get_usable(token=token)
    except services.EnrollmentError as exc:
        return ended_page(request, title="Link not valid", message=exc.message, status=404)
    context = {
        "person": link.user,
        "options_url": reverse("accounts:enroll-options", args=[token]),
        "complete_url": reverse("accounts:enroll-complete", args=[token]),
    }
    return render(request, "accounts/enroll.html", context)


@never_cache
@require_POST
def enroll_options_view(request: HttpRequest, token: str) -> JsonResponse:
    try:
        options, state = services.enrollment_begin(token=token, request=request)
    except services.EnrollmentError as exc:
        return json_error("invalid_link", exc.message, 404)
    request.session[STATE_KEY] = state
    return JsonResponse(options)


@never_cache
@require_POST
def enroll_complete_view(request: HttpRequest, token: str) -> JsonResponse:
    state = request.session.pop(STATE_KEY, None)
    try:
        request.session.save()
    except UpdateError:
        return json_error("session_ended", "This page is out of date. Reload it and try again.", 400)
    data = read_json(request)
    if data is None or not isinstance(data.get("credential"), dict):
        return json_error("malformed", "The request was not understood.", 400)
    try:
        device = services.enrollment_complete(
            token=token,
            state=state,
            credential=data["credential"],
            device_name=str(data.get("name", "")),
            request=request,
        )
    except services.EnrollmentError as exc:
        return json_error("enrollment_failed", exc.message, 400)
    return JsonResponse({"ok": True, "device": device.name, "redirect": reverse("accounts:enrolled")})


@require_GET
def enrolled_view(request: HttpRequest) -> HttpResponse:
    return ended_page(
        request,
        title="This phone is ready",
        message="Your passkey is registered. When you sign in to DocuID, approve on this phone with your fingerprint or face.",
    )
