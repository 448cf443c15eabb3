"""The person's own page: details, devices, sessions, recent security activity."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import selectors, services
from accounts.phone import readable_phone
from accounts.services import api_tokens
from accounts.views.common import confirm_page, confirmed


@login_required
@require_GET
def profile_view(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "person": user,
        # The owner sees their own number in full on their own page; logs and staff pages still mask it.
        "phone": readable_phone(user.phone_number),
        "devices": selectors.devices_for(user=user),
        "sessions": selectors.sessions_for(user=user),
        "api_tokens": api_tokens.api_tokens_for(user=user),
        "current_session_key": request.session.session_key,
        "activity": selectors.security_activity_for(user=user),
    }
    return render(request, "accounts/profile.html", context)


def _fresh(request: HttpRequest) -> bool:
    authenticated_at = request.session.get(services.SESSION_AUTHENTICATED_AT_KEY) or 0
    return (
        request.user.is_verified() and timezone.now().timestamp() - authenticated_at <= services.FRESH_APPROVAL_SECONDS
    )


@login_required
@require_http_methods(["GET", "POST"])
def device_remove_view(request: HttpRequest, device_id: int) -> HttpResponse:
    if not confirmed(request):
        device = selectors.devices_for(user=request.user).filter(pk=device_id).first()
        if device is None:
            messages.error(request, "No such device.")
            return redirect("accounts:profile")
        return confirm_page(
            request,
            title=f"Remove “{device.name}”?",
            message="This phone will no longer approve your sign-ins. To use it again, ask support for a new enrollment link.",
            action="Remove this device",
            back=reverse("accounts:profile") + "#devices",
        )
    try:
        services.device_remove(
            user=request.user, device_id=device_id, acting_user=request.user, request=request, fresh=_fresh(request)
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, "The device was removed.")
    return redirect("accounts:profile")


@login_required
@require_POST
def device_rename_view(request: HttpRequest, device_id: int) -> HttpResponse:
    try:
        services.device_rename(user=request.user, device_id=device_id, name=request.POST.get("name", ""))
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, "The device was renamed.")
    return redirect("accounts:profile")


@login_required
@require_POST
def session_revoke_view(request: HttpRequest, session_id: int) -> HttpResponse:
    if services.user_session_revoke(
        user=request.user, session_id=session_id, acting_user=request.user, request=request
    ):
        messages.success(request, "That session was signed out.")
    else:
        messages.error(request, "No such session.")
    return redirect("accounts:profile")


@login_required
@require_http_methods(["GET", "POST"])
def sign_out_everywhere_view(request: HttpRequest) -> HttpResponse:
    if not confirmed(request):
        return confirm_page(
            request,
            title="Sign out everywhere?",
            message="Every browser and app signed in as you, this one included, will have to sign in again.",
            action="Sign out everywhere",
            back=reverse("accounts:profile") + "#sessions",
        )
    services.user_sessions_revoke_all(user=request.user, acting_user=request.user, request=request)
    services.session_logout(request=request)
    messages.info(request, "You are signed out everywhere.")
    return redirect("accounts:login")


@login_required
@require_POST
def api_token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    if api_tokens.api_token_revoke_own(user=request.user, token_id=token_id, request=request):
        messages.success(request, "That app was signed out.")
    else:
        messages.error(request, "No such sign-in.")
    return redirect("accounts:profile")
