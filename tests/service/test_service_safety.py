"""The service against hostile clients: tokens for another deployment, cross-site posts,
slow clients, a decision log that is locked, gone or not the service's own."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest
from service_support import (
    EC,
    HOOK,
    ISSUER,
    RSA,
    client,
    jwks_file,
    order_sign_request,
    running,
    token,
)
from typer.testing import CliRunner

from conftest import BASE_CASE, mutate
from dli_check.cli.commands import app as cli_app
from dli_check.service.auth import TokenChecker
from dli_check.service.log import DecisionLog, LogUnavailable

EXE = str(Path(sys.executable).parent / "dli-check")
PUBLIC = "https://dli.example.org"


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, list(args))
    return result.exit_code, result.stderr


# 4. Token audience, iat, and an algorithm that does not fit its key.


def test_jwks_needs_a_public_url(tmp_path: Path) -> None:
    code, err = cli("serve", "--jwks", str(jwks_file(tmp_path)), "--issuer", ISSUER)
    assert (code, err) == (
        2,
        "dli-check: --jwks needs --public-url: the URL clients call, which their tokens' aud "
        "names\n",
    )


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [
        (lambda: token(aud=f"{PUBLIC}/cds-services/cg-trans-03-order-sign"), 200, None),
        # Minted for another deployment, replayed with that deployment's Host header.
        (lambda: token(), 401, "the token is not for this endpoint (aud)"),
        (
            lambda: token(aud=f"{PUBLIC}/cds-services/cg-trans-03-order-sign", iat=None),
            401,
            "the token lacks the iat claim",
        ),
        (
            lambda: token(aud=f"{PUBLIC}/cds-services/cg-trans-03-order-sign", key=EC, alg="ES384"),
            401,
            "the token's algorithm does not fit its key",
        ),
        (
            lambda: token(
                aud=f"{PUBLIC}/cds-services/cg-trans-03-order-sign",
                key=RSA,
                alg="RS256",
                kid="ec-1",
            ),
            401,
            "the token's algorithm does not fit its key",
        ),
    ],
    ids=[
        "for this deployment",
        "for another",
        "no iat",
        "ES384 on the RSA key",
        "RS256 on the EC key",
    ],
)
def test_a_token_is_for_the_public_url_only(
    tmp_path: Path, make: Any, status: int, message: str | None
) -> None:
    log = DecisionLog(tmp_path / "log.sqlite3")
    service = client(log, tokens=TokenChecker(jwks_file(tmp_path), [ISSUER]), public_url=PUBLIC)
    headers = {"Authorization": f"Bearer {make()}", "Host": "testserver"}
    response = service.post(HOOK, json=order_sign_request(), headers=headers)
    assert response.status_code == status
    if message:
        assert response.json()["issue"][0]["diagnostics"] == message


# 21. JWKS files that cannot work are refused at start.


def _jwk(key: Any, algorithm: Any, private: bool = False) -> dict[str, Any]:
    made = algorithm.to_jwk(key if private else key.public_key())
    return dict(json.loads(made))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"keys": [_jwk(RSA, jwt.algorithms.RSAAlgorithm, private=True)]},
            "keys[0]: holds a private or symmetric key; give the public keys only",
        ),
        (
            {"keys": [{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ"}]},
            "keys[0]: holds a private or symmetric key; give the public keys only",
        ),
        (
            {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]},
            "no RSA or EC public key: client tokens are signed with asymmetric keys",
        ),
        ({"keys": []}, "not a JWKS (no keys)"),
    ],
    ids=["RSA private key", "symmetric key", "no RSA or EC key", "no keys"],
)
def test_unusable_jwks_files_are_refused(
    tmp_path: Path, document: dict[str, Any], message: str
) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError) as caught:
        TokenChecker(path, [ISSUER])
    assert str(caught.value) == f"{path}: {message}"


def test_a_fifo_as_jwks_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "jwks"
    os.mkfifo(fifo)
    started = time.monotonic()
    code, err = cli("serve", "--jwks", str(fifo), "--issuer", ISSUER, "--public-url", PUBLIC)
    assert (code, err) == (2, f"dli-check: {fifo}: not a regular file\n")
    assert time.monotonic() - started < 5


# 7. Cross-site requests: only JSON bodies, only the served host names.


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 200),
        ("application/fhir+json; charset=utf-8", 200),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        (None, 415),
    ],
)
def test_only_json_bodies_are_read(tmp_path: Path, content_type: str | None, status: int) -> None:
    log = DecisionLog(tmp_path / "log.sqlite3")
    service = client(log)
    headers = {"Content-Type": content_type} if content_type else {"Content-Type": ""}
    response = service.post("/evaluate", content=json.dumps(BASE_CASE), headers=headers)
    assert response.status_code == status
    if status == 415:
        assert response.json() == {
            "error": "the body must be application/json or application/fhir+json"
        }
        assert list(log.entries()) == []


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8080", 200),
        ("localhost", 200),
        ("[::1]:8080", 200),
        ("dli.example.org", 200),
        ("evil.example", 400),
        ("127.0.0.1.evil.example:8080", 400),
        ("", 400),
    ],
)
def test_the_host_header_must_name_a_served_host(tmp_path: Path, host: str, status: int) -> None:
    from dli_check.service.app import served_hosts

    hosts = served_hosts(PUBLIC, "127.0.0.1", loopback=True)
    service = client(DecisionLog(tmp_path / "log.sqlite3"), hosts=hosts)
    response = service.post("/evaluate", json=BASE_CASE, headers={"Host": host})
    assert response.status_code == status
    if status == 400:
        assert response.json() == {
            "error": "the Host header names no host this service answers for"
        }


# 6 and 16. The decision log: locked, gone, replaced, not the service's own.


def test_a_log_that_is_gone_is_503_and_healthz_says_so(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    service = client(DecisionLog(path))
    assert service.get("/healthz").json()["decision_log"] == "ok"
    path.unlink()
    response = service.post("/evaluate", json=BASE_CASE)
    assert (response.status_code, response.headers["retry-after"]) == (503, "5")
    assert response.json() == {
        "error": "the decision could not be logged, so it is not given; try again"
    }
    health = service.get("/healthz")
    assert (health.status_code, health.json()["decision_log"]) == (
        503,
        f"{path}: the decision log is gone",
    )


def test_a_locked_log_answers_503_never_500(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    service = client(DecisionLog(path))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        response = service.post("/evaluate", json=BASE_CASE)
        assert response.status_code == 503
        health = service.get("/healthz").json()
        assert health["status"] == "unavailable"
        assert health["decision_log"].startswith(f"{path}: the last write failed (OperationalError")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert service.post("/evaluate", json=BASE_CASE).status_code == 200
    assert service.get("/healthz").json()["decision_log"] == "ok"


def _open_to_others(path: Path) -> None:
    DecisionLog(path).close()
    path.chmod(0o666)


def _log_other_user(path: Path) -> None:
    DecisionLog(path).close()
    os.chown(path, 65534, 65534)


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (
            lambda p: _open_to_others(p),
            "readable or writable by others (mode 666); it holds health information: chmod 600 it",
        ),
        (
            lambda p: p.symlink_to(p.parent / "nowhere"),
            "is a symbolic link; give the log file itself",
        ),
        (lambda p: p.mkdir(), "not a regular file"),
        (_log_other_user, "owned by another user; the log must be this user's own"),
    ],
    ids=["mode 666", "a dangling symbolic link", "a directory", "another user's"],
)
def test_a_log_that_is_not_the_services_own_is_refused_at_start(
    tmp_path: Path, prepare: Any, message: str
) -> None:
    path = tmp_path / "log.sqlite3"
    if prepare is _log_other_user and os.geteuid() != 0:
        pytest.skip("making a file another user's needs root")
    prepare(path)
    with pytest.raises(LogUnavailable) as caught:
        DecisionLog(path)
    assert str(caught.value) == f"{path}: {message}"
    assert not (tmp_path / "nowhere").exists()
    code, err = cli("serve", "--log", str(path), "--port", "1")
    assert (code, err) == (2, f"dli-check: {path}: {message}\n")


def test_a_log_that_cannot_be_written_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    DecisionLog(path).close()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(LogUnavailable) as caught:
            DecisionLog(path)
    finally:
        other.close()
    assert str(caught.value) == f"{path}: cannot use the decision log (database is locked)"


# 8 and 14. What the log keeps: the compact record and the response sent.


def test_the_log_keeps_the_compact_record_and_the_response_sent(tmp_path: Path) -> None:
    log = DecisionLog(tmp_path / "log.sqlite3")
    service = client(log)
    case = mutate({"case_id": "\udc80-lone", "services": [{"code": "99215"}] * 1000})
    body = json.dumps(case).encode()  # the lone surrogate travels as the escape \udc80
    response = service.post("/evaluate", content=body)
    assert response.status_code == 200
    (entry,) = log.entries()
    assert json.loads(entry.result)["case_id"] == "\udc80-lone"
    assert "reasons" not in entry.result  # the decisions record, not the full result
    assert json.loads(entry.response or "") == response.json()  # what was sent, whole
    stored = sum(p.stat().st_size for p in tmp_path.glob("log.sqlite3*"))
    assert stored < len(response.content) / 2


def test_a_request_over_the_line_limit_is_413(tmp_path: Path) -> None:
    service = client(DecisionLog(tmp_path / "log.sqlite3"), max_lines=2)
    case = mutate({"services": [{"code": "38242"}] * 3})
    response = service.post("/evaluate", json=case)
    assert (response.status_code, response.json()) == (
        413,
        {"error": "more than 2 service lines in one request"},
    )


# 5 and 6, in a real server: slow clients, and decisions that wait on a locked log.


def test_slow_clients_are_cut_off_and_logged_once(tmp_path: Path) -> None:
    with running(tmp_path, "--max-connections", "20", "--read-timeout", "1") as (base, server):
        port = int(base.rsplit(":", 1)[1])
        slow = []
        for _ in range(30):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"POST /evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            slow.append(s)
        answers = []
        for s in slow:
            answers.append(s.recv(200).split(b"\r\n", 1)[0])
            s.close()
        assert answers.count(b"HTTP/1.1 503 Service Unavailable") == 10
        assert answers.count(b"HTTP/1.1 408 Request Timeout") == 20
        started = time.monotonic()
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
            assert answer.status == 200
        assert time.monotonic() - started < 2
        server.terminate()
        err = server.communicate(timeout=30)[1].decode()
    assert err.count("connections over the limit of 20 refused (503)") == 1
    assert err.count("requests not read whole within 1 s closed (408)") == 1
    assert "Traceback" not in err


def test_health_answers_while_decisions_wait_on_a_locked_log(tmp_path: Path) -> None:
    with running(tmp_path) as (base, server):
        other = sqlite3.connect(tmp_path / "log.sqlite3", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        statuses: list[int] = []

        def decide() -> None:
            request = urllib.request.Request(
                f"{base}/evaluate",
                data=json.dumps(BASE_CASE).encode(),
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    statuses.append(answer.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                assert exc.headers["Retry-After"] == "5"

        threads = [threading.Thread(target=decide) for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        started = time.monotonic()
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
            json.load(answer)
        assert time.monotonic() - started < 1
        for t in threads:
            t.join(60)
        other.execute("ROLLBACK")
        other.close()
        assert statuses == [503] * 2
    assert b"Traceback" not in server.stderr.read() if server.stderr else True
