"""Errors the backup commands turn into one clear line (CommandError), never a traceback."""


class OperationsError(Exception):
    """Base: the message is for the operator, complete and actionable."""


class BackupError(OperationsError):
    pass


class VerifyError(OperationsError):
    pass


class RestoreError(OperationsError):
    pass


class RestoreRefused(RestoreError):
    """The backup is incompatible (newer schema, other version, other engine); nothing was changed."""
