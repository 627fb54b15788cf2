"""The compact ICD-10-CM index is the package's data, and codes normalise as documented."""

from __future__ import annotations

import datetime as dt

import pytest

from dli_check.values.codes import (
    ASK,
    LISTED,
    NOT_LISTED,
    CodeGroup,
    IcdCodeSet,
    IcdEntry,
    IcdRange,
)
from dli_check.values.icd10cm import (
    billable_choices,
    code_index,
    dotted,
    releases,
    releases_on,
    undotted,
)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_index_equals_the_packages_code_set_and_order() -> None:
    import simple_icd_10_cm as package

    codes = package.get_all_codes(with_dots=False)
    # A block of one category ("B10") has the category's name: it is listed twice.
    expected = list(dict.fromkeys(c for c in codes if package.is_category_or_subcategory(c)))
    index = code_index()
    assert [c for c in index.position if package.is_category_or_subcategory(c)] == expected
    for code in expected:
        position = index.position[code]
        subtree = [
            dotted(index.lines[p]) for p in range(position + 1, index.last_descendant(position) + 1)
        ]
        assert subtree == package.get_descendants(code, prioritize_blocks=False)


def test_release_is_named() -> None:
    index = code_index()
    assert index.release == "FY2026 (April 1, 2026 update)"
    assert index.source == "simple-icd-10-cm 1.5.0"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("C92.00", "C9200"),
        ("c9200", "C9200"),
        (" c92.00 ", "C9200"),
        ("Z94.84", "Z9484"),
        ("C84.A0", "C84A0"),
        ("c84a0", "C84A0"),
        ("C92", "C92"),
        ("S06.0X1A", "S060X1A"),
        ("C9.200", None),
        ("C92..00", None),
        ("92.00", None),
        ("C92.00000", None),
        ("", None),
        ("C92-C93", None),
    ],
)
def test_undotted(text: str, key: str | None) -> None:
    assert undotted(text) == key


@pytest.mark.parametrize(
    ("key", "printed"), [("C9200", "C92.00"), ("C92", "C92"), ("Z9484", "Z94.84")]
)
def test_dotted(key: str, printed: str) -> None:
    assert dotted(key) == printed


@pytest.mark.parametrize(
    ("heading", "choices"),
    [
        ("C819", "C81.90-C81.99 or C81.9A"),
        ("C920", "C92.00-C92.02"),
        ("Z948", "Z94.81-Z94.84 or Z94.89"),
        ("C81", "one of its 77 billable codes, C81.00 to C81.9A"),
        ("C8490", "C84.90"),  # a billable code is its own choice
    ],
)
def test_the_billable_choices_under_a_heading(heading: str, choices: str) -> None:
    index = code_index()
    position = index.find(heading)
    assert position is not None
    assert billable_choices(index, position) == choices


def test_releases_in_date_order() -> None:
    assert [(r.name, r.start, r.end) for r in releases()] == [
        ("FY2021 (January 1, 2021 update)", dt.date(2021, 1, 1), dt.date(2021, 9, 30)),
        ("FY2025 (April 1, 2025 update)", dt.date(2025, 4, 1), dt.date(2025, 9, 30)),
        ("FY2026 (April 1, 2026 update)", dt.date(2026, 4, 1), dt.date(2026, 9, 30)),
    ]
    assert releases()[-1].index() is code_index()


@pytest.mark.parametrize(
    ("day", "name", "why"),
    [
        ("2021-01-01", "FY2021 (January 1, 2021 update)", ""),
        ("2021-09-30", "FY2021 (January 1, 2021 update)", ""),
        (
            "2021-10-01",
            "FY2021 (January 1, 2021 update) or FY2025 (April 1, 2025 update)",
            "ICD-10-CM FY2022 is not shipped here, so a code valid in either FY2021 (January 1, "
            "2021 update) or FY2025 (April 1, 2025 update) is accepted",
        ),
        (
            "2025-03-31",
            "FY2021 (January 1, 2021 update) or FY2025 (April 1, 2025 update)",
            "ICD-10-CM FY2025 is not shipped here, so a code valid in either FY2021 (January 1, "
            "2021 update) or FY2025 (April 1, 2025 update) is accepted",
        ),
        ("2025-04-01", "FY2025 (April 1, 2025 update)", ""),
        ("2026-09-30", "FY2026 (April 1, 2026 update)", ""),
        (
            "2026-10-01",
            "FY2026 (April 1, 2026 update)",
            "ICD-10-CM FY2027 is not shipped here, so a code valid in FY2026 (April 1, 2026 "
            "update) is accepted",
        ),
        (
            "2020-12-31",
            "FY2021 (January 1, 2021 update)",
            "ICD-10-CM FY2021 is not shipped here, so a code valid in FY2021 (January 1, 2021 "
            "update) is accepted",
        ),
        (
            None,
            "FY2026 (April 1, 2026 update)",
            "the line has no date of service, so its codes are read in FY2026 (April 1, 2026 "
            "update), the latest release here",
        ),
    ],
)
def test_the_releases_of_a_date_of_service(day: str | None, name: str, why: str) -> None:
    choice = releases_on(dt.date.fromisoformat(day) if day else None)
    assert (choice.name, choice.why) == (name, why)


HODGKIN = IcdCodeSet(
    "hodgkin",
    "Hodgkin lymphoma",
    (IcdEntry(IcdRange.parse("C81.00-C81.99"), "Hodgkin lymphoma"),),
    (),
    also_includes=(CodeGroup((IcdRange.parse("C81.9A"),), "an in-remission code"),),
)


@pytest.mark.parametrize(
    ("code", "day", "kind", "note"),
    [
        ("C81.90", "2021-06-03", LISTED, "C81.90 is listed: C81.00-C81.99 Hodgkin lymphoma"),
        (
            "C81.9A",
            "2021-06-03",
            ASK,
            "C81.9A is not a code in ICD-10-CM FY2021 (January 1, 2021 update)",
        ),
        ("C81.9A", "2025-06-03", LISTED, "C81.9A is counted: an in-remission code"),
        (
            "C81.9A",
            "2020-11-03",
            ASK,
            "C81.9A is not a code in ICD-10-CM FY2021 (January 1, 2021 update); ICD-10-CM FY2021 "
            "is not shipped here, so a code valid in FY2021 (January 1, 2021 update) is accepted",
        ),
        ("C81.9", "2021-06-03", ASK, "C81.9 is not a billable code (C81.9 → C81.90-C81.99)"),
        (
            "C81.9",
            "2025-06-03",
            ASK,
            "C81.9 is not a billable code (C81.9 → C81.90-C81.99 or C81.9A)",
        ),
        (
            "C92.00",
            "2021-06-03",
            NOT_LISTED,
            "C92.00 (Acute myeloblastic leukemia, not having achieved remission) is not in "
            "Hodgkin lymphoma",
        ),
    ],
)
def test_a_billed_code_is_judged_by_the_release_of_its_date(
    code: str, day: str, kind: str, note: str
) -> None:
    on = releases_on(dt.date.fromisoformat(day))
    assert HODGKIN.describe(code, code_index(), on) == (kind, note)


def test_a_code_retired_since_is_placed_by_its_nearest_ancestor() -> None:
    index = code_index()
    # A code the latest release lacks (as if retired): its category stands for it.
    assert index.place("C8199Z") == index.find("C8199")
    assert index.place("C819") == index.find("C819")
    assert index.place("U8899") is None
