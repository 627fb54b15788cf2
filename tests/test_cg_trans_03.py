"""CG-TRANS-03, criterion by criterion and outcome by outcome.

Each row changes a valid, medically necessary DLI case and states the exact decision, action
and the status of every criterion that changes.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DELETE, mutate
from dli_check import evaluate

DLI_CRITERIA = [
    "transplant-allogeneic",
    "transplant-conditioning",
    "transplant-medically-necessary",
    "transplant-completed",
    "transplant-treated-hematologic-malignancy",
    "diagnosis-listed",
    "same-donor",
    "not-genetically-modified",
]

MN, NMN, INS = "medically_necessary", "not_medically_necessary", "insufficient_information"

# (name, changes, decision, {criterion: status} for the criteria that are not met)
DLI_ROWS: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    ("all met", {}, MN, {}),
    ("relapse is not required: no relapse facts at all", {}, MN, {}),
    (
        "autologous transplant",
        {"transplant.type": "autologous"},
        NMN,
        {"transplant-allogeneic": "not_met"},
    ),
    (
        "syngeneic transplant",
        {"transplant.type": "syngeneic"},
        NMN,
        {"transplant-allogeneic": "not_met"},
    ),
    (
        "transplant type absent",
        {"transplant.type": DELETE},
        INS,
        {"transplant-allogeneic": "unknown"},
    ),
    ("non-myeloablative", {"transplant.conditioning": "non_myeloablative"}, MN, {}),
    (
        "reduced intensity counts as non-myeloablative",
        {"transplant.conditioning": "reduced_intensity"},
        MN,
        {},
    ),
    ("conditioning not stated", {"transplant.conditioning": DELETE}, MN, {}),
    (
        "transplant not medically necessary",
        {"transplant.medically_necessary": False},
        NMN,
        {"transplant-medically-necessary": "not_met"},
    ),
    (
        "transplant medical necessity unknown",
        {"transplant.medically_necessary": DELETE},
        INS,
        {"transplant-medically-necessary": "unknown"},
    ),
    (
        "transplant only planned",
        {"transplant.status": "planned"},
        NMN,
        {"transplant-completed": "not_met"},
    ),
    (
        "transplant status unknown",
        {"transplant.status": DELETE},
        INS,
        {"transplant-completed": "unknown"},
    ),
    (
        "infusion dated before the transplant",
        {"services.0.date": "2025-01-02"},
        NMN,
        {"transplant-completed": "not_met"},
    ),
    (
        "infusion on the transplant day",
        {"services.0.date": "2025-03-14"},
        NMN,
        {"transplant-completed": "not_met"},
    ),
    ("infusion the day after", {"services.0.date": "2025-03-15"}, MN, {}),
    ("infusion date not given", {"services.0.date": DELETE}, MN, {}),
    ("transplant date not given", {"transplant.date": DELETE}, MN, {}),
    ("indication: lymphoma letter subcategory", {"transplant.indication": "C84.A0"}, MN, {}),
    ("indication: multiple myeloma", {"transplant.indication": "C90.00"}, MN, {}),
    (
        "indication: not a malignancy",
        {"transplant.indication": "D61.09"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    (
        "indication: unlisted in-remission code",
        {"transplant.indication": "C81.9A"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    (
        "indication: unlisted myelodysplastic syndrome",
        {"transplant.indication": "D46.9"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    (
        "indication: a status code is not a disease",
        {"transplant.indication": "Z94.84"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    (
        "indication absent",
        {"transplant.indication": DELETE},
        INS,
        {"transplant-treated-hematologic-malignancy": "unknown"},
    ),
    ("claim lists only transplant status", {"patient.diagnoses": ["Z94.81"]}, MN, {}),
    ("claim lists only history of leukemia", {"patient.diagnoses": ["Z85.6"]}, MN, {}),
    (
        "claim lists a diagnosis not listed",
        {"patient.diagnoses": ["C93.10"]},
        NMN,
        {"diagnosis-listed": "not_met"},
    ),
    ("claim diagnoses absent", {"patient.diagnoses": DELETE}, INS, {"diagnosis-listed": "unknown"}),
    ("claim diagnoses empty", {"patient.diagnoses": []}, INS, {"diagnosis-listed": "unknown"}),
    (
        "lymphocytes from another donor",
        {"services.0.lymphocyte_donor_id": "D-2"},
        NMN,
        {"same-donor": "not_met"},
    ),
    (
        "lymphocyte donor not given",
        {"services.0.lymphocyte_donor_id": DELETE},
        INS,
        {"same-donor": "unknown"},
    ),
    ("transplant donor not given", {"transplant.donor_id": DELETE}, INS, {"same-donor": "unknown"}),
    (
        "genetically modified lymphocytes",
        {"services.0.genetically_modified": True},
        NMN,
        {"not-genetically-modified": "not_met"},
    ),
    ("explicitly not modified", {"services.0.genetically_modified": False}, MN, {}),
    (
        "not met beats unknown",
        {"transplant.type": "autologous", "transplant.donor_id": DELETE},
        NMN,
        {"transplant-allogeneic": "not_met", "same-donor": "unknown"},
    ),
    (
        "no transplant at all",
        {"transplant": DELETE},
        INS,
        {
            "transplant-allogeneic": "unknown",
            "transplant-medically-necessary": "unknown",
            "transplant-completed": "unknown",
            "transplant-treated-hematologic-malignancy": "unknown",
            "same-donor": "unknown",
        },
    ),
]


@pytest.mark.parametrize(
    ("changes", "decision", "statuses"), [r[1:] for r in DLI_ROWS], ids=[r[0] for r in DLI_ROWS]
)
def test_donor_lymphocyte_infusion(
    changes: dict[str, Any], decision: str, statuses: dict[str, str]
) -> None:
    result = evaluate(mutate(changes))
    (line,) = result.services
    assert line.decision == decision
    assert (
        line.action
        == {MN: "approve", NMN: "refer_to_clinical_reviewer", INS: "request_information"}[decision]
    )
    assert [r.criterion for r in line.reasons] == DLI_CRITERIA
    expected = {c: statuses.get(c, "met") for c in DLI_CRITERIA}
    assert {r.criterion: r.status for r in line.reasons} == expected
    assert result.decision == decision


def test_outcome_citations() -> None:
    met = evaluate(mutate({})).services[0]
    assert met.outcome is not None
    assert met.outcome.quote.startswith(
        "Donor* lymphocyte infusion is considered medically necessary"
    )
    failed = evaluate(mutate({"transplant.type": "autologous"})).services[0]
    assert failed.outcome is not None
    assert (
        failed.outcome.quote
        == "Donor lymphocyte infusion is considered not medically necessary in all other cases."
    )
    unknown = evaluate(mutate({"transplant.type": DELETE})).services[0]
    assert unknown.outcome is None


def test_missing_facts_are_named_as_case_paths() -> None:
    result = evaluate(
        mutate(
            {
                "transplant.medically_necessary": DELETE,
                "services.0.lymphocyte_donor_id": DELETE,
                "patient": DELETE,
            }
        )
    )
    line = result.services[0]
    assert line.decision == INS
    assert line.missing == (
        "transplant.medically_necessary",
        "patient.diagnoses",
        "services[0].lymphocyte_donor_id",
    )
    by_id = {r.criterion: r for r in line.reasons}
    assert by_id["same-donor"].missing == ("services[0].lymphocyte_donor_id",)
    assert by_id["transplant-allogeneic"].missing == ()


@pytest.mark.parametrize(
    ("changes", "criterion", "notes"),
    [
        (
            {},
            "transplant-treated-hematologic-malignancy",
            ["C92.00 is listed: C92.00-C92.92 Myeloid leukemia"],
        ),
        (
            {},
            "diagnosis-listed",
            [
                "C92.02 is listed: C92.00-C92.92 Myeloid leukemia",
                "Z94.84 is listed: Z94.84 Stem cells transplant status",
            ],
        ),
        (
            {"transplant.indication": "c819a"},
            "transplant-treated-hematologic-malignancy",
            [
                'C81.9A is not listed: an "in remission" code newer than the guideline\'s Coding section; it sorts '
                "after the end of the printed range in ICD-10-CM tabular order, so the printed range leaves it out "
                "(a clinical reviewer may judge it as the listed lymphoma it refines)"
            ],
        ),
        (
            {"transplant.indication": "D46.9"},
            "transplant-treated-hematologic-malignancy",
            [
                "D46.9 is not listed: a hematologic neoplasm in a category the guideline's Coding section does not list "
                '(C93-C96, D45-D47), and the guideline treats "all other diagnoses not listed" as not medically necessary'
            ],
        ),
        (
            {"transplant.indication": "D61.09"},
            "transplant-treated-hematologic-malignancy",
            [
                "no code is listed in Hematologic malignancy diagnoses listed for donor lymphocyte infusion"
            ],
        ),
    ],
)
def test_code_notes(changes: dict[str, Any], criterion: str, notes: list[str]) -> None:
    line = evaluate(mutate(changes)).services[0]
    assert next(r for r in line.reasons if r.criterion == criterion).notes == tuple(notes)


COLLECTION = {
    "services": [
        {"service": "lymphocyte_collection_cryopreservation", "lymphocyte_donor_id": "D-1"}
    ]
}
COLLECTION_CRITERIA = [
    "transplant-allogeneic",
    "transplant-conditioning",
    "transplant-medically-necessary",
    "same-donor",
]

COLLECTION_ROWS: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    ("after a completed transplant", {}, MN, {}),
    ("before a planned transplant", {"transplant.status": "planned"}, MN, {}),
    ("at the time of the transplant", {"services.0.date": "2025-03-14"}, MN, {}),
    ("status not given", {"transplant.status": DELETE}, MN, {}),
    (
        "no malignancy criterion: unlisted diagnosis",
        {"patient.diagnoses": ["D61.09"], "transplant.indication": "D61.09"},
        MN,
        {},
    ),
    ("reduced intensity", {"transplant.conditioning": "reduced_intensity"}, MN, {}),
    ("autologous", {"transplant.type": "autologous"}, NMN, {"transplant-allogeneic": "not_met"}),
    ("syngeneic", {"transplant.type": "syngeneic"}, NMN, {"transplant-allogeneic": "not_met"}),
    (
        "transplant not medically necessary",
        {"transplant.medically_necessary": False},
        NMN,
        {"transplant-medically-necessary": "not_met"},
    ),
    ("other donor", {"services.0.lymphocyte_donor_id": "D-9"}, NMN, {"same-donor": "not_met"}),
    (
        "medical necessity unknown",
        {"transplant.medically_necessary": DELETE},
        INS,
        {"transplant-medically-necessary": "unknown"},
    ),
]


@pytest.mark.parametrize(
    ("changes", "decision", "statuses"),
    [r[1:] for r in COLLECTION_ROWS],
    ids=[r[0] for r in COLLECTION_ROWS],
)
def test_collection_and_cryopreservation(
    changes: dict[str, Any], decision: str, statuses: dict[str, str]
) -> None:
    line = evaluate(mutate(changes, mutate(COLLECTION))).services[0]
    assert line.decision == decision
    assert {r.criterion: r.status for r in line.reasons} == {
        c: statuses.get(c, "met") for c in COLLECTION_CRITERIA
    }


@pytest.mark.parametrize("changes", [{}, {"transplant": DELETE}, {"services.0.cpt": DELETE}])
def test_genetic_modification_is_never_medically_necessary(changes: dict[str, Any]) -> None:
    case = mutate(
        {"services": [{"service": "genetic_modification_of_donor_lymphocytes", "cpt": "86999"}]}
    )
    line = evaluate(mutate(changes, case)).services[0]
    assert (line.decision, line.action) == (NMN, "refer_to_clinical_reviewer")
    assert [(r.criterion, r.status) for r in line.reasons] == [
        ("genetic-modification-never-medically-necessary", "not_met")
    ]


@pytest.mark.parametrize(
    ("decisions", "case_decision"),
    [
        ([MN, MN], MN),
        ([MN, INS], INS),
        ([INS, NMN], NMN),
        ([MN, NMN, INS], NMN),
    ],
)
def test_case_decision_combines_lines(decisions: list[str], case_decision: str) -> None:
    lines = {
        MN: {"service": "donor_lymphocyte_infusion", "lymphocyte_donor_id": "D-1"},
        INS: {"service": "donor_lymphocyte_infusion"},
        NMN: {"service": "genetic_modification_of_donor_lymphocytes"},
    }
    result = evaluate(mutate({"services": [lines[d] for d in decisions]}))
    assert [s.decision for s in result.services] == decisions
    assert result.decision == case_decision
