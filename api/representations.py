"""How documents and people look in API responses (the shapes of api.serializers)."""

from django.urls import reverse

from accounts.phone import country_calling_code
from documents.filetypes import TYPES_BY_MIME
from documents.selectors import DocumentPermissions


def size_formatted(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def type_key(document) -> str:
    file_type = TYPES_BY_MIME.get(document.mime_type)
    return file_type.key if file_type else document.family


def compat_document(document, *, prefix: str = "/api") -> dict:
    return {
        "documentId": document.pk,
        "fileName": document.file_name,
        "filePath": f"{prefix}/documents/{document.pk}/download",
        "fileType": document.mime_type,
        "fileSize": document.size,
        "description": document.description or None,
        "folderId": None,
        "isPasswordProtected": False,
        "createdAt": document.created_at.isoformat(),
        "updatedAt": document.updated_at.isoformat(),
    }


def v1_document(document, permissions: DocumentPermissions) -> dict:
    return {
        "id": document.pk,
        "title": document.title,
        "type": type_key(document),
        "mimeType": document.mime_type,
        "size": document.size,
        "sizeFormatted": size_formatted(document.size),
        "dateCreated": document.created_at.isoformat(),
        "dateModified": document.updated_at.isoformat(),
        "permissions": {
            "view": permissions.view,
            "download": permissions.download,
            "share": permissions.share,
            "manage": permissions.manage,
        },
        "metadata": {
            "author": document.owner.name,
            "category": document.category,
            "tags": [tag.name for tag in document.tags.all()],
        },
    }


def v1_document_detail(document, permissions: DocumentPermissions, versions) -> dict:
    body = v1_document(document, permissions)
    body["metadata"] |= {"description": document.description, "pageCount": document.page_count}
    body["versions"] = [
        {
            "number": version.number,
            "size": version.size,
            "dateCreated": version.created_at.isoformat(),
            "note": version.note,
            "current": version.pk == document.current_version_id,
        }
        for version in versions
    ]
    return body


def user_details(user) -> dict:
    return {
        "id": user.pk,
        "name": user.name,
        "email": user.email,
        "mobile": user.phone_number,
        "country_code": country_calling_code(user.phone_number),
        "address": user.address,
    }


def v1_user(user) -> dict:
    permissions = ["documents:read", "documents:download", "documents:share"]
    return {
        "id": user.pk,
        "name": user.name,
        "email": user.email,
        "phoneNumber": user.phone_number,
        "permissions": permissions,
    }


def download_path(document_id: int, *, prefix: str = "/api") -> str:
    return f"{prefix}/documents/{document_id}/download"


def site_path(name: str, *args) -> str:
    return reverse(name, args=args)
