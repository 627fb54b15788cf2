"""A directory of rule files means the same to `load_rules` and to ``serve --rules``: each
guideline with its dated versions. `load_rules` takes one guideline; the service serves
each guideline of the directory, and a request is decided by the guideline that governs
it, never silently by another."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_support import NOW, order_sign_request

from conftest import DATA, ROOT
from dli_check import RuleFileError, load_rules
from dli_check.engine.versions import load_guidelines
from dli_check.service.app import Settings, create_app
from dli_check.service.log import DecisionLog

RULES = (ROOT / "rules" / "cg-trans-03.yaml").read_text(encoding="utf-8")
CURRENT = "effective:\n  from: 2023-06-28\n"
EARLIER = RULES.replace(CURRENT, "effective:\n  from: 2021-07-01\n  to: 2023-06-27\n")
FHIR = ROOT / "examples" / "fhir"


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """CG-TRANS-03 in two versions, and two made-up guidelines, one sorting before it."""
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "cg-trans-03-2021.yaml").write_text(EARLIER, encoding="utf-8")
    (directory / "cg-trans-03-2023.yaml").write_text(RULES, encoding="utf-8")
    for name in ("cpap.yaml", "made-up-guideline.yaml"):
        (directory / name).write_text((DATA / name).read_text(encoding="utf-8"))
    boost = (DATA / "made-up-guideline.yaml").read_text(encoding="utf-8")
    (directory / "made-up-guideline.yaml").write_text(boost.replace("TEST-BOOST-01", "A-BOOST"))
    return directory


def test_a_directory_is_read_as_guidelines_each_with_its_versions(rules_dir: Path) -> None:
    guidelines = load_guidelines(rules_dir)
    assert [(g.guideline_id, len(g.versions)) for g in guidelines] == [
        ("A-BOOST", 1),
        ("CG-TRANS-03", 2),
        ("TEST-CPAP-01", 1),
    ]
    assert [Path(v.source).name for v in guidelines[1].versions] == [
        "cg-trans-03-2021.yaml",
        "cg-trans-03-2023.yaml",
    ]


def test_load_rules_takes_one_guideline_and_says_why_not_several(rules_dir: Path) -> None:
    with pytest.raises(RuleFileError) as caught:
        load_rules(rules_dir)
    assert str(caught.value.problems[0]).endswith(
        "holds rule files of 3 guidelines (A-BOOST, CG-TRANS-03, TEST-CPAP-01): one at a time"
    )


def test_overlapping_versions_of_one_guideline_are_refused_among_others(rules_dir: Path) -> None:
    (rules_dir / "cg-trans-03-2021.yaml").write_text(RULES, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_guidelines(rules_dir)
    assert "overlaps cg-trans-03-2021.yaml's period" in str(caught.value)


def _client(rules_dir: Path, tmp_path: Path) -> TestClient:
    ticks = itertools.count()
    settings = Settings(
        list(load_guidelines(rules_dir)),
        DecisionLog(tmp_path / "log.sqlite3"),
        clock=lambda: NOW + dt.timedelta(seconds=next(ticks)),
    )
    headers = {"Content-Type": "application/json"}
    return TestClient(create_app(settings), base_url="http://testserver", headers=headers)


def test_discovery_and_health_name_every_guideline(rules_dir: Path, tmp_path: Path) -> None:
    service = _client(rules_dir, tmp_path)
    ids = [s["id"] for s in service.get("/cds-services").json()["services"]]
    assert ids == [
        "a-boost-order-sign",
        "a-boost-order-select",
        "cg-trans-03-order-sign",
        "cg-trans-03-order-select",
        "test-cpap-01-order-sign",
        "test-cpap-01-order-select",
    ]
    health = service.get("/healthz").json()
    assert [r["guideline"] for r in health["rules"]] == ["A-BOOST", "CG-TRANS-03", "TEST-CPAP-01"]


def test_a_hook_is_decided_by_its_guidelines_versions(rules_dir: Path, tmp_path: Path) -> None:
    response = _client(rules_dir, tmp_path).post(
        "/cds-services/cg-trans-03-order-sign", json=order_sign_request()
    )
    assert response.status_code == 200
    assert response.json()["systemActions"]


def test_a_claim_is_decided_by_the_guideline_that_governs_its_items(
    rules_dir: Path, tmp_path: Path
) -> None:
    bundle = json.loads((FHIR / "pas-claim-dli-answered.json").read_text())
    body = _client(rules_dir, tmp_path).post("/Claim/$submit", json=bundle).json()
    notes = [n["text"] for n in body["entry"][0]["resource"]["processNote"]]
    assert notes[0].startswith("Pended for certification: the CG-TRANS-03 pre-screen found")
    assert notes[1].startswith("Pended: CG-TRANS-03 does not govern this item's code")


EVALUATE: list[tuple[str, int, Any]] = [
    ("", 400, {"error": "several guidelines are served (A-BOOST, CG-TRANS-03, TEST-CPAP-01): "
               "name one, ?guideline="}),
    ("?guideline=NOPE", 404, {"error": "no such guideline here (served: A-BOOST, CG-TRANS-03, "
                              "TEST-CPAP-01)"}),
    ("?guideline=CG-TRANS-03", 200, "medically_necessary"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "status", "expected"), EVALUATE)
def test_evaluate_names_its_guideline_when_several_are_served(
    rules_dir: Path, tmp_path: Path, query: str, status: int, expected: Any
) -> None:
    case = (ROOT / "examples" / "cases" / "dli-relapsed-aml.json").read_bytes()
    response = _client(rules_dir, tmp_path).post(f"/evaluate{query}", content=case)
    assert response.status_code == status
    body = response.json()
    assert (body["decision"] if status == 200 else body) == expected
