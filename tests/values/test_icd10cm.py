"""The compact ICD-10-CM index is the package's data, and codes normalise as documented."""

from __future__ import annotations

import pytest

from dli_check.values.icd10cm import billable_choices, code_index, dotted, undotted


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
