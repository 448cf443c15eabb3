"""Share-link tokens: random, shown once, stored only as a SHA-256 hash."""

import hashlib
import hmac
import secrets


class ShareTokenGenerator:
    """Makes link tokens and their hashes, like Django's default_token_generator for resets.

    The token carries 256 bits of randomness, so a plain SHA-256 (no salt, no
    stretching) is enough to make the stored hash useless to a database thief,
    and it lets a link be looked up by its hash in one indexed query.
    """

    token_bytes = 32

    def make_token(self) -> str:
        return secrets.token_urlsafe(self.token_bytes)

    def hash(self, token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", errors="replace")).hexdigest()

    def check(self, token: str, token_hash: str) -> bool:
        return hmac.compare_digest(self.hash(token), token_hash)


default_share_token_generator = ShareTokenGenerator()
