"""Every kind of audit event, grouped by domain. Add new kinds here, never inline strings."""

from django.db import models


class Action(models.TextChoices):
    # auth.* — the biometric login and sessions
    AUTH_REQUEST = "auth.request", "Login requested"
    AUTH_APPROVED = "auth.approved", "Login approved on the phone"
    AUTH_DENIED = "auth.denied", "Login denied on the phone"
    AUTH_EXPIRED = "auth.expired", "Login request expired"
    AUTH_FAILED = "auth.failed", "Login approval failed (wrong match code, failed assertion, provider error)"
    AUTH_FRAUD_REPORTED = "auth.fraud_reported", "Login reported as fraud (this wasn't me)"
    AUTH_LOGIN = "auth.login", "Signed in"
    AUTH_LOGOUT = "auth.logout", "Signed out"
    AUTH_RATE_LIMITED = "auth.rate_limited", "Login refused by a rate limit"
    AUTH_TOKEN_REVOKED = "auth.token_revoked", "API token revoked"
    AUTH_SESSIONS_REVOKED = "auth.sessions_revoked", "All sessions revoked"
    # device.* — passkeys and OTP devices
    DEVICE_ENROLLED = "device.enrolled", "Device enrolled"
    DEVICE_REMOVED = "device.removed", "Device removed"
    DEVICE_ENROLLMENT_SENT = "device.enrollment_sent", "Enrollment link sent"
    # user.* — people, managed by support staff
    USER_CREATED = "user.created", "User created"
    USER_UPDATED = "user.updated", "User updated"
    USER_DEACTIVATED = "user.deactivated", "User deactivated"
    USER_UNLOCKED = "user.unlocked", "User unlocked"
    USER_PASSWORD_CHANGED = "user.password_changed", "Staff password changed"
    USER_PHONE_CHANGED = "user.phone_changed", "Phone number changed: passkeys and sessions revoked"
    # document.* — documents and their content
    DOCUMENT_UPLOAD = "document.upload", "Document uploaded"
    DOCUMENT_VERSION = "document.version", "New document version"
    DOCUMENT_VIEW = "document.view", "Document details viewed"
    DOCUMENT_OPEN = "document.open", "Document opened"
    DOCUMENT_DOWNLOAD = "document.download", "Document downloaded"
    DOCUMENT_UPDATE = "document.update", "Document metadata changed"
    DOCUMENT_DELETE = "document.delete", "Document deleted"
    GRANT_ADD = "grant.add", "Access granted"
    GRANT_REMOVE = "grant.remove", "Access removed"
    # share.* — share links
    SHARE_CREATE = "share.create", "Share created"
    SHARE_UPDATE = "share.update", "Share changed"
    SHARE_REVOKE = "share.revoke", "Share revoked"
    SHARE_ACCESS = "share.access", "Share link used"
    # admin.* — support staff actions in the admin
    ADMIN_CHANGE = "admin.change", "Changed in the admin"
    ADMIN_CONTENT_ACCESS = "admin.content_access", "Staff accessed document content"
    ADMIN_LOGIN_SUCCEEDED = "admin.login_succeeded", "Staff signed in to the admin (password and authenticator code)"
    ADMIN_LOGIN_FAILED = "admin.login_failed", "Admin sign-in refused"
    ADMIN_LOCKED_OUT = "admin.locked_out", "Admin sign-in locked after repeated failures"
    # ops.* — operations
    OPS_BACKUP = "ops.backup", "Backup completed"
    OPS_BACKUP_FAILED = "ops.backup_failed", "Backup failed"
    OPS_BACKUP_VERIFIED = "ops.backup_verified", "Backup verified"
    OPS_BACKUP_PINNED = "ops.backup_pinned", "Backup pinned or unpinned"
    OPS_BACKUP_REPLICATED = "ops.backup_replicated", "Backup copied to a replica later"
    OPS_RESTORE = "ops.restore", "Restore performed"
    OPS_RECOVERY_DRILL = "ops.recovery_drill", "Recovery drill run"
    OPS_INCIDENT = "ops.incident", "Incident changed"
    OPS_AUDIT_EXPORT = "ops.audit_export", "Audit trail exported"

    @property
    def domain(self) -> str:
        return self.value.split(".", 1)[0]


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    ERROR = "error", "Error"
