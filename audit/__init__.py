"""The append-only audit trail. `record()` is the one way to write to it."""


def record(*args, **kwargs):
    """audit.services.audit_record, imported on first use so this package loads before the app registry."""
    from audit.services import audit_record

    return audit_record(*args, **kwargs)
