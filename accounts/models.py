import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from accounts.phone import PhoneNumberField, mask_phone, normalize_phone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create(self, phone_number: str, password: str | None, **fields) -> "User":
        user = self.model(phone_number=normalize_phone(phone_number), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save(using=self._db)
        return user

    def create_user(self, phone_number: str, password: str | None = None, **fields) -> "User":
        fields.setdefault("is_staff", False)
        fields.setdefault("is_superuser", False)
        return self._create(phone_number, password, **fields)

    def create_superuser(self, phone_number: str, password: str | None = None, **fields) -> "User":
        fields["is_staff"] = True
        fields["is_superuser"] = True
        return self._create(phone_number, password, **fields)

    def get_by_natural_key(self, phone_number: str) -> "User":
        # An unparsable login name is looked up as typed and simply matches nobody.
        try:
            return self.get(phone_number=normalize_phone(phone_number))
        except ValidationError:
            raise self.model.DoesNotExist from None


class User(AbstractBaseUser, PermissionsMixin):
    """A person. The phone number (E.164) is the identity; end users have no password."""

    phone_number = PhoneNumberField(
        unique=True,
        help_text="E.164 form, e.g. +12025550123. The number whose phone approves logins.",
    )
    name = models.CharField(max_length=150, help_text="Full name, as shown to the person and to staff.")
    email = models.EmailField(blank=True, help_text="Optional; used for notifications and share recipients.")
    address = models.TextField(blank=True, help_text="Optional postal address.")
    is_active = models.BooleanField(
        default=True, help_text="Inactive people cannot sign in; their tokens stop working."
    )
    is_staff = models.BooleanField(
        default=False, help_text="Support staff: may use the admin (after OTP verification)."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "phone_number"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked_phone})"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone_number)

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email)

    def get_full_name(self) -> str:
        return self.name

    def get_short_name(self) -> str:
        return self.name.split(" ")[0] if self.name else ""


class LoginRequest(models.Model):
    """One attempt to sign in by phone number, approved (or not) on the person's registered phone."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DENIED = "denied", "Denied"
        EXPIRED = "expired", "Expired"
        CANCELLED = "cancelled", "Cancelled"
        CONSUMED = "consumed", "Signed in"

    class Channel(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        ADDIN = "addin", "Office add-in"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        User,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="login_requests",
        help_text="Empty when the number belongs to nobody (or nobody enrolled): the request then simply expires.",
    )
    phone_number = PhoneNumberField(help_text="The number typed in, normalised to E.164.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    failure_reason = models.CharField(
        max_length=32, blank=True, help_text="Why a request was cancelled (e.g. wrong_match_code, fraud_reported)."
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    provider = models.CharField(max_length=16, help_text="The biometric provider that handled this request.")
    provider_reference = models.CharField(max_length=128, blank=True, help_text="The provider's id for the request.")
    match_code = models.CharField(max_length=2, help_text="Shown on the login screen; the phone must pick it.")
    match_confirmed_at = models.DateTimeField(null=True, blank=True, help_text="When the phone picked the right code.")
    claim_secret_hash = models.CharField(max_length=64, editable=False)
    approval_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The waiting page's QR code carries this second, weaker secret: whoever started the
    # request sees it, so it may approve (match code + passkey) but never deny with a
    # strike or report fraud, which would let a stranger lock someone else's number.
    qr_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    assertion_challenge = models.CharField(max_length=128, blank=True, editable=False)
    device = models.ForeignKey(
        "django_otp_webauthn.WebAuthnCredential",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The passkey that approved the request.",
    )
    browser = models.CharField(max_length=64, blank=True, help_text="Browser of the device that asked.")
    os = models.CharField(max_length=64, blank=True, help_text="Operating system of the device that asked.")
    ip_masked = models.CharField(
        max_length=64, blank=True, help_text="Network of the device that asked (host part dropped)."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="loginrequest_sweep_idx"),
            models.Index(fields=["phone_number", "created_at"], name="loginrequest_phone_idx"),
        ]

    def __str__(self) -> str:
        return f"Login request {str(self.id)[:8]} for {mask_phone(self.phone_number)} ({self.status})"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone_number)

    def is_expired(self, now=None) -> bool:
        return (now or timezone.now()) >= self.expires_at


class EnrollmentLink(models.Model):
    """A single-use link that lets a person register a passkey on their phone."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="enrollment_links")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Staff who sent it."
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(help_text="The link stops working after this time.")
    used_at = models.DateTimeField(null=True, blank=True, help_text="When a passkey was registered with it.")
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="When a newer link or staff revoked it.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Enrollment link for {self.user} ({self.created_at:%Y-%m-%d %H:%M})"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


class PushSubscription(models.Model):
    """A browser's Web Push endpoint on the person's phone, used to send approval links."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1024, unique=True, help_text="The push service URL of the browser.")
    p256dh = models.CharField(max_length=255)
    auth = models.CharField(max_length=255)
    browser = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Push subscription of {self.user} ({self.browser or 'browser'})"


class FraudReport(models.Model):
    """A person said "this wasn't me" to a login request: the number is blocked for a while and staff look."""

    login_request = models.OneToOneField(LoginRequest, on_delete=models.CASCADE, related_name="fraud_report")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="fraud_reports")
    phone_number = PhoneNumberField(help_text="The number that was targeted.")
    created_at = models.DateTimeField(default=timezone.now)
    blocked_until = models.DateTimeField(help_text="New login requests for the number are refused until then.")
    reviewed = models.BooleanField(default=False, help_text="Staff looked into it.")
    note = models.TextField(blank=True, help_text="Staff notes (no secrets).")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["phone_number", "blocked_until"], name="fraud_block_idx")]

    def __str__(self) -> str:
        return f"Fraud report for {mask_phone(self.phone_number)} ({self.created_at:%Y-%m-%d %H:%M})"


class UserSession(models.Model):
    """A signed-in browser session, listed on the profile page so the person can revoke it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="browser_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    browser = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=64, blank=True)
    ip_masked = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return f"Session of {self.user} ({self.browser} on {self.os})"


# --- API clients and API tokens (issue 5) ------------------------------------------------


class ApiClient(models.Model):
    """An integration allowed to call the API (the Office add-in, a partner's app): identified by its key."""

    name = models.CharField(max_length=100, unique=True, help_text="Who this is, e.g. 'Office add-in'.")
    key_prefix = models.CharField(
        max_length=12, unique=True, editable=False, help_text="The key's first characters, to recognise it."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True, help_text="Inactive clients are refused at once.")
    allowed_origins = models.TextField(
        blank=True,
        help_text="Browser origins (one per line, e.g. https://addin.example.com) allowed to call the API "
        "with credentials (CORS).",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def origins(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]

    def clean(self) -> None:
        from urllib.parse import urlsplit

        for origin in self.origins:
            parts = urlsplit(origin)
            if parts.scheme not in {"http", "https"} or not parts.netloc or parts.path or parts.query:
                raise ValidationError({"allowed_origins": f"{origin!r} is not an origin like https://host[:port]."})


class ApiToken(models.Model):
    """One access token and its refresh token, issued to a person through the API; only hashes are stored.

    Refreshing rotates: the row is marked rotated and a new row joins the same `family`.
    Presenting a rotated refresh token again means it was copied, so the whole family is revoked.
    """

    family = models.UUIDField(default=uuid.uuid4, db_index=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    client = models.ForeignKey(
        ApiClient,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tokens",
        help_text="The API client the token was issued through.",
    )
    access_hash = models.CharField(max_length=64, unique=True, editable=False)
    refresh_hash = models.CharField(max_length=64, unique=True, editable=False)
    access_expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False, help_text="When it was refreshed.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoke_reason = models.CharField(max_length=32, blank=True, editable=False)
    browser = models.CharField(max_length=64, blank=True)
    os = models.CharField(max_length=64, blank=True)
    ip_masked = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="apitoken_user_live_idx")]

    def __str__(self) -> str:
        return f"API token of {self.user} ({self.created_at:%Y-%m-%d %H:%M})"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.rotated_at is None and now < self.access_expires_at
