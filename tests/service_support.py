"""Helpers shared by the service's tests: the reference's CDS Hooks request, a test
client, client tokens and their JWKS, a free loopback port."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhirpathpy import evaluate as fhirpath
from fhirpathpy.models import models

from conftest import ROOT
from dli_check import load_rules
from dli_check.interop.crd import COVERAGE_INFORMATION
from dli_check.service.app import Settings, create_app
from dli_check.service.log import DecisionLog

INTEROP = ROOT.parent / "shared" / "interop" / "examples"


FHIR = ROOT / "examples" / "fhir"


NOW = dt.datetime(2026, 6, 1, 15, 30, tzinfo=dt.UTC)


def order_sign_request() -> dict[str, Any]:
    """The reference's order-sign request when it is beside the checkout; else the same
    request rebuilt from the example Bundle (the same resources)."""
    path = INTEROP / "order-sign-request.json"
    if path.is_file():
        request: dict[str, Any] = json.loads(path.read_text())
        return request
    bundle = json.loads((FHIR / "order-sign-dli.json").read_text())
    resources = [e["resource"] for e in bundle["entry"]]
    by_type = {
        r["resourceType"]: [x for x in resources if x["resourceType"] == r["resourceType"]]
        for r in resources
    }

    def searchset(kind: str) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in by_type.get(kind, [])],
        }

    return {
        "hook": "order-sign",
        "hookInstance": "3f1c7a52-6d0e-4b8e-9a51-2c1d6b0f9e47",
        "context": {
            "userId": "PractitionerRole/prr-1",
            "patientId": "pat-1",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": r} for r in by_type["ServiceRequest"]],
            },
        },
        "prefetch": {
            "patient": by_type["Patient"][0],
            "coverage": searchset("Coverage"),
            "conditions": searchset("Condition"),
            "transplants": searchset("Procedure"),
        },
    }


def client(log: DecisionLog, **settings: Any) -> TestClient:
    ticks = itertools.count()
    options = {"clock": lambda: NOW + dt.timedelta(seconds=next(ticks)), **settings}
    if "tokens" in settings:
        options.setdefault("public_url", "http://testserver")
    return TestClient(
        create_app(Settings([load_rules()], log, **options)),
        base_url="http://testserver",
        headers={"Content-Type": "application/json"},
    )


HOOK = "/cds-services/cg-trans-03-order-sign"


RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


EC = ec.generate_private_key(ec.SECP384R1())


ISSUER = "https://ehr.example.org"


AUDIENCE = "http://testserver/cds-services/cg-trans-03-order-sign"


def jwks_file(tmp_path: Path) -> Path:
    keys = [
        json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA.public_key())) | {"kid": "rsa-1"},
        json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC.public_key())) | {"kid": "ec-1"},
    ]
    keys = [key | {"use": "sig"} for key in keys]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": keys}))
    return path


def token(**changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 30, "iat": now, "jti": uuid.uuid4().hex}
    claims.update({k: v for k, v in changes.items() if k not in ("key", "alg", "kid")})
    claims = {k: v for k, v in claims.items() if v is not None}
    key = changes.get("key", RSA)
    alg = changes.get("alg", "RS384")
    return jwt.encode(
        claims, key, algorithm=alg, headers={"kid": changes.get("kid", "rsa-1"), "typ": "JWT"}
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


EXE = str(Path(sys.executable).parent / "dli-check")


@contextlib.contextmanager
def running(tmp_path: Path, *args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`dli-check serve` on a free loopback port, its log in `tmp_path`, until the block
    ends: its base URL and its process."""
    port = free_port()
    server = subprocess.Popen(
        [EXE, "serve", "--port", str(port), "--log", str(tmp_path / "log.sqlite3"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.wait(timeout=30)


INVARIANTS = {
    "q1": "extension.where(url='questionnaire').exists() implies extension.where(url='doc-needed').exists()",
    "q2": "extension.where(url='covered' and value='not-covered').exists() implies extension.where(url='pa-needed').exists().not()",
    "q3": "(extension.where(url='covered' and value='conditional').exists() or extension.where(url='pa-needed' and value='conditional').exists() or extension.where(url='doc-needed' and value='conditional').exists()) implies extension.where(url='info-needed').exists()",
    "q4": "(extension.where(url='pa-needed' and (value='satisfied' or value='no-auth')).exists() and extension.where(url='doc-purpose').exists()) implies extension.where(url='doc-purpose').all(value != 'withpa')",
    "q5": "extension.where(url='satisfied-pa-id').exists() = extension.where(url='pa-needed' and value='satisfied').exists()",
    "q6": "extension.where(url='info-needed' and value='OTH').exists() implies extension.where(url='reason').exists()",
    "q7": "extension.where(url='reason').all(value.text.exists() or value.coding.all(system='http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp'))",
    "q8": "extension.where(url='doc-purpose' and value != 'conditional').exists() implies extension.where(url='reason').exists()",
    "q9": "(extension.where(url='covered' and value='indeterminate').exists() or extension.where(url='pa-needed' and value='indeterminate').exists() or extension.where(url='doc-needed' and value='indeterminate').exists()) implies extension.where(url='reason').exists()",
}


def assert_valid_crd(response: dict[str, Any]) -> None:
    """A CDS Hooks response as CRD requires: updates of whole orders whose every
    coverage-information meets the invariants (`INVARIANTS`), and well-formed cards."""
    for action in response.get("systemActions", []):
        assert action["type"] == "update" and action["description"]
        order = action["resource"]
        ServiceRequest.model_validate(order)
        for name, expression in INVARIANTS.items():
            got = fhirpath(
                order,
                f"extension.where(url='{COVERAGE_INFORMATION}').all({expression})",
                {},
                models["r4"],
            )
            assert got == [True], name
    for card in response["cards"]:
        assert len(card["summary"]) < 140 and card["indicator"] == "warning"
        assert uuid.UUID(card["uuid"]) and card["source"]["label"]
