"""The admin's sign-in: phone number, password and authenticator code in one step, behind a lockout.

One answer for every failure (wrong password, wrong code, not staff) so the
password cannot be guessed apart from the second factor; django-axes counts
every failure in the database and locks the number, and the client address,
out of /admin/login/ for a cool-off (settings: "Admin login lockout").
"""

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.phone import mask_phone, normalize_phone
from audit import record
from audit.actions import Action, Outcome

GENERIC_ERROR = (
    "Please enter the phone number, password and authenticator code of a staff account. "
    "All three are checked together; the password is case-sensitive."
)
# Devices that take a typed code, in the order they are tried: the app's code first,
# so an everyday sign-in never touches the backup codes.
TOKEN_DEVICES: tuple[type[Device], ...] = (TOTPDevice, StaticDevice)
USERNAME_MAX = 255  # axes' AccessAttempt.username


def _e164_or_none(raw: str) -> str | None:
    try:
        return normalize_phone(raw)
    except ValidationError:
        return None


# --- django-axes hooks (named in settings) ---------------------------------------------


def axes_username(request: HttpRequest, credentials: dict | None) -> str:
    """The number in E.164, so "(312) 555-7001" and "+13125557001" count against one lockout."""
    credentials = credentials or {}
    # authenticate() reports "username"; axes' own backend names the model's field (phone_number).
    raw = credentials.get("username") or credentials.get(settings.AXES_USERNAME_FORM_FIELD)
    if raw is None:
        raw = request.POST.get("username", "")
    raw = str(raw).strip()
    return (_e164_or_none(raw) or raw)[:USERNAME_MAX]


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The 429 page: no username echoed, the same for a right or a wrong password."""
    minutes = settings.DOCUID_ADMIN_LOCKOUT_MINUTES
    response = render(
        request,
        "admin/docuid_lockout.html",
        {"cooloff_minutes": minutes, "site_header": "DocuID support", "site_title": "DocuID support"},
        status=429,
    )
    response["Retry-After"] = str(minutes * 60)
    return response


class AdminOnlyAxesHandler(AxesDatabaseHandler):
    """Axes' database handler, deaf outside the admin.

    AXES_ONLY_ADMIN_SITE only stops axes from refusing elsewhere; its signal handlers
    would still run for every phone-number login (user_logged_in), and with
    AXES_RESET_ON_SUCCESS a phone login from the attacker's address would wipe the
    address's admin failures.
    """

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if request is not None and self.is_admin_request(request):
            return super().user_login_failed(sender, credentials, request, **kwargs)
        return None

    def user_logged_in(self, sender, request, user, **kwargs):
        if self.is_admin_request(request):
            return super().user_logged_in(sender, request, user, **kwargs)
        return None

    def user_logged_out(self, sender, request, user, **kwargs):
        if request is not None and self.is_admin_request(request):
            return super().user_logged_out(sender, request, user, **kwargs)
        return None


# --- The service --------------------------------------------------------------------------


def _token_device(*, user: User, token: str) -> Device | None:
    """The user's confirmed device that accepts `token`, trying each (django-otp's match_token, throttle-aware)."""
    tried: list[Device] = []
    with transaction.atomic():
        for model in TOKEN_DEVICES:
            for device in model.objects.devices_for_user(user, confirmed=True).select_for_update():
                allowed, _ = device.verify_is_allowed()
                if not allowed:
                    continue
                if device.verify_token(token):
                    # The others failed only because they were tried first, not guessed at:
                    # a typo'd app code must not leave the backup codes throttled for the day the phone is lost.
                    for other in tried:
                        other.throttle_reset()
                    return device
                tried.append(device)
    return None


def _audit_username(raw: str) -> dict:
    # A password typed into the username box must never reach the trail, even masked.
    e164 = _e164_or_none(raw)
    return {"username": mask_phone(e164)} if e164 else {"username_is_phone_number": False}


def _failed(*, request: HttpRequest, username: str, reason: str, user: User | None, was_locked: bool) -> None:
    if reason not in ("password", "locked_out"):
        # authenticate() did not fail, so it did not tell axes: count it like a wrong password.
        user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    target = user
    if target is None:
        e164 = _e164_or_none(username)
        target = User.objects.filter(phone_number=e164).first() if e164 else None
    details = _audit_username(username)
    record(
        Action.ADMIN_LOGIN_FAILED,
        outcome=Outcome.FAILURE,
        target=target,
        request=request,
        data={**details, "reason": reason},
    )
    if getattr(request, "axes_locked_out", False) and not was_locked:
        record(
            Action.ADMIN_LOCKED_OUT,
            outcome=Outcome.FAILURE,
            target=target,
            request=request,
            data={
                **details,
                "failures": getattr(request, "axes_failures_since_start", None),
                "cooloff_minutes": settings.DOCUID_ADMIN_LOCKOUT_MINUTES,
            },
        )


def admin_login_verify(*, request: HttpRequest, username: str, password: str, otp_token: str) -> User | None:
    """Return the staff user if the password and the code both match, else None; audit either way.

    Trap: the reason a login failed goes to the audit trail only. The caller must show
    one answer for all of them, or the password becomes guessable on its own.
    """
    was_locked = not AxesProxyHandler.is_allowed(request, {"username": username})
    if _e164_or_none(username) is None:
        # Not a phone number, so no account: the user lookup would raise on it. Same answer, same count.
        _failed(request=request, username=username, reason="no_account", user=None, was_locked=was_locked)
        return None
    # Axes' backend refuses a locked-out number before the password is checked, and
    # authenticate() reports every refusal to axes (user_login_failed).
    user = authenticate(request, username=username, password=password)
    if user is None:
        reason = "locked_out" if was_locked else "password"
        _failed(request=request, username=username, reason=reason, user=None, was_locked=was_locked)
        return None
    if not (user.is_active and user.is_staff):
        _failed(request=request, username=username, reason="not_staff", user=user, was_locked=was_locked)
        return None
    device = _token_device(user=user, token=otp_token.replace(" ", ""))
    if device is None:
        _failed(request=request, username=username, reason="otp_token", user=user, was_locked=was_locked)
        return None
    user.otp_device = device  # django-otp's user_logged_in receiver marks the session verified
    record(
        Action.ADMIN_LOGIN_SUCCEEDED,
        actor=user,
        target=user,
        request=request,
        data={"device": type(device).__name__},
    )
    return user


# --- The form -------------------------------------------------------------------------------


class OneTimeCodeInput(forms.TextInput):
    """A code is never written back into the page."""

    def format_value(self, value):
        return None


class AdminLoginForm(AdminAuthenticationForm):
    otp_token = forms.CharField(
        label="Authenticator code",
        max_length=64,
        strip=True,
        widget=OneTimeCodeInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false"}),
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
    )

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": GENERIC_ERROR,
        "inactive": GENERIC_ERROR,
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        otp_token = self.cleaned_data.get("otp_token")
        if not (username and password and otp_token):
            return self.cleaned_data  # the empty field's own "required" error is shown; nothing was checked
        self.user_cache = admin_login_verify(
            request=self.request, username=username, password=password, otp_token=otp_token
        )
        if self.user_cache is None:
            raise ValidationError(GENERIC_ERROR, code="invalid_login")
        return self.cleaned_data
