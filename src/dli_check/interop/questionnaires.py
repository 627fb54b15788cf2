"""Questions out: a FHIR R4 Questionnaire (SDC-compatible, for Da Vinci DTR) of a rule
file's facts, or of exactly the facts a result lacks.

Each item's ``linkId`` is the fact's path in a case (``visits[0].date``), with a record
that a FHIR resource gave named by that resource (``visits[Encounter/e-1].date``), so
that an answer stays with its record whatever order a later Bundle lists them in. Its
``text`` is the question the rule file declares, its ``type`` follows the fact's type. A
QuestionnaireResponse that answers it, added to the Bundle, completes the case: the FHIR
reader (`dli_check.inputs.fhir`) reads answers by the same linkIds.

>>> from dli_check import load_rules
>>> form = questionnaire(load_rules())
>>> form["resourceType"], [item["type"] for item in form["item"]]
('Questionnaire', ['group', 'group', 'group'])
>>> form["item"][2]["item"][0]["linkId"], form["item"][2]["item"][0]["type"]
('services[0].date', 'date')
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from dli_check.inputs.fhir import SYSTEM_URIS
from dli_check.language.fact_types import FACT_TYPES

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.language.facts import Fact
    from dli_check.results import CaseResult

_FACT_KEYS = ("fact", "other", "is_true", "present")


def questionnaire(
    rules: Decider | None = None, result: CaseResult | None = None, *, base_url: str | None = None
) -> dict[str, Any]:
    """A FHIR R4 Questionnaire, as JSON data: of every fact the rule file declares (one
    record of each list and one service line, at index 0), or, given a `result`, of
    exactly the facts it lacks, each addressed to its record. `rules` defaults to the
    bundled CG-TRANS-03."""
    if rules is None:
        from dli_check.api import load_rules

        rules = load_rules()
    guideline = rules.latest.model.guideline
    name = guideline.id.lower()
    url = f"{base_url.rstrip('/')}/Questionnaire/{name}" if base_url else f"urn:dli-check:{name}"
    form: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": name if result is None else f"{name}-{_slug(result.case_id)}",
        "meta": {"profile": ["http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"]},
        "url": url if result is None else f"{url}-{_slug(result.case_id)}",
        "version": f"{guideline.last_review_date}+{rules.sha256[:12]}",
        "name": "".join(part.capitalize() for part in name.split("-")),
        "title": f"{guideline.id}: {' '.join(guideline.title.split())}",
        "status": "active",
        "subjectType": ["Patient"],
        "date": guideline.last_review_date.isoformat(),
        "item": list(_all_items(rules) if result is None else _missing_items(rules, result)),
    }
    return form


def needed_facts(rules: Decider) -> frozenset[str]:
    """The declared facts (``visit.date``) that some criterion reads."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in _FACT_KEYS and isinstance(item, str):
                    found.add(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk([service.model_dump()["criteria"] for service in rules.latest.model.services])
    return frozenset(found)


def _all_items(rules: Decider) -> Iterator[dict[str, Any]]:
    d, facts, needed = rules.case_format.declaration, rules.case_format.facts, needed_facts(rules)
    for name, record in d.records.items():
        members = [facts[f"{name}.{f}"] for f in record.facts]
        yield _group(name, record.description, members, None, needed)
    for name, listed in d.lists.items():
        members = [facts[f"{listed.item}.{f}"] for f in listed.facts]
        yield _group(f"{name}[0]", listed.description, members, 0, needed)
    members = [facts[f"service.{f}"] for f in d.service.facts]
    yield _group("services[0]", "The requested service line.", members, 0, needed)


def _group(
    link_id: str, text: str, members: list[Fact], index: int | None, needed: frozenset[str]
) -> dict[str, Any]:
    return {
        "linkId": link_id,
        "text": " ".join(text.split()),
        "type": "group",
        "item": [
            _item(fact, fact.case_path(index), fact.declaration.question, fact.path in needed)
            for fact in members
        ],
    }


def _item(fact: Fact, link_id: str, question: str, required: bool) -> dict[str, Any]:
    d = fact.declaration
    item: dict[str, Any] = {
        "linkId": link_id,
        "text": " ".join(question.split()),
        "type": FACT_TYPES[d.type].questionnaire_item,
        "required": required,
    }
    if d.type == "choice":
        item["answerOption"] = [{"valueCoding": {"code": c, "display": c}} for c in d.choices or ()]
    if FACT_TYPES[d.type].coded and d.system:
        item["answerValueSet"] = f"{SYSTEM_URIS[d.system][0]}?fhir_vs"
    if FACT_TYPES[d.type].many:
        item["repeats"] = True
    return item


def _missing_items(rules: Decider, result: CaseResult) -> Iterator[dict[str, Any]]:
    """An item per missing fact of the result, in the order the lines name them; a
    missing list (no record at all) becomes a group asking for its first record."""
    form, needed = rules.case_format, needed_facts(rules)
    labels = {s.id: s.label for s in rules.services.values()}
    # A record read from a resource is asked about by that resource, never by position.
    identities = {s.fact: s.places[0] for s in result.sources if "." not in s.fact}
    seen: set[str] = set()
    for line in result.services:
        label = labels.get(line.service or "", "the service")
        for path in (*line.missing, *(m for r in line.reasons for m in r.missing)):
            if path in seen:
                continue
            seen.add(path)
            head, _, field = path.partition(".")
            name = head.split("[", 1)[0]
            if not field and name in form.declaration.lists:
                listed = form.declaration.lists[name]
                members = [form.facts[f"{listed.item}.{f}"] for f in listed.facts]
                yield _group(f"{name}[0]", listed.question, members, 0, needed)
                continue
            fact = _fact_at(rules, name, field)
            if fact is not None:
                question = form.question(path, label) or path
                identity = identities.get(head)
                link_id = f"{name}[{identity}].{field}" if identity else path
                yield _item(fact, link_id, question, True)


def _fact_at(rules: Decider, name: str, field: str) -> Fact | None:
    d, facts = rules.case_format.declaration, rules.case_format.facts
    if name == "services":
        return facts.get(f"service.{field}")
    if name in d.lists:
        return facts.get(f"{d.lists[name].item}.{field}")
    return facts.get(f"{name}.{field}")


def _slug(text: str) -> str:
    """A case id as the tail of a FHIR id (letters, digits, '-' and '.', 64 at most)."""
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "-.") else "-" for c in text)
    return kept.strip("-")[:40] or "case"
