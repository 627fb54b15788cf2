"""CG-TRANS-03, criterion by criterion and outcome by outcome.

Each row changes a valid, medically necessary DLI case and states the exact decision, action
and the status of every criterion that changes.
"""

from __future__ import annotations

from typing import Any

import pytest

from conftest import BASE_CASE, DELETE, mutate
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
        {"transplants.0.type": "autologous"},
        NMN,
        {"transplant-allogeneic": "not_met"},
    ),
    (
        "syngeneic transplant",
        {"transplants.0.type": "syngeneic"},
        NMN,
        {"transplant-allogeneic": "not_met"},
    ),
    (
        "transplant type absent",
        {"transplants.0.type": DELETE},
        INS,
        {"transplant-allogeneic": "unknown"},
    ),
    ("non-myeloablative", {"transplants.0.conditioning": "non_myeloablative"}, MN, {}),
    (
        "reduced intensity counts as non-myeloablative",
        {"transplants.0.conditioning": "reduced_intensity"},
        MN,
        {},
    ),
    ("conditioning not stated", {"transplants.0.conditioning": DELETE}, MN, {}),
    (
        "transplant not medically necessary",
        {"transplants.0.medically_necessary": False},
        NMN,
        {"transplant-medically-necessary": "not_met"},
    ),
    (
        "transplant medical necessity unknown",
        {"transplants.0.medically_necessary": DELETE},
        INS,
        {"transplant-medically-necessary": "unknown"},
    ),
    (
        "transplant only planned",
        {"transplants.0.status": "planned"},
        NMN,
        {"transplant-completed": "not_met"},
    ),
    (
        "transplant status unknown",
        {"transplants.0.status": DELETE},
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
    ("transplant date not given", {"transplants.0.date": DELETE}, MN, {}),
    ("indication: lymphoma letter subcategory", {"transplants.0.indication": "C84.A0"}, MN, {}),
    ("indication: multiple myeloma", {"transplants.0.indication": "C90.00"}, MN, {}),
    (
        "indication: not a malignancy",
        {"transplants.0.indication": "D61.09"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    ("indication: FY2025 in-remission code", {"transplants.0.indication": "C81.9A"}, MN, {}),
    (
        "indication: a leukemia the list does not print",
        {"transplants.0.indication": "C93.00"},
        MN,
        {},
    ),
    (
        "indication: myelodysplastic syndrome (the Discussion's)",
        {"transplants.0.indication": "D46.22"},
        MN,
        {},
    ),
    (
        "indication: myelodysplastic syndrome, unspecified",
        {"transplants.0.indication": "D46.9"},
        MN,
        {},
    ),
    (
        "indication: polycythemia vera (D45) stays for the reviewer",
        {"transplants.0.indication": "D45"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    (
        "indication: D47 stays for the reviewer",
        {"transplants.0.indication": "D47.1"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    (
        "indication: a stem cell transplant complication asks for the disease",
        {"transplants.0.indication": "T86.5"},
        INS,
        {"transplant-treated-hematologic-malignancy": "unknown"},
    ),
    (
        "indication: a bone marrow transplant complication asks for the disease",
        {"transplants.0.indication": "T86.02"},
        INS,
        {"transplant-treated-hematologic-malignancy": "unknown"},
    ),
    (
        "indication: a status code is not a disease, so the disease is asked for",
        {"transplants.0.indication": "Z94.84"},
        INS,
        {"transplant-treated-hematologic-malignancy": "unknown"},
    ),
    (
        "indication absent",
        {"transplants.0.indication": DELETE},
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
    (
        "transplant donor not given",
        {"transplants.0.donor_id": DELETE},
        INS,
        {"same-donor": "unknown"},
    ),
    (
        "genetically modified lymphocytes",
        {"services.0.genetically_modified": True},
        NMN,
        {"not-genetically-modified": "not_met"},
    ),
    ("explicitly not modified", {"services.0.genetically_modified": False}, MN, {}),
    (
        "not met beats unknown",
        {"transplants.0.type": "autologous", "transplants.0.donor_id": DELETE},
        NMN,
        {"transplant-allogeneic": "not_met", "same-donor": "unknown"},
    ),
    (
        "no transplant at all",
        {"transplants": DELETE},
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
    failed = evaluate(mutate({"transplants.0.type": "autologous"})).services[0]
    assert failed.outcome is not None
    assert (
        failed.outcome.quote
        == "Donor lymphocyte infusion is considered not medically necessary in all other cases."
    )
    unknown = evaluate(mutate({"transplants.0.type": DELETE})).services[0]
    assert unknown.outcome is None


def test_missing_facts_are_named_as_case_paths() -> None:
    result = evaluate(
        mutate(
            {
                "transplants.0.medically_necessary": DELETE,
                "services.0.lymphocyte_donor_id": DELETE,
                "patient": DELETE,
            }
        )
    )
    line = result.services[0]
    assert line.decision == INS
    assert line.missing == (
        "transplants[0].medically_necessary",
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
            {"transplants.0.indication": "c819a"},
            "transplant-treated-hematologic-malignancy",
            [
                'C81.9A is counted: an "in remission" code that ICD-10-CM added in FY2025, after the '
                "guideline's last review (2023-05-11); it refines a category that the printed range "
                "covers from its first to its last code, so it is counted with that range"
            ],
        ),
        (
            {"transplants.0.indication": "D46.9"},
            "transplant-treated-hematologic-malignancy",
            [
                "D46.9 is counted: a myelodysplastic syndrome (ICD-10-CM D46), which the "
                "guideline's Discussion counts among the hematologic malignancies: \"DLI has been "
                "researched as a treatment for a variety of hematologic malignancies, including ... "
                'myelodysplastic syndromes"'
            ],
        ),
        (
            {"transplants.0.indication": "D47.1"},
            "transplant-treated-hematologic-malignancy",
            [
                "D47.1 is not listed: ICD-10-CM classes it as a neoplasm of uncertain behavior "
                "(D45, D47), not as a malignant neoplasm (C81-C96); a physician reviewer may judge "
                "it as a myeloid neoplasm"
            ],
        ),
        (
            {"transplants.0.indication": "T86.5"},
            "transplant-treated-hematologic-malignancy",
            [
                "T86.5: a complication of the transplant (ICD-10-CM T86.0-, T86.5), not the "
                "disease the transplant treated; the code of that disease decides"
            ],
        ),
        (
            {"transplants.0.indication": "D61.09"},
            "transplant-treated-hematologic-malignancy",
            [
                "D61.09 (Other constitutional aplastic anemia) is not in Hematologic "
                "malignancies (ICD-10-CM block C81-C96)"
            ],
        ),
        (
            {"patient.diagnoses": ["C93.10"]},
            "diagnosis-listed",
            [
                "C93.10 is not listed: a hematologic malignancy in a category the Coding section does "
                'not print (C93-C96), and the guideline treats "all other diagnoses not listed" as not '
                "medically necessary",
                "C93.10 (Chronic myelomonocytic leukemia not having achieved remission) is not "
                "in Personal history and transplant status diagnoses listed for donor lymphocyte "
                "infusion",
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
    "transplant-treated-hematologic-malignancy",
    "same-donor",
]

COLLECTION_ROWS: list[tuple[str, dict[str, Any], str, dict[str, str]]] = [
    ("after a completed transplant", {}, MN, {}),
    ("before a planned transplant", {"transplants.0.status": "planned"}, MN, {}),
    ("at the time of the transplant", {"services.0.date": "2025-03-14"}, MN, {}),
    ("status not given", {"transplants.0.status": DELETE}, MN, {}),
    (
        "the claim's diagnoses do not matter: collection has no Coding list",
        {"patient.diagnoses": ["D57.1"]},
        MN,
        {},
    ),
    (
        "for a transplant that treats sickle cell disease",
        {"patient.diagnoses": ["D57.1"], "transplants.0.indication": "D57.1"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    (
        "for a transplant that treats severe combined immunodeficiency",
        {"transplants.0.indication": "D81.9"},
        NMN,
        {"transplant-treated-hematologic-malignancy": "not_met"},
    ),
    (
        "for a planned transplant that will treat a myelodysplastic syndrome",
        {"transplants.0.status": "planned", "transplants.0.indication": "D46.4"},
        MN,
        {},
    ),
    (
        "indication not given",
        {"transplants.0.indication": DELETE},
        INS,
        {"transplant-treated-hematologic-malignancy": "unknown"},
    ),
    ("reduced intensity", {"transplants.0.conditioning": "reduced_intensity"}, MN, {}),
    ("autologous", {"transplants.0.type": "autologous"}, NMN, {"transplant-allogeneic": "not_met"}),
    ("syngeneic", {"transplants.0.type": "syngeneic"}, NMN, {"transplant-allogeneic": "not_met"}),
    (
        "transplant not medically necessary",
        {"transplants.0.medically_necessary": False},
        NMN,
        {"transplant-medically-necessary": "not_met"},
    ),
    ("other donor", {"services.0.lymphocyte_donor_id": "D-9"}, NMN, {"same-donor": "not_met"}),
    (
        "medical necessity unknown",
        {"transplants.0.medically_necessary": DELETE},
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


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"transplants": DELETE},
        {"services.0.code": DELETE},
        {"services.0.service": DELETE},
    ],
)
def test_genetic_modification_is_never_medically_necessary(changes: dict[str, Any]) -> None:
    case = mutate(
        {"services": [{"service": "genetic_modification_of_donor_lymphocytes", "code": "86999"}]}
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
        # Another donor's lymphocytes: not the infusion's (see the rows beside 86999).
        NMN: {"service": "genetic_modification_of_donor_lymphocytes", "lymphocyte_donor_id": "D-9"},
    }
    result = evaluate(mutate({"services": [lines[d] for d in decisions]}))
    assert [s.decision for s in result.services] == decisions
    assert result.decision == case_decision


# Several transplants: the transplant criteria are judged together on one transplant.

AUTOLOGOUS = {
    "type": "autologous",
    "conditioning": "myeloablative",
    "status": "completed",
    "date": "2024-01-10",
    "medically_necessary": True,
    "indication": "C90.00",
    "donor_id": "SELF",
}

# (name, each transplant as changes to the base one, decision, record judged, statuses)
TANDEM_ROWS: list[tuple[str, list[dict[str, Any]], str, str, dict[str, str]]] = [
    ("tandem: autologous, then allogeneic", [AUTOLOGOUS, {}], MN, "transplants[1]", {}),
    ("allogeneic first, then autologous", [{}, AUTOLOGOUS], MN, "transplants[0]", {}),
    (
        "a second allogeneic transplant from a new donor supersedes the first",
        [{}, {"donor_id": "D-9", "date": "2025-06-01"}],
        NMN,
        "transplants[1]",
        {"same-donor": "not_met"},
    ),
    (
        "the lymphocytes are from the second donor",
        [{"donor_id": "D-9"}, {}],
        MN,
        "transplants[1]",
        {},
    ),
    (
        "none qualifies: the closest is judged (fewest not met)",
        [AUTOLOGOUS, {"medically_necessary": False}],
        NMN,
        "transplants[1]",
        {"transplant-medically-necessary": "not_met"},
    ),
    (
        "a tie on not met goes to the fewest unknown",
        [{"type": "syngeneic", "donor_id": None}, {"type": "autologous"}],
        NMN,
        "transplants[1]",
        {"transplant-allogeneic": "not_met"},
    ),
    (
        "a full tie goes to the first",
        [{"type": "syngeneic"}, {"type": "autologous"}],
        NMN,
        "transplants[0]",
        {"transplant-allogeneic": "not_met"},
    ),
]


@pytest.mark.parametrize(
    ("transplants", "decision", "record", "statuses"),
    [r[1:] for r in TANDEM_ROWS],
    ids=[r[0] for r in TANDEM_ROWS],
)
def test_the_transplant_a_line_is_judged_on(
    transplants: list[dict[str, Any]], decision: str, record: str, statuses: dict[str, str]
) -> None:
    base = BASE_CASE["transplants"][0]
    case = mutate({"transplants": [{**base, **t} for t in transplants]})
    line = evaluate(case).services[0]
    assert line.decision == decision
    assert {r.criterion: r.status for r in line.reasons} == {
        c: statuses.get(c, "met") for c in DLI_CRITERIA
    }
    # The transplant criteria name the record they judged; the others name none.
    assert {r.criterion: r.record for r in line.reasons} == {
        c: None if c in ("diagnosis-listed", "not-genetically-modified") else record
        for c in DLI_CRITERIA
    }


def test_no_transplant_asks_for_one() -> None:
    line = evaluate(mutate({"transplants": []})).services[0]
    assert line.decision == INS
    assert line.missing == ("transplants",)


def test_compared_values_are_shown_when_not_met() -> None:
    line = evaluate(
        mutate({"services.0.lymphocyte_donor_id": "D-2", "services.0.date": "2025-03-14"})
    ).services[0]
    notes = {r.criterion: r.notes for r in line.reasons}
    assert notes["same-donor"] == (
        "the lymphocyte donor (D-2) is not the transplant's donor (D-1)",
    )
    assert notes["transplant-completed"] == (
        "the infusion (2025-03-14) is not after the transplant (2025-03-14)",
    )


# Lines routed by their procedure code.

BARE_86999 = (
    "86999 is read as genetic modification of donor lymphocytes; if it is another procedure, "
    "say so (genetically_modified: false)"
)


@pytest.mark.parametrize(
    ("line", "service", "decision", "notes"),
    [
        ({"code": "38242", "lymphocyte_donor_id": "D-1"}, "donor_lymphocyte_infusion", MN, ()),
        ({"code": "86999"}, "genetic_modification_of_donor_lymphocytes", NMN, (BARE_86999,)),
        ({"code": "99213"}, None, "not_applicable", ()),
        ({"code": "J1100"}, None, "not_applicable", ()),
        (
            {
                "service": "lymphocyte_collection_cryopreservation",
                "code": "38207",
                "lymphocyte_donor_id": "D-1",
            },
            "lymphocyte_collection_cryopreservation",
            MN,
            (),
        ),
        (
            {
                "service": "lymphocyte_collection_cryopreservation",
                "code": "99215",
                "lymphocyte_donor_id": "D-1",
            },
            "lymphocyte_collection_cryopreservation",
            MN,
            (
                "99215 is not a code the collection is expected to carry (CG-TRANS-03 prints no "
                "code for collection and cryopreservation; a collection line usually carries one "
                "of: 36511, 38205, 38207-38215)",
            ),
        ),
        (
            {
                "service": "lymphocyte_collection_cryopreservation",
                "code": "38242",
                "lymphocyte_donor_id": "D-1",
            },
            "donor_lymphocyte_infusion",
            MN,
            (
                "the line names collection and cryopreservation of donor lymphocytes, but 38242 is "
                "the code of donor lymphocyte infusion: it is decided as the infusion",
            ),
        ),
        (
            {"service": "donor_lymphocyte_infusion", "code": "86999"},
            "genetic_modification_of_donor_lymphocytes",
            NMN,
            (
                "the line names donor lymphocyte infusion, but 86999 is the code of genetic "
                "modification of donor lymphocytes: it is decided as the genetic modification",
                BARE_86999,
            ),
        ),
        # Collection's codes route nothing: 38207 also stores a transplant's own cells.
        ({"code": "38207"}, None, "not_applicable", ()),
        ({"code": "36511"}, None, "not_applicable", ()),
    ],
)
def test_lines_are_routed_by_code(
    line: dict[str, Any], service: str | None, decision: str, notes: tuple[str, ...]
) -> None:
    result = evaluate(mutate({"services": [line]}))
    (decided,) = result.services
    assert (decided.service, decided.code, decided.decision, decided.notes) == (
        service,
        line["code"],
        decision,
        notes,
    )
    assert decided.action == {MN: "approve", NMN: "refer_to_clinical_reviewer"}.get(
        decision, "none"
    )


def test_a_line_no_service_governs_is_not_applicable() -> None:
    result = evaluate(mutate({"services": [{"code": "99215"}, dict(BASE_CASE["services"][0])]}))
    visit, infusion = result.services
    assert (visit.decision, visit.action, visit.service) == ("not_applicable", "none", None)
    (reason,) = visit.reasons
    assert reason.explanation == (
        "CG-TRANS-03 does not govern the procedure code 99215: no service of it lists that code."
    )
    assert reason.citation.section == "Description"
    assert infusion.decision == MN
    assert result.decision == MN  # the case decision ignores not-applicable lines
    only_visits = evaluate(mutate({"services": [{"code": "99215"}, {"code": "36415"}]}))
    assert only_visits.decision == "not_applicable"


# The acceptance examples of the physician-reviewer reading (issue 10): a completed,
# medically necessary, myeloablative allogeneic transplant from D-1 on 2025-01-10, and one
# infusion line (38242, 2025-06-01, lymphocytes from D-1), unless the row says otherwise.

READING = {
    "case_id": "R-1",
    "patient": {"diagnoses": []},
    "transplants": [
        {
            "type": "allogeneic",
            "conditioning": "myeloablative",
            "status": "completed",
            "date": "2025-01-10",
            "medically_necessary": True,
            "indication": "C92.00",
            "donor_id": "D-1",
        }
    ],
    "services": [{"code": "38242", "date": "2025-06-01", "lymphocyte_donor_id": "D-1"}],
}

# (indication, claim diagnoses, lymphocyte donor, decision, missing, a note that must be there)
READING_ROWS = [
    (
        "C93.00",
        ["C93.02", "Z94.84"],
        "D-1",
        MN,
        (),
        "C93.00 is counted: it lies in ICD-10-CM block C81-C96",
    ),
    (
        "C93.00",
        ["C93.02"],
        "D-1",
        NMN,
        (),
        "C93.02 is not listed: a hematologic malignancy in a category",
    ),
    (
        "C84.9A",
        ["C84.9A"],
        "D-1",
        MN,
        (),
        'C84.9A is counted: an "in remission" code that ICD-10-CM added in FY2025',
    ),
    (
        "D46.22",
        ["D46.22", "Z94.84"],
        "D-1",
        MN,
        (),
        "D46.22 is counted: a myelodysplastic syndrome (ICD-10-CM D46), which the guideline's "
        "Discussion counts",
    ),
    (
        "D47.1",
        ["D47.1", "Z94.84"],
        "D-1",
        NMN,
        (),
        "D47.1 is not listed: ICD-10-CM classes it as a neoplasm of uncertain behavior",
    ),
    (
        "Z85.6",
        ["Z85.6"],
        "D-1",
        INS,
        ("transplants[0].indication",),
        "Z85.6: a history or status code, not the disease",
    ),
    (
        "C92.00",
        ["C92.0"],
        "D-1",
        INS,
        ("patient.diagnoses",),
        "C92.0 is not a billable code (C92.0 → C92.00-C92.02)",
    ),
    (
        "C92.0",
        ["C92.02", "Z94.84"],
        "D-1",
        MN,
        (),
        "C92.0 is listed: C92.00-C92.92 Myeloid leukemia",
    ),
    (
        "C81",
        ["C81.90", "Z94.84"],
        "D-1",
        MN,
        (),
        "C81 is counted: it lies in ICD-10-CM block C81-C96",
    ),
    ("C92.00", ["C92.02"], "d-1 ", MN, (), "C92.02 is listed: C92.00-C92.92 Myeloid leukemia"),
]


@pytest.mark.parametrize(
    ("indication", "diagnoses", "donor", "decision", "missing", "note"), READING_ROWS
)
def test_the_physician_reviewer_reading(
    indication: str,
    diagnoses: list[str],
    donor: str,
    decision: str,
    missing: tuple[str, ...],
    note: str,
) -> None:
    case = mutate(
        {
            "transplants.0.indication": indication,
            "patient.diagnoses": diagnoses,
            "services.0.lymphocyte_donor_id": donor,
        },
        READING,
    )
    line = evaluate(case).services[0]
    assert (line.decision, line.missing) == (decision, missing)
    notes = [n for r in line.reasons for n in r.notes]
    assert any(n.startswith(note) for n in notes), notes


@pytest.mark.parametrize(
    ("code", "inside"),
    [
        ("C81", False),  # C81.9A lies after C81.99
        ("C81.9", False),  # ... and is C81.9's own
        ("C84.9", False),
        ("C90", True),  # every billable code of C90 lies in C90.00-C90.32
        ("C90.3", True),
        ("C91", True),
        ("C92", True),
        ("C92.0", True),
    ],
)
def test_one_rule_for_heading_codes(code: str, inside: bool) -> None:
    """A heading lies in a printed range when all its billable codes do."""
    from dli_check import load_rules
    from dli_check.compiler.criteria import code_sets
    from dli_check.values.icd10cm import code_index

    icd, _ = code_sets(load_rules().latest.model)
    kind, _ = icd["dli_malignancy_diagnoses"].describe(code, code_index())
    assert (kind == "listed") is inside


def test_headings_on_a_claim_are_not_billable() -> None:
    line = evaluate(mutate({"patient.diagnoses": ["C92", "C90.0"]}, READING)).services[0]
    assert (line.decision, line.missing) == (INS, ("patient.diagnoses",))
    line = evaluate(mutate({"patient.diagnoses": ["C92", "C92.02"]}, READING)).services[0]
    assert line.decision == MN  # a billable listed code decides; the heading does not count


# (lymphocyte donor, transplant donor, same-donor status, its notes)
DONOR_WRITING_ROWS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("D-1", "D-1", "met", ()),
    ("d-1 ", "D-1", "met", ()),  # as people read them: no note
    ("1234-5678-9", "123456789", "met", ("1234-5678-9 and 123456789 match once hyphens are ignored",)),
    ("1234 5678", "12345678", "met", ("1234 5678 and 12345678 match once spaces are ignored",)),
    (
        "NMDP:1234-5678",
        "12345678",
        "met",
        (
            "NMDP:1234-5678 and 12345678 match once the registry prefix NMDP: and hyphens are "
            "ignored",
        ),
    ),
    ("NMDP: 42", "nmdp:42", "met", ("NMDP: 42 and nmdp:42 match once the registry prefix NMDP: is ignored",)),
    ("D.1/A", "d1a", "met", ("D.1/A and d1a match once other punctuation is ignored",)),
    ("NMDP:42", "BMDW:42", "not_met", ("the lymphocyte donor (NMDP:42) is not the transplant's donor (BMDW:42)",)),
    ("D-12", "D-1", "not_met", ("the lymphocyte donor (D-12) is not the transplant's donor (D-1)",)),
]  # fmt: skip


@pytest.mark.parametrize(("lymphocytes", "transplant", "status", "notes"), DONOR_WRITING_ROWS)
def test_donor_ids_that_differ_only_in_writing(
    lymphocytes: str, transplant: str, status: str, notes: tuple[str, ...]
) -> None:
    case = mutate(
        {"services.0.lymphocyte_donor_id": lymphocytes, "transplants.0.donor_id": transplant}
    )
    (reason,) = [r for r in evaluate(case).services[0].reasons if r.criterion == "same-donor"]
    assert (reason.status, reason.notes) == (status, notes)


# (what the 86999 line says, decision, action, the criterion that decided, line notes)
GENETIC_MODIFICATION_ROWS: list[tuple[dict[str, Any], str, str, str, tuple[str, ...]]] = [
    ({}, NMN, "refer_to_clinical_reviewer", "genetic-modification-never-medically-necessary", (BARE_86999,)),
    ({"genetically_modified": None}, NMN, "refer_to_clinical_reviewer", "genetic-modification-never-medically-necessary", (BARE_86999,)),
    ({"genetically_modified": True}, NMN, "refer_to_clinical_reviewer", "genetic-modification-never-medically-necessary", ()),
    ({"genetically_modified": False}, "not_applicable", "none", "governed-by-the-guideline", ()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("said", "decision", "action", "criterion", "notes"), GENETIC_MODIFICATION_ROWS
)
def test_86999_is_governed_only_as_genetic_modification(
    said: dict[str, Any], decision: str, action: str, criterion: str, notes: tuple[str, ...]
) -> None:
    line = evaluate(mutate({"services": [{"code": "86999", **said}]})).services[0]
    assert (line.decision, line.action, [r.criterion for r in line.reasons], line.notes) == (
        decision,
        action,
        [criterion],
        notes,
    )
    if decision == "not_applicable":
        assert line.service is None
        assert line.reasons[0].citation.quote == (
            "86999 Unlisted transfusion medicine procedure [when specified as genetic "
            "modification of donor lymphocytes]"
        )


# The graft in place decides the donor (and every transplant criterion of an infusion).
def _transplant(kind: str, status: str, date: str | None, donor: str) -> dict[str, Any]:
    found = {"type": kind, "status": status, "medically_necessary": True}
    return found | {"indication": "C92.00", "donor_id": donor} | ({"date": date} if date else {})


ALLO_A = _transplant("allogeneic", "completed", "2023-01-05", "D-A1")
ALLO_B = _transplant("allogeneic", "completed", "2024-10-02", "D-B2")
IN_PLACE = "is the graft in place: the latest allogeneic transplant completed before the infusion"

# (name, transplants, lymphocyte donor, decision, record judged, {criterion: (status, notes)})
GRAFT_ROWS: list[tuple[str, list[dict[str, Any]], str, str, str, dict[str, Any]]] = [
    ("the later allograft's donor", [ALLO_A, ALLO_B], "D-B2", MN, "transplants[1]", {}),
    (
        "a superseded donor",
        [ALLO_A, ALLO_B],
        "D-A1",
        NMN,
        "transplants[1]",
        {
            "same-donor": (
                "not_met",
                (
                    "the lymphocyte donor (D-A1) is not the transplant's donor (D-B2)",
                    f"transplants[0] meets it, but transplants[1] (2024-10-02) {IN_PLACE}",
                ),
            )
        },
    ),
    (
        "listed in the other order, the same",
        [ALLO_B, ALLO_A],
        "D-A1",
        NMN,
        "transplants[0]",
        {
            "same-donor": (
                "not_met",
                (
                    "the lymphocyte donor (D-A1) is not the transplant's donor (D-B2)",
                    f"transplants[1] meets it, but transplants[0] (2024-10-02) {IN_PLACE}",
                ),
            )
        },
    ),
    (
        "a donor of neither, whatever the order",
        [ALLO_A, {**ALLO_B, "date": None}],
        "D-X",
        NMN,
        "transplants[0]",
        {
            "same-donor": (
                "not_met",
                ("the lymphocyte donor (D-X) is not the transplant's donor (D-A1)",),
            )
        },
    ),
    (
        "the order cannot be told and the donors differ: the date is asked for",
        [ALLO_A, {k: v for k, v in ALLO_B.items() if k != "date"}],
        "D-A1",
        INS,
        "transplants[0]",
        {
            "same-donor": (
                "unknown",
                ("which of transplants is the graft in place depends on transplants[1].date",),
            )
        },
    ),
    (
        "an autologous transplant neither counts nor displaces",
        [ALLO_A, _transplant("autologous", "completed", "2024-10-02", "SELF")],
        "D-A1",
        MN,
        "transplants[0]",
        {},
    ),
    (
        "a planned second allograft is not yet in place",
        [ALLO_A, _transplant("allogeneic", "planned", "2025-06-01", "D-B2")],
        "D-B2",
        NMN,
        "transplants[0]",
        {
            "same-donor": (
                "not_met",
                (
                    "the lymphocyte donor (D-B2) is not the transplant's donor (D-A1)",
                    f"transplants[1] meets it, but transplants[0] (2023-01-05) {IN_PLACE}",
                ),
            )
        },
    ),
    (
        "an allograft after the infusion is not in place",
        [ALLO_A, _transplant("allogeneic", "completed", "2025-06-01", "D-B2")],
        "D-A1",
        MN,
        "transplants[0]",
        {},
    ),
    (
        "the graft in place fails: an earlier allograft does not rescue the line",
        [ALLO_A, {**ALLO_B, "medically_necessary": False}],
        "D-B2",
        NMN,
        "transplants[1]",
        {
            "transplant-medically-necessary": (
                "not_met",
                ("the transplant was medically necessary: no",),
            )
        },
    ),
    (
        "no graft in place: the lymphocyte donor's transplant is judged, not the first",
        [
            _transplant("autologous", "completed", "2023-01-05", "SELF"),
            _transplant("allogeneic", "planned", "2025-06-01", "D-B2"),
        ],
        "D-B2",
        NMN,
        "transplants[1]",
        {
            "transplant-completed": (
                "not_met",
                (
                    "the transplant's status is planned, not completed",
                    "the infusion (2025-03-03) is not after the transplant (2025-06-01)",
                ),
            )
        },
    ),
]


@pytest.mark.parametrize(
    ("transplants", "donor", "decision", "record", "failing"),
    [r[1:] for r in GRAFT_ROWS],
    ids=[r[0] for r in GRAFT_ROWS],
)
def test_the_graft_in_place_decides(
    transplants: list[dict[str, Any]],
    donor: str,
    decision: str,
    record: str,
    failing: dict[str, Any],
) -> None:
    changes: dict[str, Any] = {
        "transplants": [{k: v for k, v in t.items() if v is not None} for t in transplants]
    }
    changes |= {"services.0.lymphocyte_donor_id": donor, "services.0.date": "2025-03-03"}
    line = evaluate(mutate(changes)).services[0]
    assert line.decision == decision
    bound = {r.criterion: r for r in line.reasons if r.record is not None}
    assert {r.record for r in bound.values()} == {record}
    assert {c: (r.status, r.notes) for c, r in bound.items() if r.status != "met"} == failing


def test_collection_keeps_any_allograft_planned_or_done() -> None:
    planned = _transplant("allogeneic", "planned", "2025-06-01", "D-B2")
    case = mutate(
        {"transplants": [ALLO_A, planned], "services.0.lymphocyte_donor_id": "D-B2"},
        mutate(COLLECTION),
    )
    line = evaluate(case).services[0]
    assert (line.decision, {r.record for r in line.reasons}) == (MN, {"transplants[1]"})


# An infusion beside a genetic-modification line (86999) for the same lymphocyte donor.
BESIDE = "the claim also carries genetic modification of these lymphocytes: services[1] (86999)"
INFUSION = {"code": "38242", "date": "2025-09-02", "lymphocyte_donor_id": "D-1"}
BY_DEFAULT = (
    "met by default: genetic modification is billed on its own line (CPT 86999), and the claim "
    "has none for these lymphocytes"
)

# (name, the infusion's changes, the other line, status, missing, notes)
BESIDE_ROWS: list[tuple[str, dict[str, Any], dict[str, Any], str, tuple[str, ...], tuple[str, ...]]] = [
    ("the same donor: the default does not apply", {}, {"code": "86999", "lymphocyte_donor_id": "D-1"}, "not_met", (), (BESIDE,)),
    ("the same donor, written differently", {}, {"code": "86999-59", "lymphocyte_donor_id": "d-1"}, "not_met", (), (BESIDE,)),
    ("an explicit false beside it is a conflict", {"genetically_modified": False}, {"code": "86999", "lymphocyte_donor_id": "D-1"}, "not_met", (), (BESIDE,)),
    ("the line names the service", {}, {"service": "genetic_modification_of_donor_lymphocytes", "lymphocyte_donor_id": "D-1"}, "not_met", (), ("the claim also carries genetic modification of these lymphocytes: services[1] (genetic_modification_of_donor_lymphocytes)",)),
    ("another donor's lymphocytes", {}, {"code": "86999", "lymphocyte_donor_id": "D-7"}, "met", (), (BY_DEFAULT,)),
    ("an 86999 line that says it is not genetic modification", {}, {"code": "86999", "lymphocyte_donor_id": "D-1", "genetically_modified": False}, "met", (), (BY_DEFAULT,)),
    ("said not modified, and nothing else says so: not by default", {"genetically_modified": False}, {"code": "99215"}, "met", (), ()),
    ("no donor on the other line: asked for", {}, {"code": "86999"}, "unknown", ("services[1].lymphocyte_donor_id",), ()),
    ("another kind of line", {}, {"code": "99215", "lymphocyte_donor_id": "D-1"}, "met", (), (BY_DEFAULT,)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("infusion", "other", "status", "missing", "notes"),
    [r[1:] for r in BESIDE_ROWS],
    ids=[r[0] for r in BESIDE_ROWS],
)
def test_an_infusion_beside_genetic_modification(
    infusion: dict[str, Any],
    other: dict[str, Any],
    status: str,
    missing: tuple[str, ...],
    notes: tuple[str, ...],
) -> None:
    line = evaluate(mutate({"services": [INFUSION | infusion, other]})).services[0]
    (reason,) = [r for r in line.reasons if r.criterion == "not-genetically-modified"]
    assert (reason.status, reason.missing, reason.notes) == (status, missing, notes)


_GAP_2024 = "ICD-10-CM FY2024 is not shipped here"
_NO_DATE = (
    "the line has no date of service, so its codes are read in FY2026 (April 1, 2026 update), "
    "the latest release here"
)
RELEASE_ROWS = [
    # (date of service, claim codes, status of diagnosis-listed, its notes)
    (
        "2024-06-03",
        ["C88.0"],
        "met",
        [
            "C88.0 is listed: C88.0-C88.9 Malignant immunoproliferative diseases and certain other "
            "B-cell lymphoma; C88.0 is billable in FY2021 (January 1, 2021 update) but not in "
            f"FY2025 (April 1, 2025 update): {_GAP_2024}, so either is accepted"
        ],
    ),
    (
        "2025-06-03",
        ["C88.0"],
        "unknown",
        ["C88.0 is not a billable code (C88.0 → C88.00 or C88.01)"],
    ),
    (
        "2026-06-03",
        ["C88.00"],
        "met",
        [
            "C88.00 is listed: C88.0-C88.9 Malignant immunoproliferative diseases and certain other B-cell lymphoma"
        ],
    ),
    (
        "2024-11-03",
        ["C81.9A"],
        "met",
        [
            'C81.9A is counted: an "in remission" code that ICD-10-CM added in FY2025, after the '
            "guideline's last review (2023-05-11); it refines a category that the printed range "
            "covers from its first to its last code, so it is counted with that range; C81.9A is "
            "billable in FY2025 (April 1, 2025 update) but not in FY2021 (January 1, 2021 update): "
            "ICD-10-CM FY2025 is not shipped here, so either is accepted"
        ],
    ),
    ("2026-11-03", ["C92.02"], "met", ["C92.02 is listed: C92.00-C92.92 Myeloid leukemia"]),
    (None, ["C92.02"], "met", ["C92.02 is listed: C92.00-C92.92 Myeloid leukemia", _NO_DATE]),
    (
        None,
        ["C88.0"],
        "unknown",
        ["C88.0 is not a billable code (C88.0 → C88.00 or C88.01)", _NO_DATE],
    ),
]


@pytest.mark.parametrize(("day", "codes", "status", "notes"), RELEASE_ROWS)
def test_claim_codes_are_read_in_the_release_of_the_date_of_service(
    day: str | None, codes: list[str], status: str, notes: list[str]
) -> None:
    case = mutate({"patient.diagnoses": codes, "services.0.date": day or DELETE})
    line = evaluate(case).services[0]
    reason = next(r for r in line.reasons if r.criterion == "diagnosis-listed")
    assert (reason.status, reason.notes) == (status, tuple(notes))


def test_an_indication_of_any_release_counts() -> None:
    # C88.0 was billable in FY2021; as clinical history it counts whatever the line's date.
    line = evaluate(mutate({"transplants.0.indication": "C88.0"})).services[0]
    reason = next(
        r for r in line.reasons if r.criterion == "transplant-treated-hematologic-malignancy"
    )
    assert (reason.status, reason.notes) == (
        "met",
        (
            "C88.0 is listed: C88.0-C88.9 Malignant immunoproliferative diseases and certain other B-cell lymphoma",
        ),
    )
