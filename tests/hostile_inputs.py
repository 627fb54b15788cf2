"""Hostile case files, shared by the tests that feed them to the engine and to the
reference validator: (name, bytes, error kind, message)."""

from __future__ import annotations

import json

from conftest import BASE_CASE

SECRET = "Jane Q Patient"

ROWS: list[tuple[str, bytes, str, str]] = [
    (
        "invalid JSON, with line and column",
        b'{"case_id": "x",\n  "services": [}',
        "invalid_json",
        ":2:16: invalid JSON: Expecting value",
    ),
    ("trailing garbage", json.dumps(BASE_CASE).encode() + b" x", "invalid_json", ":1:"),
    ("empty file", b"", "invalid_json", ":1:1: invalid JSON: Expecting value"),
    ("top level a list", b"[]", "invalid_case", ": a case must be a JSON object"),
    (
        "top level a string",
        b'"' + SECRET.encode() + b'"',
        "invalid_case",
        ": a case must be a JSON object",
    ),
    (
        "duplicate top-level key",
        b'{"case_id": "a", "case_id": "b", "services": []}',
        "invalid_json",
        ":1:18: duplicate key 'case_id' in a JSON object",
    ),
    (
        "duplicate nested key: a false overwritten by a true",
        b'{"case_id": "a", "transplants": [{"medically_necessary": false, "medically_necessary": true}], "services": []}',
        "invalid_json",
        ":1:65: transplants[0]: duplicate key 'medically_necessary' in a JSON object",
    ),
    (
        "duplicate key that is not a field name",
        ('{"case_id": "a", "' + SECRET + '": 1, "' + SECRET + '": 2}').encode(),
        "invalid_json",
        ":1:39: duplicate key in a JSON object",
    ),
    (
        "NaN",
        b'{"case_id": NaN}',
        "invalid_json",
        ": NaN is not valid JSON (NaN and Infinity are refused)",
    ),
    (
        "Infinity",
        b'{"case_id": -Infinity}',
        "invalid_json",
        ": -Infinity is not valid JSON (NaN and Infinity are refused)",
    ),
    ("not UTF-8", b'{"case_id": "\xff"}', "encoding", ": not UTF-8 (byte 13)"),
    ("UTF-16", '{"case_id": "x"}'.encode("utf-16"), "encoding", ": not UTF-8 (byte 0)"),
    (
        "a number of 5000 digits",
        b'{"case_id": ' + b"9" * 5000 + b"}",
        "invalid_json",
        ": invalid JSON: a number too large",
    ),
    (
        "nested 10,000 deep",
        b'{"case_id": ' + b"[" * 10000 + b"]" * 10000 + b"}",
        "too_large",
        ": JSON nested too deeply",
    ),
    (
        "over the size limit",
        b" " * (1024 * 1024 + 1),
        "too_large",
        ": larger than the 1024 KiB limit",
    ),
    (
        "100,000 diagnoses",
        json.dumps(
            {
                "case_id": "x",
                "patient": {"diagnoses": ["C9200"] * 100_000},
                "services": [{"service": "donor_lymphocyte_infusion"}],
            },
            separators=(",", ":"),
        ).encode(),
        "invalid_case",
        ":1:39: patient.diagnoses: must have at most 1000 items",
    ),
    (
        "a string where a boolean belongs",
        json.dumps(
            {
                **BASE_CASE,
                "transplants": [{**BASE_CASE["transplants"][0], "medically_necessary": "true"}],
            }
        ).encode(),
        "invalid_case",
        ":1:208: transplants[0].medically_necessary: must be a JSON boolean (true or false)",
    ),
    (
        "a number where a string belongs",
        json.dumps({**BASE_CASE, "case_id": 17}).encode(),
        "invalid_case",
        ":1:13: case_id: must be a string",
    ),
    (
        "a misspelt field",
        json.dumps({**BASE_CASE, "transplants": [{"medicaly_necessary": True}]}).encode(),
        "invalid_case",
        ":1:85: transplants[0]: has an unknown field (its key number 1)",
    ),
    (
        "an over-long identifier",
        json.dumps({**BASE_CASE, "case_id": "x" * 257}).encode(),
        "invalid_case",
        ":1:13: case_id: must be at most 256 characters",
    ),
]
