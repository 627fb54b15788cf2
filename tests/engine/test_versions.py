"""Guideline versions: each line judged by the version in effect on its date of service,
provenance naming the version, and the periods checked when a directory is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import BASE_CASE, ROOT, mutate
from dli_check import RuleFileError, evaluate, load_rules
from dli_check.cli.commands import app

RULES = (ROOT / "rules" / "cg-trans-03.yaml").read_text(encoding="utf-8")
CURRENT = "effective:\n  from: 2023-06-28\n"
# A made-up earlier version: in effect from 2021 to the day before the current one, and
# reading C93-C96 as not listed (no clinical-category group).
BLOCK = """      - codes: [C81-C96]
        reason: >-
          it lies in ICD-10-CM block C81-C96, "Malignant neoplasms of lymphoid, hematopoietic
          and related tissue", the code system's class of hematologic malignancies; the Coding
          section's list, which is for information, does not print it (or not all of it)
"""


def _earlier(start: str = "2021-07-01", end: str = "2023-06-27", gap: bool = False) -> str:
    period = f"effective:\n  from: {start}\n  to: {end}\n" + ("  gap_before: true\n" if gap else "")
    return RULES.replace(CURRENT, period).replace(BLOCK, "")


def _versions(tmp_path: Path, *texts: tuple[str, str]) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir()
    for name, text in texts:
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def two_versions(tmp_path: Path) -> Path:
    return _versions(tmp_path, ("2021.yaml", _earlier()), ("2023.yaml", RULES))


AML_M5: dict[str, Any] = mutate({"transplants.0.indication": "C93.00"})


@pytest.mark.parametrize(
    ("day", "decision", "version_from"),
    [
        ("2023-06-27", "not_medically_necessary", "2021-07-01"),  # the earlier reading
        ("2023-06-28", "medically_necessary", "2023-06-28"),  # the current one
        ("2025-09-02", "medically_necessary", "2023-06-28"),
    ],
)
def test_each_line_is_judged_by_the_version_of_its_date(
    two_versions: Path, day: str, decision: str, version_from: str
) -> None:
    case = mutate({"transplants.0.date": "2021-09-01", "services.0.date": day}, AML_M5)
    line = evaluate(case, load_rules(two_versions)).services[0]
    assert line.decision == decision
    assert line.version is not None and str(line.version.effective_from) == version_from


def test_two_lines_two_versions(two_versions: Path) -> None:
    case = mutate({"transplants.0.date": "2021-09-01"}, AML_M5)
    case["services"] = [
        {**BASE_CASE["services"][0], "date": "2023-01-10"},
        {**BASE_CASE["services"][0], "date": "2024-01-10"},
    ]
    result = evaluate(case, load_rules(two_versions))
    assert [s.decision for s in result.services] == [
        "not_medically_necessary",
        "medically_necessary",
    ]
    assert [str(s.version.effective_from) for s in result.services if s.version] == [
        "2021-07-01",
        "2023-06-28",
    ]


def test_a_line_without_a_date_asks_for_it_when_versions_differ(two_versions: Path) -> None:
    case = mutate({"services.0.date": None}, AML_M5)
    line = evaluate(case, load_rules(two_versions)).services[0]
    assert (line.decision, line.missing) == ("insufficient_information", ("services[0].date",))


NO_VERSION = (
    "No version of CG-TRANS-03 loaded here was in effect on 2020-03-01, the date of service: "
    "the versions loaded are in effect {periods}. To decide this line, load the version in "
    "effect then: a rule file with its own effective period, in one directory with the loaded "
    "ones (--rules DIR)."
)


def test_a_line_before_every_version_is_referred_with_its_service(two_versions: Path) -> None:
    case = mutate({"transplants.0.date": "2019-01-01", "services.0.date": "2020-03-01"})
    result = evaluate(case, load_rules(two_versions))
    (line,) = result.services
    assert (line.service, line.code, line.decision, line.action, line.version) == (
        "donor_lymphocyte_infusion",
        "38242",
        "no_version_in_effect",
        "refer_to_clinical_reviewer",
        None,
    )
    assert result.decision == "no_version_in_effect"
    periods = "2021-07-01 to 2023-06-27; 2023-06-28 to now"
    assert line.reasons[0].explanation == NO_VERSION.format(periods=periods)


@pytest.mark.parametrize(
    ("lines", "case_decision", "decisions"),
    [
        (  # scope comes before dates: an office visit is not applicable whatever its date
            [{"code": "99215", "date": "2020-03-01"}],
            "not_applicable",
            ["not_applicable"],
        ),
        (  # a collection line names its service, which some version governs
            [{"service": "lymphocyte_collection_cryopreservation", "date": "2020-03-01"}],
            "no_version_in_effect",
            ["no_version_in_effect"],
        ),
        (  # never medically necessary while a line is out of every period
            [
                {"code": "38242", "date": "2025-09-02", "lymphocyte_donor_id": "D-1"},
                {"code": "38242", "date": "2020-03-01", "lymphocyte_donor_id": "D-1"},
            ],
            "no_version_in_effect",
            ["medically_necessary", "no_version_in_effect"],
        ),
        (  # a line not medically necessary still decides the case
            [
                {"code": "38242", "date": "2025-09-02", "lymphocyte_donor_id": "D-9"},
                {"code": "38242", "date": "2020-03-01", "lymphocyte_donor_id": "D-1"},
            ],
            "not_medically_necessary",
            ["not_medically_necessary", "no_version_in_effect"],
        ),
    ],
)
def test_lines_out_of_every_period_among_others(
    two_versions: Path, lines: list[dict[str, Any]], case_decision: str, decisions: list[str]
) -> None:
    case = mutate({"transplants.0.date": "2019-01-01", "services": lines})
    result = evaluate(case, load_rules(two_versions))
    assert (result.decision, [s.decision for s in result.services]) == (case_decision, decisions)


def _received(text: str) -> str:
    """A rule file whose cases say when they were received (``request.received``)."""
    return text.replace(
        "case:\n  records:\n",
        "case:\n  received: request.received\n  records:\n"
        "    request:\n      description: The request.\n      facts:\n"
        "        received: {type: date, description: Received., question: When?}\n",
    )


def test_the_received_date_picks_the_version_of_an_undated_line(tmp_path: Path) -> None:
    directory = _versions(
        tmp_path, ("2021.yaml", _received(_earlier())), ("2023.yaml", _received(RULES))
    )
    case = mutate({"services.0.date": None, "request": {"received": "2022-02-02"}}, AML_M5)
    line = evaluate(case, load_rules(directory)).services[0]
    assert line.version is not None and str(line.version.effective_from) == "2021-07-01"


_FY21_OR_25 = "FY2021 (January 1, 2021 update) or FY2025 (April 1, 2025 update)"
_FY25 = "FY2025 (April 1, 2025 update)"
_LISTED = (
    "C88.0 is listed: C88.0-C88.9 Malignant immunoproliferative diseases and certain other "
    "B-cell lymphoma; C88.0 is billable in FY2021 (January 1, 2021 update) but not in "
    "FY2025 (April 1, 2025 update): ICD-10-CM FY2024 is not shipped here, so either is accepted"
)
_NOT_BILLABLE = "C88.0 is not a billable code (C88.0 → C88.00 or C88.01)"


@pytest.mark.parametrize(
    ("day", "received", "status", "release", "notes"),
    [
        # C88.0 is billable in FY2021 only: the line's date, else the received date, else
        # the latest release says which ICD-10-CM release reads it, and an undated line
        # says which, once.
        (
            None,
            "2024-06-03",
            "met",
            _FY21_OR_25,
            (
                _LISTED,
                "the line has no date of service, so its codes are read by the date the case "
                "was received (2024-06-03): ICD-10-CM FY2024 is not shipped here, so a code "
                f"valid in either {_FY21_OR_25} is accepted",
            ),
        ),
        (
            None,
            "2025-06-03",
            "unknown",
            _FY25,
            (
                _NOT_BILLABLE,
                f"the line has no date of service, so its codes are read in {_FY25}, the "
                "release in effect when the case was received (2025-06-03)",
            ),
        ),
        ("2025-06-03", "2024-06-03", "unknown", _FY25, (_NOT_BILLABLE,)),
        ("2024-06-03", "2025-06-03", "met", _FY21_OR_25, (_LISTED,)),
        (
            None,
            None,
            "unknown",
            "FY2026 (April 1, 2026 update)",
            (
                _NOT_BILLABLE,
                "the line has no date of service, so its codes are read in FY2026 (April 1, "
                "2026 update), the latest release here",
            ),
        ),
    ],
)
def test_the_received_date_picks_the_code_release_of_an_undated_line(
    tmp_path: Path,
    day: str | None,
    received: str | None,
    status: str,
    release: str,
    notes: tuple[str, ...],
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(_received(RULES), encoding="utf-8")
    case = mutate({"services.0.date": day, "patient.diagnoses": ["C88.0"]})
    if received is not None:
        case["request"] = {"received": received}
    result = evaluate(case, load_rules(path))
    reason = next(r for r in result.services[0].reasons if r.criterion == "diagnosis-listed")
    assert (reason.status, reason.notes) == (status, notes)
    # The decision, its audit and the compact record name the same release.
    assert result.audit is not None
    assert result.audit.lines[0].code_set_release == release
    assert result.decisions()["services"][0]["code_set_release"] == release


@pytest.mark.parametrize(
    ("earlier", "message"),
    [
        (_earlier(end="2023-06-28"), "effective: overlaps 2021.yaml's period"),
        (
            _earlier(end="2023-05-31"),
            "effective: leaves a gap after 2021.yaml (2023-05-31 to 2023-06-28); declare it "
            "with gap_before: true",
        ),
    ],
)
def test_overlaps_and_gaps_are_refused(tmp_path: Path, earlier: str, message: str) -> None:
    directory = _versions(tmp_path, ("2021.yaml", earlier), ("2023.yaml", RULES))
    with pytest.raises(RuleFileError) as caught:
        load_rules(directory)
    assert str(caught.value.problems[0]) == f"{directory / '2023.yaml'}:1:1: {message}"


def test_a_declared_gap_is_allowed(tmp_path: Path) -> None:
    later = RULES.replace(CURRENT, "effective:\n  from: 2023-06-28\n  gap_before: true\n")
    directory = _versions(tmp_path, ("2021.yaml", _earlier(end="2023-05-31")), ("2023.yaml", later))
    assert len(load_rules(directory).versions) == 2


def test_a_single_rule_file_keeps_to_its_period() -> None:
    case = mutate({"transplants.0.date": "2021-01-01", "services.0.date": "2022-01-01"})
    line = evaluate(case).services[0]
    assert (line.decision, line.reasons[0].criterion) == (
        "no_version_in_effect",
        "in-effect-on-the-date-of-service",
    )
    assert "the versions loaded are in effect 2023-06-28 to now." in (line.reasons[0].explanation)


def test_a_batch_and_the_cli_take_a_directory(two_versions: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["rules", "validate", str(two_versions)])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{two_versions / '2021.yaml'}: OK (CG-TRANS-03: 3 services, 14 criteria, 6 code sets; "
        "in effect 2021-07-01 to 2023-06-27)",
        f"{two_versions / '2023.yaml'}: OK (CG-TRANS-03: 3 services, 14 criteria, 6 code sets; "
        "in effect 2023-06-28 to ...)",
    ]
    cases = tmp_path / "cases"
    cases.mkdir()
    import json

    (cases / "a.json").write_text(
        json.dumps(
            mutate({"services.0.date": "2023-01-10", "transplants.0.date": "2021-09-01"}, AML_M5)
        )
    )
    (cases / "b.json").write_text(json.dumps(AML_M5))
    result = runner.invoke(
        app, ["batch", str(cases), "--rules", str(two_versions), "-w", "2", "-q"]
    )
    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["services"][0]["decision"] for r in records] == [
        "not_medically_necessary",
        "medically_necessary",
    ]


def test_a_case_no_version_decides_is_still_checked(two_versions: Path) -> None:
    from dli_check import CaseError

    case = mutate({"services.0.date": None, "transplants.0.type": "allo"}, AML_M5)
    with pytest.raises(CaseError, match=r"transplants\[0\]\.type: must be one of"):
        evaluate(case, load_rules(two_versions))


def test_a_later_version_takes_over_on_its_date(tmp_path: Path) -> None:
    current = RULES.replace(CURRENT, "effective:\n  from: 2023-06-28\n  to: 2025-12-31\n")
    later = (
        RULES.replace(CURRENT, "effective:\n  from: 2026-01-01\n")
        .replace("    code_set: dli_procedures\n", "    code_set: dli_procedures_2026\n")
        .replace(
            "  dli_procedures:\n",
            "  dli_procedures_2026:\n",
        )
    )
    directory = _versions(tmp_path, ("2023.yaml", current), ("2026.yaml", later))
    rules = load_rules(directory)
    lines = [
        evaluate(mutate({"services.0.date": day}), rules).services[0]
        for day in ("2025-12-31", "2026-01-01")
    ]
    assert [line.decision for line in lines] == ["medically_necessary", "medically_necessary"]
    assert [str(line.version.effective_from) for line in lines if line.version] == [
        "2023-06-28",
        "2026-01-01",
    ]
    assert lines[0].version and lines[1].version
    assert lines[0].version.rules_sha256 != lines[1].version.rules_sha256


@pytest.mark.parametrize(("day", "status"), [("2023-06-27", "not_met"), ("2023-06-28", "met")])
def test_each_lines_conditions_are_those_of_its_version(
    two_versions: Path, day: str, status: str
) -> None:
    case = mutate({"transplants.0.date": "2021-09-01", "services.0.date": day}, AML_M5)
    indication = ("services", 0, "criteria", 4, "condition")
    answer = evaluate(case, load_rules(two_versions)).conditions(0)[indication]
    assert (answer.status, [r.fact for r in answer.read]) == (status, ["transplants[0].indication"])


@pytest.mark.parametrize(
    ("day", "period"),
    [("2023-06-27", "from 2021-07-01 to 2023-06-27"), ("2023-06-28", "from 2023-06-28")],
)
def test_the_worksheet_names_the_version_each_line_was_decided_by(
    two_versions: Path, day: str, period: str
) -> None:
    from dli_check.outputs.worksheet import worksheet

    rules = load_rules(two_versions)
    case = mutate({"transplants.0.date": "2021-09-01", "services.0.date": day}, AML_M5)
    result = evaluate(case, rules)
    version = result.services[0].version
    assert version is not None
    said = (
        f"Date of service: {day}. Decided by the version of CG-TRANS-03 in effect {period} "
        f"(rule file sha256 <code>{version.rules_sha256[:12]}</code>)"
    )
    assert said in worksheet(result, rules, "2026-12-02")
