"""Querying the EHR's FHIR server for what a CDS Hooks request's prefetch omits
(CDS Hooks 2.0 §Prefetch, CRD found-5): with the request's own ``fhirAuthorization``
token, for the omitted keys' queries only, within the scopes the token grants.

A server is queried only when the service was started with it (``serve --fhir-server``):
``fhirServer`` is the request's word, and a service that fetched any URL it is sent could
be made to reach hosts on its own network. What cannot be queried is a 412 naming the key
(`InteropError` ``prefetch-missing``); a key sent as ``null`` ("no data") is never queried.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin

from dli_check.errors import CaseError
from dli_check.inputs.loaders import parse_case_json
from dli_check.interop.request import InteropError

MAX_RESPONSE = 4 * 1024 * 1024
"""The most bytes one query's answer may hold."""
MAX_PAGES = 10
"""The most pages of one search followed (``Bundle.link`` ``next``)."""
_TOKEN = re.compile(r"\{\{\s*context\.([A-Za-z]+)\s*\}\}")
_SCOPE = re.compile(r"^(patient|user|system)/([A-Za-z]+|\*)\.([a-z*]+)(\?.*)?$")


@dataclass(frozen=True)
class Ehr:
    """Which FHIR servers may be queried, and how long a query may take."""

    servers: tuple[str, ...] = ()
    """Base URLs (``https://ehr.example.org/fhir``) this service may query; empty: none."""
    timeout: float = 3.0
    """Seconds one query may take (CRD asks for an answer within 5)."""

    def allows(self, server: str) -> bool:
        """Whether `server` is one of `servers` (trailing slashes aside)."""
        return server.rstrip("/") in {s.rstrip("/") for s in self.servers}

    def fill(self, request: Mapping[str, Any], templates: Mapping[str, str]) -> dict[str, Any]:
        """The request's prefetch with each omitted key of `templates` queried; raises
        `InteropError` ``prefetch-missing`` for a key it cannot get."""
        sent = request.get("prefetch")
        prefetch = dict(sent) if isinstance(sent, Mapping) else {}
        omitted = [key for key in templates if key not in prefetch]
        if not omitted:
            return prefetch
        server, token, granted = self._access(request, omitted[0])
        import httpx2 as httpx  # the serve extra's HTTP client (httpx's successor)

        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            for key in omitted:
                query = _query(templates[key], request["context"], key)
                kind = re.split(r"[/?]", query, maxsplit=1)[0]
                if not granted(kind):
                    raise InteropError(
                        "prefetch-missing",
                        f"prefetch.{key}: omitted, and the token's scope does not grant "
                        f"searching {kind}",
                    )
                prefetch[key] = _get(client, server, query, token, key)
        return prefetch

    def _access(
        self, request: Mapping[str, Any], key: str
    ) -> tuple[str, str, Callable[[str], bool]]:
        server = request.get("fhirServer")
        authorization = request.get("fhirAuthorization")
        if not isinstance(server, str) or not isinstance(authorization, Mapping):
            raise InteropError(
                "prefetch-missing",
                f"prefetch.{key}: omitted, and the request gives no fhirServer and "
                "fhirAuthorization to query",
            )
        if not self.allows(server):
            raise InteropError(
                "prefetch-missing",
                f"prefetch.{key}: omitted, and fhirServer is not a server this service may "
                "query (serve --fhir-server)",
            )
        token, kind, scope = (authorization.get(n) for n in ("access_token", "token_type", "scope"))
        if not isinstance(token, str) or not token or str(kind).lower() != "bearer":
            raise InteropError(
                "invalid", "fhirAuthorization: access_token and token_type Bearer are required"
            )
        if not isinstance(scope, str):
            raise InteropError("invalid", "fhirAuthorization.scope: required, a string")
        return server.rstrip("/"), token, _granted(scope)


def _granted(scope: str) -> Callable[[str], bool]:
    """Whether the scopes (SMART v1 ``.read``/``.*``, v2 ``.s``/``.rs``/``.cruds``) grant
    searching a resource type."""
    types: set[str] = set()
    for word in scope.split():
        match = _SCOPE.fullmatch(word)
        if match and (match.group(3) in ("read", "*") or "s" in match.group(3)):
            types.add(match.group(2))
    return lambda kind: kind in types or "*" in types


def _query(template: str, context: Mapping[str, Any], key: str) -> str:
    """A prefetch template with its ``{{context.x}}`` tokens filled (URL-quoted)."""

    def value(match: re.Match[str]) -> str:
        found = context.get(match.group(1))
        if not isinstance(found, str) or not found:
            raise InteropError(
                "prefetch-missing", f"prefetch.{key}: context.{match.group(1)} is needed to query"
            )
        return quote(found, safe="")

    return _TOKEN.sub(value, template)


def _get(client: Any, server: str, query: str, token: str, key: str) -> Any:
    """A query's answer: a resource, or a search's Bundle with every page's entries."""
    url: str | None = f"{server}/{query}"
    found: dict[str, Any] | None = None
    for _ in range(MAX_PAGES):
        if url is None:
            break
        page = _page(client, url, token, key)
        if found is None:
            found = page
        else:
            found["entry"] = list(found.get("entry") or []) + list(page.get("entry") or [])
        url = _next(page, server)
    if found is not None and found.get("resourceType") == "Bundle":
        found["entry"] = [  # a search's OperationOutcome entries are not the patient's data
            e
            for e in found.get("entry") or []
            if not (isinstance(e, Mapping) and (e.get("search") or {}).get("mode") == "outcome")
        ]
        found.pop("link", None)
    return found


def _page(client: Any, url: str, token: str, key: str) -> dict[str, Any]:
    import httpx2 as httpx

    headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
    try:
        with client.stream("GET", url, headers=headers) as answer:
            if answer.status_code != 200:
                raise InteropError(
                    "prefetch-missing",
                    f"prefetch.{key}: omitted, and the FHIR server answered HTTP "
                    f"{answer.status_code} to its query",
                )
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE:
                    raise InteropError(
                        "prefetch-missing",
                        f"prefetch.{key}: the FHIR server's answer is larger than "
                        f"{MAX_RESPONSE // 1024 // 1024} MiB",
                    )
    except httpx.HTTPError as exc:
        raise InteropError(
            "prefetch-missing",
            f"prefetch.{key}: omitted, and the FHIR server could not be queried "
            f"({type(exc).__name__})",
        ) from None
    try:
        data = parse_case_json(bytes(body), f"prefetch.{key}")
    except CaseError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise InteropError(
            "prefetch-missing", f"prefetch.{key}: the FHIR server's answer is not a FHIR resource"
        )
    return data


def _next(page: Mapping[str, Any], server: str) -> str | None:
    """A search page's ``next`` link, when it is on the same server."""
    for link in page.get("link") or []:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = urljoin(server + "/", str(link.get("url", "")))
            return url if url.startswith(server + "/") else None
    return None
