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


class NotSendable(DocumentError):
    """A file that may not leave as asked, with the page's status and title (documents.middleware, api.errors)."""

    status = 422
    title = "Cannot be sent"
    retry_after = 0  # seconds, when trying again later may work


class OriginalWithheld(NotSendable):
    """A confidential or restricted Office original goes out as its stamped PDF, which is not there (yet)."""

    code = "RENDITION_NOT_READY"
    status = 409
    title = "Not available as a download yet"

    def __init__(self, *, pending: bool):
        if pending:
            message = (
                "This document is confidential: it is downloaded as a PDF stamped with your name, "
                "and that PDF is still being made. Try again in a minute."
            )
        else:
            message = (
                "This document is confidential: it is downloaded as a PDF stamped with your name, and no PDF "
                "could be made of it. Its owner can allow downloading the original; ask them."
            )
        super().__init__(message)
        self.retry_after = 30 if pending else 0
