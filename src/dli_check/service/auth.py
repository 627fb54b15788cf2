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

from dli_check.files import NotRegularFile, read_regular_file

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
MAX_LIFETIME = 300
"""Seconds: a client token (CRD: SHOULD expire within 30 s) lives at most this long, which
also bounds the memory of seen ``jti`` values."""
MAX_SEEN = 1_000_000


MAX_JWKS_BYTES = 1024 * 1024
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
"""The key type each algorithm family needs (RFC 7518)."""
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
"""JWK members that only a private (or symmetric) key has."""


def _jwks_problem(document: object) -> str | None:
    """Why a JWKS cannot verify client tokens safely, or None."""
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        return "not a JWKS (no keys)"
    for i, key in enumerate(keys):
        if not isinstance(key, dict):
            return f"keys[{i}]: not a JSON object"
        if any(member in key for member in _PRIVATE_MEMBERS):
            # A private key here would be readable by the service: it was never meant to be.
            return f"keys[{i}]: holds a private or symmetric key; give the public keys only"
    if not any(key.get("kty") in ("RSA", "EC") for key in keys):
        return "no RSA or EC public key: client tokens are signed with asymmetric keys"
    return None


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
            # Never blocks: a FIFO or a device is refused, not waited on.
            document = json.loads(read_regular_file(jwks_path, MAX_JWKS_BYTES + 1))
        except NotRegularFile:
            raise ValueError(f"{jwks_path}: not a regular file") from None
        except (OSError, ValueError) as exc:
            raise ValueError(f"{jwks_path}: not a usable JWKS ({type(exc).__name__})") from None
        problem = _jwks_problem(document)
        if problem:
            raise ValueError(f"{jwks_path}: {problem}")
        try:
            self.keys = jwt.PyJWKSet.from_dict(document).keys
        except (ValueError, jwt.PyJWKSetError, jwt.PyJWKError) as exc:
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
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise AuthError("the token is not signed with an allowed asymmetric algorithm")
        key = self._key(header.get("kid"))
        if key.key_type != _KEY_TYPES[algorithm[:2]]:
            raise AuthError("the token's algorithm does not fit its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=audience,
                issuer=self.issuers,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
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
        except (TypeError, ValueError, AttributeError):  # a key PyJWT cannot use for it
            raise AuthError("the token's algorithm does not fit its key") from None
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
