"""The operator table is complete: every operator the rule language parses (the `Condition`
union) has one row in `OPERATORS`, with its model, its compiler and its words, and no row
is missing from the union. Adding an operator ends here (see CONTRIBUTING.md)."""

from __future__ import annotations

from typing import Annotated, get_args, get_origin

from dli_check.language.operators import OPERATORS, Condition, operator_of


def _tagged() -> dict[str, type]:
    union = get_args(Condition)[0]  # Annotated[Union[Annotated[Model, Tag(name)], ...], ...]
    found = {}
    for member in get_args(union):
        assert get_origin(member) is Annotated
        model, tag = get_args(member)[0], get_args(member)[1]
        found[tag.tag] = model
    return found


def test_every_parsed_operator_has_a_row_and_every_row_is_parsed() -> None:
    tagged = _tagged()
    assert sorted(tagged) == sorted(OPERATORS)
    for name, model in tagged.items():
        row = OPERATORS[name]
        assert row.model is model, name
        assert callable(row.compile) and callable(row.text), name


def test_a_parsed_condition_names_its_operator() -> None:
    for name, row in OPERATORS.items():
        assert operator_of({name: {}}) == name
        assert row.name == name
