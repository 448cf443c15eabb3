"""Input serializers (strict: unknown fields are refused) and the response shapes the schema documents."""

from rest_framework import serializers

from documents.filetypes import TYPES
from documents.models import Family

TYPE_CHOICES = sorted({*TYPES, *Family.values})


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans instead of quietly turning them into text."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know: a typo must not silently change what a call does."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown[:20]})
        return super().to_internal_value(data)


# --- A. the add-in's compatibility surface ------------------------------------------------


class MobileIn(StrictSerializer):
    mobile = StrictCharField(max_length=32, help_text="The phone number, E.164 preferred: +12025550123.")
    requestFrom = StrictCharField(max_length=100, required=False, help_text="The calling app, e.g. DocuID.")


class MobileResultIn(StrictSerializer):
    mobile = StrictCharField(max_length=32)


class RecipientsIn(StrictSerializer):
    email = serializers.EmailField(required=False, allow_blank=True)
    mobile = StrictCharField(max_length=32, required=False, allow_blank=True)
    countryCallingCode = StrictCharField(max_length=6, required=False, allow_blank=True)


class ShareIn(StrictSerializer):
    documentId = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    recipientType = serializers.ChoiceField(choices=["individual"], default="individual")
    recipients = RecipientsIn()
    accessLevel = serializers.ChoiceField(choices=["view", "download"], default="view")
    requiresPassword = serializers.BooleanField(default=False)
    password = StrictCharField(required=False, min_length=8, max_length=128, write_only=True)
    customMessage = StrictCharField(required=False, allow_blank=True, max_length=1000)
    allowDownload = serializers.BooleanField(default=False)
    allowPrint = serializers.BooleanField(default=False)


class CompatErrorDetail(serializers.Serializer):
    detail = StrictCharField()
    code = StrictCharField()


class CompatError(serializers.Serializer):
    success = serializers.BooleanField()
    error = CompatErrorDetail()


class CompatSimpleError(serializers.Serializer):
    error = StrictCharField()


class AuthRequestData(serializers.Serializer):
    status = serializers.BooleanField()


class AuthRequestOut(serializers.Serializer):
    success = serializers.BooleanField()
    message = StrictCharField()
    data = AuthRequestData()


class UserDetails(serializers.Serializer):
    id = serializers.IntegerField()
    name = StrictCharField()
    email = StrictCharField()
    mobile = StrictCharField()
    country_code = StrictCharField()
    address = StrictCharField()


class AuthResultData(serializers.Serializer):
    details = UserDetails()


class AuthResultOut(serializers.Serializer):
    success = serializers.BooleanField()
    message = StrictCharField()
    token = StrictCharField()
    expiresIn = serializers.IntegerField()
    data = AuthResultData()


class MeOut(serializers.Serializer):
    userId = serializers.IntegerField()
    name = StrictCharField()
    email = StrictCharField()
    accountType = StrictCharField()
    status = StrictCharField()


class MessageOut(serializers.Serializer):
    success = serializers.BooleanField()
    message = StrictCharField()


class CompatDoc(serializers.Serializer):
    documentId = serializers.IntegerField()
    fileName = StrictCharField()
    filePath = StrictCharField()
    fileType = StrictCharField()
    fileSize = serializers.IntegerField()
    description = StrictCharField(allow_null=True)
    folderId = serializers.IntegerField(allow_null=True)
    isPasswordProtected = serializers.BooleanField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()


class CompatFiles(serializers.Serializer):
    files = CompatDoc(many=True)


class CompatFilesOut(serializers.Serializer):
    success = serializers.BooleanField()
    message = StrictCharField()
    data = CompatFiles()


class CompatDocData(serializers.Serializer):
    document = CompatDoc()


class CompatDocOut(serializers.Serializer):
    success = serializers.BooleanField()
    data = CompatDocData()


class AccessLink(serializers.Serializer):
    url = StrictCharField()
    previewUrl = StrictCharField()
    expiresIn = serializers.IntegerField()
    method = StrictCharField()
    headers = serializers.DictField(child=StrictCharField())


class CompatAccessDoc(CompatDoc):
    isEncrypted = serializers.BooleanField()
    status = StrictCharField()
    access = AccessLink()


class CompatAccessData(serializers.Serializer):
    document = CompatAccessDoc()


class CompatAccessOut(serializers.Serializer):
    success = serializers.BooleanField()
    data = CompatAccessData()


class ContentData(serializers.Serializer):
    documentId = serializers.IntegerField()
    fileName = StrictCharField()
    fileType = StrictCharField()
    fileSize = serializers.IntegerField()
    format = serializers.ChoiceField(choices=["office", "text", "html"])
    encoding = serializers.ChoiceField(choices=["base64", "utf-8"])
    content = StrictCharField()


class ContentOut(serializers.Serializer):
    success = serializers.BooleanField()
    data = ContentData()


class ShareData(serializers.Serializer):
    shareId = serializers.IntegerField()
    shareLink = StrictCharField()
    message = StrictCharField()
    expiresAt = serializers.DateTimeField()
    password = StrictCharField(required=False, help_text="Only when a password was generated for you.")


class ShareOut(serializers.Serializer):
    success = serializers.BooleanField()
    message = StrictCharField()
    data = ShareData()


# --- B. the versioned API ----------------------------------------------------------------


class V1Error(serializers.Serializer):
    success = serializers.BooleanField()
    error = serializers.ChoiceField(
        choices=[
            "INVALID_PHONE_NUMBER",
            "USER_NOT_FOUND",
            "VERIFICATION_FAILED",
            "VERIFICATION_EXPIRED",
            "INVALID_TOKEN",
            "INSUFFICIENT_PERMISSIONS",
            "DOCUMENT_NOT_FOUND",
            "DOCUMENT_ACCESS_DENIED",
            "DOCUMENT_TOO_LARGE",
            "UNSUPPORTED_FORMAT",
            "RATE_LIMIT_EXCEEDED",
            "VALIDATION_ERROR",
            "INTERNAL_SERVER_ERROR",
            "SERVICE_UNAVAILABLE",
        ]
    )
    message = StrictCharField()
    details = serializers.DictField()
    timestamp = serializers.DateTimeField()
    requestId = StrictCharField()


class DeviceInfoIn(StrictSerializer):
    name = StrictCharField(max_length=100, required=False, allow_blank=True)
    platform = StrictCharField(max_length=100, required=False, allow_blank=True)
    userAgent = StrictCharField(max_length=512, required=False, allow_blank=True)


class LoginIn(StrictSerializer):
    phoneNumber = StrictCharField(max_length=32)
    deviceInfo = DeviceInfoIn(required=False)


class LoginOut(serializers.Serializer):
    success = serializers.BooleanField()
    sessionId = serializers.UUIDField()
    claimSecret = StrictCharField(help_text="Send it as X-Claim-Secret when polling verify.")
    expiresIn = serializers.IntegerField()
    matchCode = StrictCharField()


class V1User(serializers.Serializer):
    id = serializers.IntegerField()
    name = StrictCharField()
    email = StrictCharField()
    phoneNumber = StrictCharField()
    permissions = serializers.ListField(child=StrictCharField())


class VerifyOut(serializers.Serializer):
    success = serializers.BooleanField()
    status = serializers.ChoiceField(choices=["pending", "verified", "failed", "expired"])
    message = StrictCharField(required=False)
    accessToken = StrictCharField(required=False)
    refreshToken = StrictCharField(required=False)
    tokenType = StrictCharField(required=False)
    expiresIn = serializers.IntegerField(required=False)
    refreshExpiresIn = serializers.IntegerField(required=False)
    user = V1User(required=False)


class RefreshIn(StrictSerializer):
    refreshToken = StrictCharField(max_length=200)


class RefreshOut(serializers.Serializer):
    success = serializers.BooleanField()
    accessToken = StrictCharField()
    refreshToken = StrictCharField()
    tokenType = StrictCharField()
    expiresIn = serializers.IntegerField()
    refreshExpiresIn = serializers.IntegerField()


class DocumentListQuery(StrictSerializer):
    page = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)
    search = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    type = serializers.ChoiceField(choices=TYPE_CHOICES, required=False)
    sortBy = serializers.ChoiceField(choices=["title", "dateModified", "size"], default="dateModified")
    sortOrder = serializers.ChoiceField(choices=["asc", "desc"], default="desc")


class DateRangeIn(StrictSerializer):
    # "from" is a Python keyword: the field is declared below under its JSON name.
    to = serializers.DateField(required=False, allow_null=True)


DateRangeIn._declared_fields["from"] = serializers.DateField(required=False, allow_null=True)


class SearchFiltersIn(StrictSerializer):
    type = serializers.ListField(child=serializers.ChoiceField(choices=TYPE_CHOICES), required=False, max_length=20)
    dateRange = DateRangeIn(required=False)
    author = StrictCharField(max_length=150, required=False, allow_blank=True)
    category = StrictCharField(max_length=100, required=False, allow_blank=True)
    tags = serializers.ListField(child=StrictCharField(max_length=50), required=False, max_length=20)


class SearchIn(StrictSerializer):
    query = StrictCharField(max_length=200, allow_blank=True, default="")
    filters = SearchFiltersIn(required=False)
    sortBy = serializers.ChoiceField(choices=["relevance", "title", "dateModified", "size"], default="relevance")
    sortOrder = serializers.ChoiceField(choices=["asc", "desc"], default="desc")
    page = serializers.IntegerField(min_value=1, max_value=100_000, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class ContentQuery(StrictSerializer):
    # pdf: the PDF itself (the original, or an Office file's rendition), streamed, not JSON (api.views.renditions).
    format = serializers.ChoiceField(choices=["office", "text", "html", "pdf"], default="office")


class V1Permissions(serializers.Serializer):
    view = serializers.BooleanField()
    download = serializers.BooleanField()
    share = serializers.BooleanField()
    manage = serializers.BooleanField()


class V1Metadata(serializers.Serializer):
    author = StrictCharField()
    category = StrictCharField()
    tags = serializers.ListField(child=StrictCharField())


class V1Document(serializers.Serializer):
    id = serializers.IntegerField()
    title = StrictCharField()
    type = StrictCharField()
    mimeType = StrictCharField()
    size = serializers.IntegerField()
    sizeFormatted = StrictCharField()
    dateCreated = serializers.DateTimeField()
    dateModified = serializers.DateTimeField()
    permissions = V1Permissions()
    metadata = V1Metadata()


class V1DetailMetadata(V1Metadata):
    description = StrictCharField()
    pageCount = serializers.IntegerField(allow_null=True)


class V1Version(serializers.Serializer):
    number = serializers.IntegerField()
    size = serializers.IntegerField()
    dateCreated = serializers.DateTimeField()
    note = StrictCharField()
    current = serializers.BooleanField()


class V1DocumentDetail(V1Document):
    metadata = V1DetailMetadata()
    versions = V1Version(many=True)


class Pagination(serializers.Serializer):
    page = serializers.IntegerField()
    limit = serializers.IntegerField()
    total = serializers.IntegerField(
        help_text="Matches the caller may see: exact up to 1,000 past this page's start, else that lower bound."
    )
    totalExact = serializers.BooleanField(help_text="False when total is the lower bound (more matches exist).")
    totalPages = serializers.IntegerField(help_text="From total: a lower bound too when totalExact is false.")
    hasNext = serializers.BooleanField()
    hasPrevious = serializers.BooleanField()


class V1Highlight(serializers.Serializer):
    field = serializers.ChoiceField(choices=["content", "description"])
    snippet = StrictCharField(help_text="Escaped HTML: the matching passage, matched words in <mark>…</mark>.")


class V1ListDocument(V1Document):
    highlights = V1Highlight(many=True, help_text="With a search: the matching passage; otherwise empty.")


class V1ListData(serializers.Serializer):
    documents = V1ListDocument(many=True)
    pagination = Pagination()


class V1ListOut(serializers.Serializer):
    success = serializers.BooleanField()
    data = V1ListData()


class SearchMetadata(serializers.Serializer):
    query = StrictCharField()
    totalResults = serializers.IntegerField(
        help_text="Documents matching that the caller may see (as pagination.total: exact up to 1,000 past the page)."
    )
    totalMatches = serializers.IntegerField(help_text="The same as totalResults (kept for older clients).")
    sortBy = serializers.ChoiceField(choices=["relevance", "title", "dateModified", "size"])
    took = serializers.FloatField(help_text="Milliseconds.")
    searchTime = serializers.FloatField(help_text="The same as took (kept for older clients).")
    didYouMean = StrictCharField(
        allow_null=True, help_text="When nothing matched: the query respelt from words of documents the caller may see."
    )


class V1SearchData(V1ListData):
    searchMetadata = SearchMetadata()


class V1SearchOut(serializers.Serializer):
    success = serializers.BooleanField()
    data = V1SearchData()


class V1DetailData(serializers.Serializer):
    document = V1DocumentDetail()


class V1DetailOut(serializers.Serializer):
    success = serializers.BooleanField()
    data = V1DetailData()
