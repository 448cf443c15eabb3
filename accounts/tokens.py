"""One-time secrets (claim secrets, approval and enrollment tokens): made here, stored only as hashes."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretGenerator:
    """Random URL-safe secrets; the database keeps only their SHA-256, compared in constant time.

    A 256-bit random secret needs no salt or slow hash: nobody can guess it from its digest.
    """

    nbytes: int = 32

    def make(self) -> tuple[str, str]:
        """Return (secret, hash): hand the secret out once, store the hash."""
        secret = secrets.token_urlsafe(self.nbytes)
        return secret, self.hash(secret)

    @staticmethod
    def hash(secret: str) -> str:
        return hashlib.sha256((secret or "").encode()).hexdigest()

    def matches(self, secret: str | None, stored_hash: str) -> bool:
        if not secret or not stored_hash:
            return False
        return hmac.compare_digest(self.hash(secret), stored_hash)


default_secret_generator = SecretGenerator()
