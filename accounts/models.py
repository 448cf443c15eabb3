import contextlib

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
        with contextlib.suppress(ValidationError):
            phone_number = normalize_phone(phone_number)
        return self.get(phone_number=phone_number)


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
