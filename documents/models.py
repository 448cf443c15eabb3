"""Documents, their versions, who may use them (grants) and share links.

Access is never decided here: documents.selectors is the one place that does.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Family(models.TextChoices):
    PDF = "pdf", "PDF"
    WORD = "word", "Word"
    EXCEL = "excel", "Excel"
    POWERPOINT = "powerpoint", "PowerPoint"
    TEXT = "text", "Text"
    IMAGE = "image", "Image"


class SecurityLevel(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class Permission(models.TextChoices):
    """What a grant allows; each level includes the ones before it."""

    VIEW = "view", "View"
    DOWNLOAD = "download", "View and download"
    SHARE = "share", "View, download and share"


PERMISSION_RANK = {Permission.VIEW: 1, Permission.DOWNLOAD: 2, Permission.SHARE: 3}


class ShareAccess(models.TextChoices):
    VIEW = "view", "View in the browser"
    DOWNLOAD = "download", "View and download"


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True, help_text="Lower-case label, e.g. 'invoices'.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Document(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="documents",
        help_text="Who owns the document: sees it, shares it, deletes it.",
    )
    title = models.CharField(max_length=255, help_text="Shown in lists and search results.")
    description = models.TextField(blank=True, help_text="Optional; searched.")
    category = models.CharField(max_length=100, blank=True, help_text="Optional, e.g. 'Contracts'; filterable.")
    tags = models.ManyToManyField(Tag, blank=True, related_name="documents", help_text="Labels; filterable.")
    family = models.CharField(
        max_length=20, choices=Family.choices, editable=False, help_text="Derived from the sniffed type."
    )
    mime_type = models.CharField(
        max_length=100, editable=False, help_text="Sniffed from the bytes at upload; never the client's claim."
    )
    size = models.BigIntegerField(default=0, editable=False, help_text="Bytes of the current version.")
    sha256 = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the current version.")
    page_count = models.PositiveIntegerField(null=True, blank=True, editable=False, help_text="PDFs only.")
    security_level = models.CharField(
        max_length=20,
        choices=SecurityLevel.choices,
        default=SecurityLevel.INTERNAL,
        help_text="Restricted documents cannot be shared by link.",
    )
    allow_original_download = models.BooleanField(
        default=False,
        help_text="Confidential and restricted Office documents only: downloads get the original file. "
        "Off (the default): they get its PDF, stamped with who downloads it.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, help_text="Last change to content or metadata.")
    current_version = models.ForeignKey(
        "DocumentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The version opened and downloaded by default.",
    )
    # Maintained by documents.search on PostgreSQL (GIN-indexed in migration 0002); unused on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)
    # The same fields with only the first passage of the text: small, so ranking a match
    # never reads the whole file's vector (documents.search; PostgreSQL only).
    search_rank = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["-updated_at", "-id"]
        permissions = [
            ("download_document_content", "Can download document content from the admin (audited)"),
        ]
        indexes = [
            # documents_visible_to(): "my documents", newest first.
            models.Index(fields=["owner", "-updated_at"], name="doc_owner_updated_idx"),
            # list sorting
            models.Index(fields=["-updated_at", "-id"], name="doc_updated_idx"),
            models.Index(fields=["title"], name="doc_title_idx"),
            models.Index(fields=["size"], name="doc_size_idx"),
            # duplicate detection on upload
            models.Index(fields=["owner", "sha256"], name="doc_owner_sha_idx"),
            models.Index(fields=["family"], name="doc_family_idx"),
            models.Index(fields=["category"], name="doc_category_idx"),
            # documents_list(): picks a page among the visible ids with index-only scans (looked
            # up by id; the other columns are every sort and filter column). Key columns rather
            # than INCLUDE, which SQLite does not support.
            models.Index(
                fields=["id", "updated_at", "title", "size", "family", "category", "security_level"],
                name="doc_list_cover_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def file_name(self) -> str:
        return self.current_version.original_name if self.current_version_id else self.title


class DocumentVersion(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(help_text="1 for the first upload, then 2, 3, …")
    file = models.FileField(max_length=255, help_text="Storage key (random; never the uploaded name).")
    original_name = models.CharField(max_length=255, help_text="Sanitised uploaded file name, used on download.")
    mime_type = models.CharField(max_length=100, help_text="Sniffed from the bytes.")
    size = models.BigIntegerField(help_text="Bytes.")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the bytes.")
    page_count = models.PositiveIntegerField(null=True, blank=True, help_text="PDFs only.")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who uploaded this version.",
    )
    note = models.CharField(max_length=255, blank=True, help_text="What changed in this version.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["document", "number"], name="docversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.document} v{self.number}"


class ExtractionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class VersionText(models.Model):
    """The text extracted from one version's file (documents.extraction), searched by documents.search."""

    version = models.OneToOneField(
        DocumentVersion,
        on_delete=models.CASCADE,
        related_name="text",
        help_text="The version this text was extracted from.",
    )
    status = models.CharField(
        max_length=10,
        choices=ExtractionStatus.choices,
        default=ExtractionStatus.PENDING,
        help_text="pending: queued; done: text stored; failed: see the error; skipped: format not extracted.",
    )
    # Bounded by the extractor to DOCUID_EXTRACT_MAX_CHARS (default 2,000,000), not by the database.
    content = models.TextField(blank=True, help_text="The extracted text, cut at DOCUID_EXTRACT_MAX_CHARS characters.")
    extractor = models.CharField(
        max_length=30, blank=True, help_text="What extracted it, e.g. 'pdf-text', 'pdf-ocr', 'ooxml-docx', 'image-ocr'."
    )
    error = models.CharField(
        max_length=255, blank=True, help_text="Why extraction failed or was skipped (shown to the owner)."
    )
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="How long the last attempt took.")
    attempts = models.PositiveIntegerField(default=0, help_text="How many times extraction has run.")
    extracted_at = models.DateTimeField(null=True, blank=True, help_text="When the last attempt finished.")

    class Meta:
        verbose_name = "extracted text"
        verbose_name_plural = "extracted texts"
        indexes = [
            # search_reindex --failed and the docuid_extraction_pending gauge.
            models.Index(fields=["status"], name="versiontext_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Text of {self.version} ({self.status})"


class SearchWord(models.Model):
    """A word of some document (fields and the start of its text): the vocabulary of "Did you mean …".

    One row per distinct word, trigram-indexed on PostgreSQL (migration 0007), so a
    misspelling is matched against a few thousand short strings, not every document.
    Words are never suggested from here alone: documents.search.suggestion keeps only
    words that a document the person may see still holds.
    """

    word = models.CharField(max_length=40, unique=True)

    def __str__(self) -> str:
        return self.word


class Grant(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="document_grants",
        help_text="The person granted access (or leave empty and choose a group).",
    )
    group = models.ForeignKey(
        Group,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="document_grants",
        help_text="Everyone in this group is granted access.",
    )
    permission = models.CharField(
        max_length=20, choices=Permission.choices, default=Permission.VIEW, help_text="What the grant allows."
    )
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A grant a grantee made lives on the grant that let them share: it counts only while
    # that grant still holds (documents.selectors) and goes when it is removed.
    via = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="delegated_grants",
        editable=False,
        help_text="The sharer's own grant this one was given under; empty when the owner or staff gave it.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until removed.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, group__isnull=True) | Q(user__isnull=True, group__isnull=False),
                name="grant_user_xor_group",
            ),
            models.UniqueConstraint(fields=["document", "user"], name="grant_unique_user"),
            models.UniqueConstraint(fields=["document", "group"], name="grant_unique_group"),
        ]
        indexes = [
            # documents_visible_to(): the grants of one person / of their groups.
            models.Index(fields=["user", "document"], name="grant_user_doc_idx"),
            models.Index(fields=["group", "document"], name="grant_group_doc_idx"),
        ]

    def __str__(self) -> str:
        who = self.user if self.user_id else f"group {self.group}"
        return f"{who}: {self.get_permission_display()} on {self.document}"

    def clean(self) -> None:
        if bool(self.user_id) == bool(self.group_id):
            raise ValidationError("A grant is for one person or one group.")


SHARE_DEFAULT_DAYS = 7
SHARE_MAX_DAYS = 90


def default_share_expiry():
    return timezone.now() + timedelta(days=SHARE_DEFAULT_DAYS)


class Share(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="shares")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="document_shares")
    recipient_email = models.EmailField(blank=True, help_text="Whom the link is for (informational).")
    recipient_phone = models.CharField(
        max_length=20, blank=True, help_text="E.164; with 'require login', only this person may use the link."
    )
    access = models.CharField(max_length=20, choices=ShareAccess.choices, default=ShareAccess.VIEW)
    token_hash = models.CharField(
        max_length=64, unique=True, editable=False, help_text="SHA-256 of the link token; the token is never stored."
    )
    expires_at = models.DateTimeField(default=default_share_expiry, help_text="At most 90 days after creation.")
    password_hash = models.CharField(max_length=128, blank=True, editable=False)
    require_login = models.BooleanField(
        default=False, help_text="The recipient must sign in (with their phone) to use the link."
    )
    max_views = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: unlimited.")
    view_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_accessed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="share_creator_idx")]

    def __str__(self) -> str:
        return f"Share #{self.pk} of {self.document}"

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)

    def state(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        if self.max_views is not None and self.view_count >= self.max_views:
            return "used_up"
        return "active"

    def clean(self) -> None:
        created = self.created_at or timezone.now()
        if self.expires_at and self.expires_at > created + timedelta(days=SHARE_MAX_DAYS):
            raise ValidationError({"expires_at": f"A share link can last at most {SHARE_MAX_DAYS} days."})
        if self.require_login and not self.recipient_phone:
            raise ValidationError({"recipient_phone": "A link that requires sign-in needs the recipient's phone."})


class RenditionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Rendition(models.Model):
    """What a version looks like: its PDF rendition (Office/OpenDocument, by LibreOffice) and first-page thumbnail.

    Made by documents.renditions in the worker after upload; the files sit in the same storage
    as the version's (random keys, same encryption and backups) and are deleted with it.
    """

    version = models.OneToOneField(
        DocumentVersion, on_delete=models.CASCADE, related_name="rendition", help_text="The version rendered."
    )
    status = models.CharField(
        max_length=10,
        choices=RenditionStatus.choices,
        default=RenditionStatus.PENDING,
        help_text="pending: queued; done: made; failed: see the error; skipped: nothing to render for this type.",
    )
    pdf = models.FileField(
        max_length=255, blank=True, help_text="Storage key of the PDF rendition; empty for PDFs (the original is used)."
    )
    pdf_size = models.BigIntegerField(null=True, blank=True, help_text="Bytes of the PDF rendition.")
    page_count = models.PositiveIntegerField(null=True, blank=True, help_text="Pages of the PDF rendition.")
    thumbnail = models.FileField(max_length=255, blank=True, help_text="Storage key of the first page's thumbnail.")
    thumbnail_width = models.PositiveIntegerField(null=True, blank=True)
    thumbnail_height = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=255, blank=True, help_text="Why the rendition failed (shown to the owner).")
    reason = models.CharField(max_length=20, blank=True, help_text="timeout, cpu, crashed, failed, storage, ...")
    attempts = models.PositiveIntegerField(default=0, help_text="How many times rendering has run.")
    duration_ms = models.PositiveIntegerField(null=True, blank=True, help_text="How long the last attempt took.")
    rendered_at = models.DateTimeField(null=True, blank=True, help_text="When the last attempt finished.")

    class Meta:
        indexes = [
            # renditions_build --failed and the docuid_renditions_pending gauge.
            models.Index(fields=["status"], name="rendition_status_idx"),
        ]

    def __str__(self) -> str:
        return f"Rendition of {self.version} ({self.status})"
