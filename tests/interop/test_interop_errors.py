"""Interop mappings say what is wrong with a request as a domain error (its kind as data);
only the service turns a kind into an HTTP status."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from service_support import order_sign_request

from dli_check.interop.crd import read_request
from dli_check.interop.pas import claim_of
from dli_check.interop.request import InteropError


def _without_coverage() -> dict[str, Any]:
    request = copy.deepcopy(order_sign_request())
    del request["prefetch"]["coverage"]
    return request


@pytest.mark.parametrize(
    ("read", "kind", "message"),
    [
        (
            lambda: read_request([], "order-sign"),
            "invalid",
            "a CDS Hooks request must be a JSON object",
        ),
        (
            lambda: read_request(order_sign_request(), "order-select"),
            "invalid",
            "hook: this service answers order-select",
        ),
        (
            lambda: read_request(_without_coverage(), "order-sign"),
            "prefetch-missing",
            "prefetch.coverage: omitted, and the EHR was not queried for it",
        ),
        (lambda: claim_of({"resourceType": "Claim"}), "invalid", "a PAS request must be a Bundle"),
    ],
)
def test_interop_errors_have_a_kind(read: Any, kind: str, message: str) -> None:
    with pytest.raises(InteropError) as caught:
        read()
    assert (caught.value.kind, str(caught.value)) == (kind, message)
