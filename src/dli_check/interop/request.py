"""What an interop mapping says of a request it cannot read: a domain error, with its kind
as data. The service maps each kind to an HTTP status; a library user catches it as any
`DliCheckError`."""

from __future__ import annotations

from typing import Literal

from dli_check.errors import DliCheckError

Kind = Literal["invalid", "prefetch-missing"]
"""``invalid``: the request breaks the standard (or names no single Coverage);
``prefetch-missing``: a prefetch this service needs and does not query for is absent."""


class InteropError(DliCheckError):
    """A request an interop mapping cannot read: its kind, and the problem in words (never
    a value of the request)."""

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message
