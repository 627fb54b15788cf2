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
>>> form["item"][2]["item"][2]["linkId"], form["item"][2]["item"][2]["type"]
('services[0].date', 'date')
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dli_check.inputs.fhir import RECORD_ITEM, SERVICE_SYSTEM, SYSTEM_URIS
from dli_check.language.fact_types import FACT_TYPES

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.language.facts import Fact
    from dli_check.results import CaseResult


def questionnaire(
    rules: Decider | None = None,
    result: CaseResult | None = None,
    *,
    base_url: str | None = None,
    terminology_server: str | None = None,
) -> dict[str, Any]:
    """A FHIR R4 Questionnaire, as JSON data: of every fact the rule file declares (one
    record of each list and one service line, at index 0), or, given a `result`, of
    exactly the facts it lacks, each addressed to its record. `rules` defaults to the
    bundled CG-TRANS-03.

    The full form is the one DTR serves: its canonical is stable per rule file and version
    (`canonical`), a list's group repeats, a service line's questions are asked only for
    the services that read them (``enableWhen`` on the line's service), and a code's
    answers come from the ValueSet `value_sets` carries in the package (with `base_url`),
    or from `terminology_server`."""
    if rules is None:
        from dli_check.api import load_rules

        rules = load_rules()
    guideline = rules.latest.model.guideline
    name = guideline.id.lower()
    url = canonical(rules, base_url)
    answers = _Answers(rules, base_url, terminology_server)
    form: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": name if result is None else f"{name}-{_slug(result.case_id)}",
        "meta": {"profile": ["http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire"]},
        "url": url if result is None else f"{url}-{_slug(result.case_id)}",
        "version": form_version(rules),
        "name": "".join(part.capitalize() for part in name.split("-")),
        "title": f"{guideline.id}: {' '.join(guideline.title.split())}",
        "status": "active",
        "subjectType": ["Patient"],
        "date": guideline.last_review_date.isoformat(),
        "item": list(
            _all_items(rules, answers) if result is None else _missing_items(rules, result, answers)
        ),
    }
    return form


def canonical(rules: Decider, base_url: str | None = None) -> str:
    """The full form's canonical URL: ``{base_url}/Questionnaire/{id}``, or
    ``urn:dli-check:{id}`` without a base; one per rule file, whatever the decision."""
    name = rules.latest.model.guideline.id.lower()
    return f"{base_url.rstrip('/')}/Questionnaire/{name}" if base_url else f"urn:dli-check:{name}"


def form_version(rules: Decider) -> str:
    """The form's version: the guideline's review date and the rule file's sha256 prefix."""
    return f"{rules.latest.model.guideline.last_review_date}+{rules.sha256[:12]}"


def needed_facts(rules: Decider) -> frozenset[str]:
    """The declared facts (``visit.date``) that some criterion reads."""
    return frozenset(f for facts in _facts_by_service(rules).values() for f in facts)


def _facts_by_service(rules: Decider) -> dict[str, frozenset[str]]:
    """Service id -> the declared facts its criteria and its route read: every fact a
    condition names (under whatever key: ``fact``, ``before``, ``birth``...), the inputs
    of the derived numbers it names, and what the named conditions it uses read."""
    model, case_format = rules.latest.model, rules.latest.case_format
    named = {name: cond.model_dump(by_alias=True) for name, cond in model.conditions.items()}

    def names(value: Any, expanding: tuple[str, ...] = ()) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "use" and item in named and item not in expanding:
                    yield from names(named[item], (*expanding, item))
                else:
                    yield from names(item, expanding)
        elif isinstance(value, list):
            for item in value:
                yield from names(item, expanding)
        elif isinstance(value, str):
            if value in case_format.facts:
                yield value
            elif value in case_format.derived:
                yield from case_format.derived[value].inputs

    found = {}
    for service in model.services:
        dumped = service.model_dump(by_alias=True)
        found[service.id] = frozenset(names([dumped["criteria"], dumped.get("route")]))
    return found


def _code_sets_of(rules: Decider) -> dict[str, list[str]]:
    """Fact -> the ICD-10-CM code sets criteria test it against, in the rule file's order."""
    found: dict[str, list[str]] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            test = value.get("in_code_set")
            if isinstance(test, dict) and isinstance(test.get("fact"), str):
                sets = found.setdefault(test["fact"], [])
                if test.get("code_set") not in sets:
                    sets.append(test["code_set"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk([service.model_dump()["criteria"] for service in rules.latest.model.services])
    return found


class _Answers:
    """Where a coded question's answers come from: a ValueSet the package carries (with a
    base URL), the code system's implicit value set on a terminology server, or the implicit
    value set alone."""

    def __init__(self, rules: Decider, base_url: str | None, server: str | None) -> None:
        self.rules, self.base_url, self.server = rules, base_url, server
        self.sets = _code_sets_of(rules)

    def bind(self, fact: Fact, item: dict[str, Any]) -> None:
        d = fact.declaration
        if not (FACT_TYPES[d.type].coded and d.system):
            return
        if self.server is not None or self.base_url is None or fact.path not in self.sets:
            item["answerValueSet"] = f"{SYSTEM_URIS[d.system][0]}?fhir_vs"
            if self.server is not None:
                item["extension"] = [{"url": _TERMINOLOGY_SERVER, "valueUrl": self.server}]
            return
        url = _value_set_url(self.rules, fact.path, self.base_url)
        item["answerValueSet"] = f"{url}|{form_version(self.rules)}"
        # Where a renderer expands it: this service ($expand), as LHC-Forms asks.
        item["extension"] = [{"url": _TERMINOLOGY_SERVER, "valueUrl": self.base_url}]


_TERMINOLOGY_SERVER = (
    "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-preferredTerminologyServer"
)


def _value_set_url(rules: Decider, fact_path: str, base_url: str) -> str:
    name = rules.latest.model.guideline.id.lower()
    return f"{base_url.rstrip('/')}/ValueSet/{name}-{fact_path.replace('.', '-')}"


def value_sets(rules: Decider, base_url: str, *, when: str) -> list[dict[str, Any]]:
    """The ValueSets the full form's coded questions bind (with `base_url`): per fact, the
    billable codes of the code sets criteria test it against, in the installed
    ICD-10-CM release, expanded (with each code's words) at `when` (an ISO dateTime)."""
    from dli_check.compiler.criteria import code_sets
    from dli_check.values.icd10cm import code_index, description, dotted

    icd_sets, _ = code_sets(rules.latest.model)
    index = code_index()
    guideline, version = rules.latest.model.guideline, form_version(rules)
    found = []
    for fact_path, names in _code_sets_of(rules).items():
        keys: dict[str, None] = {}
        for code_set in (icd_sets[n] for n in names if n in icd_sets):
            ranges = [e.codes for e in code_set.entries]
            ranges += [r for group in code_set.also_includes for r in group.codes]
            for codes in ranges:
                for position in range(codes.low, codes.high + 1):
                    key = index.lines[position]
                    if key[:1].isalpha() and not index.is_heading(position):
                        keys[key] = None
        system = SYSTEM_URIS["ICD-10-CM"][0]
        concepts = [{"code": dotted(k), "display": description(k) or dotted(k)} for k in keys]
        url = _value_set_url(rules, fact_path, base_url)
        found.append(
            {
                "resourceType": "ValueSet",
                "id": url.rsplit("/", 1)[1],
                "url": url,
                "version": version,
                "name": "".join(p.capitalize() for p in url.rsplit("/", 1)[1].split("-")),
                "title": f"{guideline.id}: the ICD-10-CM codes criteria test {fact_path} against",
                "status": "active",
                "compose": {
                    "include": [
                        {"system": system, "concept": [{"code": c["code"]} for c in concepts]}
                    ]
                },
                "expansion": {
                    "identifier": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url + '|' + version)}",
                    "timestamp": when,
                    "total": len(concepts),
                    "parameter": [
                        {"name": "system-version", "valueUri": f"{system}|{index.release}"}
                    ],
                    "contains": [{"system": system, **c} for c in concepts],
                },
            }
        )
    return found


def expand(
    value_set: Mapping[str, Any], *, text: str | None = None, offset: int = 0, count: int = 1000
) -> dict[str, Any]:
    """A ``ValueSet/$expand`` answer: `value_set` with only the codes whose code or words
    hold `text` (any case), from `offset`, `count` at most; ``total`` counts every match."""
    contains = value_set["expansion"]["contains"]
    if text:
        wanted = text.casefold()
        contains = [
            c
            for c in contains
            if wanted in c["code"].casefold() or wanted in c["display"].casefold()
        ]
    expansion = {
        **value_set["expansion"],
        "total": len(contains),
        "offset": offset,
        "contains": contains[offset : offset + count],
    }
    if text:
        expansion["parameter"] = [*expansion["parameter"], {"name": "filter", "valueString": text}]
    return {**value_set, "expansion": expansion}


def _all_items(rules: Decider, answers: _Answers) -> Iterator[dict[str, Any]]:
    d, facts, needed = rules.case_format.declaration, rules.case_format.facts, needed_facts(rules)
    for name, record in d.records.items():
        members = [facts[f"{name}.{f}"] for f in record.facts]
        yield _group(name, record.description, members, None, needed, answers)
    for name, listed in d.lists.items():
        members = [facts[f"{listed.item}.{f}"] for f in listed.facts]
        group = _group(f"{name}[0]", listed.description, members, 0, needed, answers)
        group["item"].insert(0, _record_item(f"{name}[0]"))
        yield {**group, "repeats": True}
    by_service = _facts_by_service(rules)
    labels = {s.id: s.label for s in rules.services.values()}
    readers = {  # the line's date decides its guideline version for every service
        f"service.{f}": [s for s in by_service if f == "date" or f"service.{f}" in by_service[s]]
        for f in d.service.facts
    }
    members = [facts[f"service.{f}"] for f in d.service.facts]
    line = _group(
        "services[0]", "The requested service line.", members, 0, needed, answers, readers, labels
    )
    line["item"].insert(0, _record_item("services[0]"))
    if len(by_service) > 1:  # which service the line is decides which questions apply
        line["item"].insert(
            1,
            {
                "linkId": "services[0].service",
                "text": "Which service is requested?",
                "type": "choice",
                "required": True,
                "answerOption": [
                    {"valueCoding": {"system": SERVICE_SYSTEM, "code": s, "display": labels[s]}}
                    for s in by_service
                ],
            },
        )
    yield line


def _record_item(group: str) -> dict[str, Any]:
    """The item that ties a group's answers to a record a resource gave (the package's
    draft response fills it in; empty for a record no resource gave)."""
    return {
        "linkId": group + RECORD_ITEM,
        "text": "The record these answers are about (filled in by the payer)",
        "type": "string",
        "required": False,
        "readOnly": True,
    }


def _group(
    link_id: str,
    text: str,
    members: list[Fact],
    index: int | None,
    needed: frozenset[str],
    answers: _Answers,
    readers: dict[str, list[str]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A group of questions. With `readers` (fact -> the services that read it) and
    `labels` (every service's), ``{service}`` in a question is the one service that reads
    it, and a question only some services read is enabled for those only."""
    items = []
    for fact in members:
        who = (readers or {}).get(fact.path, [])
        label = (labels or {}).get(who[0], "the service") if len(who) == 1 else "the service"
        question = fact.declaration.question.replace("{service}", label)
        item = _item(fact, fact.case_path(index), question, fact.path in needed, answers)
        if 0 < len(who) < len(labels or {}):
            item["enableWhen"] = [
                {
                    "question": "services[0].service",
                    "operator": "=",
                    "answerCoding": {"system": SERVICE_SYSTEM, "code": service},
                }
                for service in who
            ]
            if len(who) > 1:
                item["enableBehavior"] = "any"
        items.append(item)
    return {"linkId": link_id, "text": " ".join(text.split()), "type": "group", "item": items}


def _item(
    fact: Fact, link_id: str, question: str, required: bool, answers: _Answers | None = None
) -> dict[str, Any]:
    d = fact.declaration
    item: dict[str, Any] = {
        "linkId": link_id,
        "text": " ".join(question.split()),
        "type": FACT_TYPES[d.type].questionnaire_item,
        "required": required,
    }
    if d.type == "choice":
        system = f"urn:dli-check:choice:{fact.path}"
        item["answerOption"] = [
            {"valueCoding": {"system": system, "code": c, "display": c}} for c in d.choices or ()
        ]
    if answers is not None:
        answers.bind(fact, item)
    elif FACT_TYPES[d.type].coded and d.system:
        item["answerValueSet"] = f"{SYSTEM_URIS[d.system][0]}?fhir_vs"
    if FACT_TYPES[d.type].many:
        item["repeats"] = True
    return item


def _missing_items(
    rules: Decider, result: CaseResult, answers: _Answers
) -> Iterator[dict[str, Any]]:
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
                group = _group(f"{name}[0]", listed.question, members, 0, needed, answers)
                yield {**group, "repeats": True}
                continue
            fact = _fact_at(rules, name, field)
            if fact is not None:
                question = form.question(path, label) or path
                identity = identities.get(head)
                link_id = f"{name}[{identity}].{field}" if identity else path
                yield _item(fact, link_id, question, True, answers)


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


_DTR = "http://hl7.org/fhir/us/davinci-dtr/StructureDefinition"
_DOC_PURPOSE = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/coverage-information-codes"


def questionnaire_package(
    guidelines: list[Decider],
    parameters: Any,
    *,
    base_url: str,
    when: str,
    terminology_server: str | None = None,
    asked_in: Callable[[str], tuple[str, list[str]] | None] | None = None,
) -> dict[str, Any]:
    """DTR ``$questionnaire-package``: a ``Parameters`` in (one Coverage; orders,
    questionnaire canonicals or a CRD context id), a ``Parameters`` out with a package
    Bundle per form asked for (the Questionnaire first, a draft QuestionnaireResponse for
    the Coverage's member and the orders, the ValueSets it binds, expanded) and an
    ``outcome`` saying what was not found.

    Forms are chosen by the canonicals asked for; else by the rule files that govern an
    order's code; else by the guideline a context id (a ``coverage-assertion-id``) was
    decided by. `asked_in(context)` gives that guideline and the linkIds its decision asked
    about (``visits[Encounter/e-1].date``): the draft response then names those
    records, and each governed order, so that the answers are about them. Raises
    `InteropError` ``invalid`` for input the operation's profile does not allow."""
    coverage, orders, asked, context = _package_input(parameters)
    warnings: list[str] = []
    chosen: list[Decider] = []
    for wanted in asked:
        url, _, version = wanted.partition("|")
        found = [r for r in guidelines if canonical(r, base_url) == url]
        if not found:
            warnings.append(f"questionnaire {len(chosen) + len(warnings) + 1}: not served here")
        elif version and version != form_version(found[0]):
            warnings.append(
                f"questionnaire {url}: version {version} is not served; "
                f"the current one is {form_version(found[0])}"
            )
        elif found[0] not in chosen:
            chosen.append(found[0])
    decided = asked_in(context) if context is not None and asked_in is not None else None
    if not asked:
        chosen = [r for r in guidelines if any(_governs(r, order) for order in orders)]
        if not chosen and decided is not None:
            chosen = [r for r in guidelines if r.guideline_id == decided[0]]
    if not chosen and not warnings:
        warnings.append(
            "no questionnaire applies: no order is one a served guideline governs, and no "
            "context id names a decision of this service; no documentation is asked for"
        )
    out: list[dict[str, Any]] = []
    for rules in chosen:
        form = questionnaire(rules, base_url=base_url, terminology_server=terminology_server)
        records = _records(rules, orders, decided[1] if decided else [])
        entries = [form, _draft_response(form, coverage, orders, records)]
        if terminology_server is None:
            entries += value_sets(rules, base_url, when=when)
        bundle = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{form['url']}|{form['version']}")),
            "type": "collection",
            "timestamp": when,
            "entry": [{"fullUrl": _full_url(r, base_url), "resource": r} for r in entries],
        }
        out.append({"name": "packagebundle", "resource": bundle})
    if warnings:
        issues = [{"severity": "warning", "code": "not-found", "diagnostics": w} for w in warnings]
        out.append(
            {"name": "outcome", "resource": {"resourceType": "OperationOutcome", "issue": issues}}
        )
    return {"resourceType": "Parameters", "parameter": out}


def _package_input(
    parameters: Any,
) -> tuple[Mapping[str, Any], list[Mapping[str, Any]], list[str], str | None]:
    """The operation's input: its Coverage, orders, questionnaire canonicals, context."""
    from dli_check.interop.request import InteropError

    if not isinstance(parameters, Mapping) or parameters.get("resourceType") != "Parameters":
        raise InteropError("invalid", "the body must be a FHIR Parameters resource")
    coverages, orders, asked, contexts = [], [], [], []
    for i, parameter in enumerate(parameters.get("parameter") or []):
        where = f"Parameters.parameter[{i}]"
        if not isinstance(parameter, Mapping) or not isinstance(parameter.get("name"), str):
            raise InteropError("invalid", f"{where}.name: required, a string")
        name, resource = parameter["name"], parameter.get("resource")
        if name == "coverage":
            if not isinstance(resource, Mapping) or resource.get("resourceType") != "Coverage":
                raise InteropError("invalid", f"{where}.resource: must be a Coverage")
            if not isinstance(resource.get("id"), str):
                raise InteropError("invalid", f"{where}.resource.id: required, to refer to it")
            coverages.append(resource)
        elif name == "order":
            if not isinstance(resource, Mapping) or not isinstance(
                resource.get("resourceType"), str
            ):
                raise InteropError("invalid", f"{where}.resource: must be an order resource")
            orders.append(resource)
        elif name == "questionnaire":
            if not isinstance(parameter.get("valueCanonical"), str):
                raise InteropError("invalid", f"{where}.valueCanonical: required, a canonical")
            asked.append(parameter["valueCanonical"])
        elif name == "context":
            if not isinstance(parameter.get("valueString"), str):
                raise InteropError("invalid", f"{where}.valueString: required, a string")
            contexts.append(parameter["valueString"])
    if len(coverages) != 1:
        raise InteropError("invalid", "Parameters.parameter: exactly one coverage is required")
    if len(contexts) > 1:
        raise InteropError("invalid", "Parameters.parameter: one context at most")
    if not (orders or asked or contexts):
        raise InteropError(
            "invalid", "Parameters.parameter: an order, a questionnaire or a context is required"
        )
    return coverages[0], orders, asked, contexts[0] if contexts else None


def _governs(rules: Decider, order: Mapping[str, Any]) -> bool:
    """Whether a rule file routes one of an order's CPT, HCPCS or service codes."""
    systems = set(SYSTEM_URIS["CPT"] + SYSTEM_URIS["HCPCS"])
    code = order.get("code") or order.get("productOrService")
    for coding in (code.get("coding") if isinstance(code, Mapping) else None) or []:
        if not isinstance(coding, Mapping) or not isinstance(coding.get("code"), str):
            continue
        if coding.get("system") == SERVICE_SYSTEM and coding["code"] in rules.services:
            return True
        if coding.get("system") in systems and rules.latest.service_for_code(coding["code"]):
            return True
    return False


def _records(
    rules: Decider, orders: list[Mapping[str, Any]], asked: list[str]
) -> dict[str, list[str]]:
    """Group (``visits``, ``services``) -> the records a draft response names: those a
    decision asked about by resource, then each order the rule file governs."""
    found: dict[str, list[str]] = {}
    for link_id in asked:
        head = link_id.partition("].")[0]
        name, _, key = head.partition("[")
        if key and not key.isdigit() and key not in found.get(name, []):
            found.setdefault(name, []).append(key)
    for order in orders:
        key = f"{order.get('resourceType')}/{order.get('id')}"
        if _governs(rules, order) and key not in found.get("services", []):
            found.setdefault("services", []).append(key)
    return found


def _draft_response(
    form: Mapping[str, Any],
    coverage: Mapping[str, Any],
    orders: list[Mapping[str, Any]],
    records: dict[str, list[str]],
) -> dict[str, Any]:
    """The package's draft QuestionnaireResponse: for the Coverage's member, tied to the
    Coverage and the orders (DTR qr-coverage, qr-context), with a group per record it is
    about (`_records`), named in its ``:record`` item; its answers to come."""
    extensions = [
        {"url": f"{_DTR}/qr-coverage", "valueReference": {"reference": _reference(coverage)}},
        *(
            {"url": f"{_DTR}/qr-context", "valueReference": {"reference": _reference(o)}}
            for o in orders
            if isinstance(o.get("id"), str)
        ),
        {
            "url": f"{_DTR}/intendedUse",
            "valueCodeableConcept": {"coding": [{"system": _DOC_PURPOSE, "code": "withpa"}]},
        },
    ]
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": f"{form['id']}-draft",
        "extension": extensions,
        "questionnaire": f"{form['url']}|{form['version']}",
        "status": "in-progress",
    }
    items = []
    for group in form["item"]:
        name = group["linkId"].partition("[")[0]
        for key in records.get(name, []):
            record = {"linkId": group["linkId"] + RECORD_ITEM, "answer": [{"valueString": key}]}
            items.append({"linkId": group["linkId"], "item": [record]})
    if items:
        response["item"] = items
    member = coverage.get("beneficiary")
    if isinstance(member, Mapping) and isinstance(member.get("reference"), str):
        response["subject"] = {"reference": member["reference"]}
    return response


def _reference(resource: Mapping[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def _full_url(resource: Mapping[str, Any], base_url: str) -> str:
    if resource["resourceType"] == "QuestionnaireResponse":
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, resource['questionnaire'])}"
    return f"{base_url.rstrip('/')}/{resource['resourceType']}/{resource['id']}"
