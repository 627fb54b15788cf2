"""Who may call the service: the CDS client's bearer JWT, checked as CDS Hooks requires.

A token passes when it is signed with an asymmetric algorithm by a key of the configured
JWKS (``none`` and HMAC are refused, as the specification says), its ``iss`` is on the
allow list, its ``aud`` is the exact URL of the endpoint called, it has not expired, it
expires at most `MAX_LIFETIME` seconds ahead, and its ``jti`` has not been seen before.
Nothing of a token is ever logged or repeated in an error.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
MAX_LIFETIME = 300
"""Seconds: a client token (CRD: SHOULD expire within 30 s) lives at most this long, which
also bounds the memory of seen ``jti`` values."""
MAX_SEEN = 1_000_000


class AuthError(Exception):
    """A request without a valid token: HTTP 401, with a reason that holds no token."""


class TokenChecker:
    """Checks bearer tokens against a JWKS file and an allow list of issuers."""

    def __init__(self, jwks_path: str | Path, issuers: Iterable[str]) -> None:
        import jwt

        self.issuers = sorted(set(issuers))
        if not self.issuers:
            raise ValueError("--jwks needs at least one --issuer to trust")
        try:
            document = json.loads(Path(jwks_path).read_bytes())
            self.keys = jwt.PyJWKSet.from_dict(document).keys
        except (OSError, ValueError, jwt.PyJWKSetError) as exc:
            raise ValueError(f"{jwks_path}: not a usable JWKS ({type(exc).__name__})") from None
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def check(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The token's claims; raises `AuthError`."""
        import jwt

        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("a bearer token is required")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the token is not a JWT") from None
        if header.get("alg") not in ALGORITHMS:
            raise AuthError("the token is not signed with an allowed asymmetric algorithm")
        key = self._key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[header["alg"]],
                audience=audience,
                issuer=self.issuers,
                options={"require": ["iss", "aud", "exp", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("the token is not for this endpoint (aud)") from None
        except jwt.InvalidIssuerError:
            raise AuthError("the token's issuer is not trusted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the token lacks the {exc.claim} claim") from None
        except jwt.PyJWTError:
            raise AuthError("the token's signature does not verify") from None
        self._not_replayed(str(claims["jti"]), float(claims["exp"]))
        return claims

    def _key(self, kid: object) -> Any:
        keys = [k for k in self.keys if kid is None or k.key_id == kid]
        if len(keys) != 1:
            raise AuthError("the token's key is not in the JWKS")
        return keys[0]

    def _not_replayed(self, jti: str, expires: float) -> None:
        now = time.time()
        if expires > now + MAX_LIFETIME:
            raise AuthError(f"the token expires more than {MAX_LIFETIME} s ahead")
        with self._lock:
            if len(self._seen) >= MAX_SEEN // 2:
                self._seen = {k: v for k, v in self._seen.items() if v > now}
            if jti in self._seen:
                raise AuthError("the token was used before (jti)")
            if len(self._seen) >= MAX_SEEN:
                raise AuthError("too many tokens at once")
            self._seen[jti] = expires
