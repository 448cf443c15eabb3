"""Forms: they parse and validate input for the views; the services do the work."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from accounts.phone import normalize_phone
from documents.models import SHARE_MAX_DAYS, Family, Permission, SecurityLevel, ShareAccess
from documents.selectors import MAX_PAGE_SIZE, SORTS, DocumentFilters
from documents.services.sharing import SHARE_PASSWORD_MIN


class DocumentFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    family = forms.ChoiceField(required=False, choices=[("", "Any type"), *Family.choices], label="Type")
    category = forms.CharField(required=False, max_length=100)
    tag = forms.CharField(required=False, max_length=50)
    level = forms.ChoiceField(
        required=False, choices=[("", "Any level"), *SecurityLevel.choices], label="Security level"
    )
    modified_from = forms.DateField(
        required=False, label="Modified from", widget=forms.DateInput(attrs={"type": "date"})
    )
    modified_to = forms.DateField(required=False, label="Modified to", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Best match / newest"),
            ("-modified", "Newest first"),
            ("modified", "Oldest first"),
            ("title", "Title A to Z"),
            ("-title", "Title Z to A"),
            ("-size", "Largest first"),
            ("size", "Smallest first"),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
    per_page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)

    # Paging comes from links, not from the person: a bad value falls back to its default quietly.
    QUIET_FIELDS = ("page", "per_page")

    def clean(self):
        data = super().clean()
        start, end = data.get("modified_from"), data.get("modified_to")
        if start and end and start > end:
            # Both ends are dropped: half a reversed range would filter by something nobody asked for.
            del data["modified_from"]
            self.add_error("modified_to", "“Modified to” must be on or after “Modified from”.")
        return data

    def visible_errors(self) -> list[tuple[str, str, str]]:
        """(field id, label, message) for every error the person can fix, in the form's order."""
        return [
            (self[name].auto_id, self[name].label, message)
            for name in self.fields
            if name not in self.QUIET_FIELDS
            for message in self.errors.get(name, ())
        ]

    def filters(self) -> DocumentFilters:
        """The filters from the fields that are valid; an invalid field filters nothing (its error is shown)."""
        data = self.cleaned_data
        return DocumentFilters(
            query=data.get("q", "").strip(),
            family=data.get("family", ""),
            category=data.get("category", "").strip(),
            tag=data.get("tag", "").strip(),
            security_level=data.get("level", ""),
            modified_from=data.get("modified_from"),
            modified_to=data.get("modified_to"),
            sort=data.get("sort", "") if data.get("sort", "") in SORTS else "",
        )


class UploadMetadataForm(forms.Form):
    title = forms.CharField(required=False, max_length=255, help_text="Only for a single file; default: its name.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)
    category = forms.CharField(required=False, max_length=100)
    tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated.")
    security_level = forms.ChoiceField(choices=SecurityLevel.choices, initial=SecurityLevel.INTERNAL)

    def tag_list(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]


class VersionForm(forms.Form):
    file = forms.FileField()
    note = forms.CharField(required=False, max_length=255)


def _default_expiry():
    return (timezone.now() + timedelta(days=7)).date()


class ShareForm(forms.Form):
    access = forms.ChoiceField(choices=ShareAccess.choices, initial=ShareAccess.VIEW)
    expires_on = forms.DateField(
        initial=_default_expiry,
        label="Expires on",
        help_text=f"At most {SHARE_MAX_DAYS} days from today.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Optional; at least 8 characters. Tell it to the recipient another way.",
    )
    max_views = forms.IntegerField(required=False, min_value=1, max_value=10_000, label="Maximum views")
    recipient_email = forms.EmailField(required=False, label="Recipient email (optional)")
    recipient_phone = forms.CharField(required=False, max_length=32, label="Recipient phone")
    require_login = forms.BooleanField(
        required=False, label="Recipient must sign in with their phone", help_text="Needs the recipient's phone."
    )

    # The service checks these rules again; checking them here too lists every error in one answer.
    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        today = timezone.localdate()
        if day < today:
            raise forms.ValidationError("Choose today or a later day.")
        # The link ends at the end of the chosen day, which must fall within SHARE_MAX_DAYS of now.
        last = today + timedelta(days=SHARE_MAX_DAYS - 1)
        if day > last:
            raise forms.ValidationError(
                f"A link can last at most {SHARE_MAX_DAYS} days: choose {last:%-d %b %Y} or earlier."
            )
        return day

    def clean_password(self) -> str:
        value = self.cleaned_data.get("password", "")
        if value and len(value) < SHARE_PASSWORD_MIN:
            raise forms.ValidationError(f"Use at least {SHARE_PASSWORD_MIN} characters, or leave it empty.")
        return value

    def clean_recipient_phone(self) -> str:
        value = self.cleaned_data.get("recipient_phone", "").strip()
        if not value:
            return ""
        return normalize_phone(value)

    def clean(self):
        data = super().clean()
        if data.get("require_login") and not data.get("recipient_phone") and "recipient_phone" not in self.errors:
            self.add_error("recipient_phone", "Enter the phone number of the person who must sign in.")
        return data


class ShareUpdateForm(forms.Form):
    expires_on = forms.DateField(label="New expiry date", widget=forms.DateInput(attrs={"type": "date"}))


class GrantForm(forms.Form):
    recipient = forms.CharField(max_length=254, label="Phone number or email of a DocuID user")
    permission = forms.ChoiceField(choices=Permission.choices, initial=Permission.VIEW)
    expires_on = forms.DateField(
        required=False, label="Until (optional)", widget=forms.DateInput(attrs={"type": "date"})
    )


class GranteeGrantForm(GrantForm):
    """The grant form as a grantee sees it: only the owner lets others share."""

    permission = forms.ChoiceField(
        choices=[c for c in Permission.choices if c[0] != Permission.SHARE], initial=Permission.VIEW
    )
    expires_on = forms.DateField(
        required=False,
        label="Until (optional)",
        help_text="Access you give ends when yours does, and when yours is removed.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )


class SharePasswordForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}), max_length=200)
