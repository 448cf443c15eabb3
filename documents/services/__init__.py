"""Writes about documents; views, the admin, the API and commands call these and nothing lower."""

from documents.services.access import document_access_record
from documents.services.originals import document_original_download_set
from documents.services.sharing import (
    grant_add,
    grant_remove,
    grant_terms,
    share_access_record,
    share_create,
    share_password_matches,
    share_revoke,
    share_update,
)
from documents.services.uploads import document_delete, document_upload, document_version_add, max_upload_bytes

__all__ = [
    "document_access_record",
    "document_delete",
    "document_original_download_set",
    "document_upload",
    "document_version_add",
    "grant_add",
    "grant_remove",
    "grant_terms",
    "max_upload_bytes",
    "share_access_record",
    "share_create",
    "share_password_matches",
    "share_revoke",
    "share_update",
]
