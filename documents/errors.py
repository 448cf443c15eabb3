"""Errors the document services raise, each with a message for people and a stable code for the API."""


class DocumentError(Exception):
    code = "VALIDATION_ERROR"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UploadTooLarge(DocumentError):
    code = "DOCUMENT_TOO_LARGE"


class UnsupportedFormat(DocumentError):
    code = "UNSUPPORTED_FORMAT"


class DuplicateDocument(DocumentError):
    """The same bytes are already one of the owner's documents (`existing`)."""

    code = "DUPLICATE_DOCUMENT"

    def __init__(self, message: str, *, existing):
        super().__init__(message)
        self.existing = existing


class ShareNotAllowed(DocumentError):
    code = "INSUFFICIENT_PERMISSIONS"


class GrantRefused(ShareNotAllowed):
    """A grant refused for who the recipient is (the owner; someone whose access another person gave).

    Pages a non-owner uses answer it exactly as a grant that went through, so that
    the answer never tells whether an account exists or already has access.
    """
