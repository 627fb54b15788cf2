"""FHIR R4 in: a Bundle becomes a case through the bindings the rule file declares.

Each entity of the case (a record, a list, the service lines) names its sources in the
Bundle (``Procedure`` resources coded 38240 or 38241, each ``Claim.item``), and each fact
says where it is in each source (FHIRPath, code systems, a map of codes to the fact's
words). Facts with no FHIR home are read from a QuestionnaireResponse whose item linkIds
are fact paths (``visits[0].date``).

What this module promises:

* the Bundle is checked against the FHIR R4 (R4B) models first; a problem names the
  element (``Bundle.entry[3].resource.code.coding[0].system``), never its value;
* every fact read names where it came from (``Procedure/hct-1.performedDateTime``);
* a fact found in two places that disagree is not picked: it is left out (unknown), and
  the disagreement is kept, naming both places;
* an absent element is no evidence: declared defaults hold only where the rule file says
  ``default_for_fhir``.

This module is imported only when a FHIR input is seen: ``pip install dli-check[fhir]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from dli_check.errors import CaseError, CaseProblem, DliCheckError, PathKey, format_path
from dli_check.language.fact_types import FACT_TYPES
from dli_check.values.systems import CODE_SYSTEMS

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.language.facts import Fact
    from dli_check.language.model import FhirSource, FhirValue
    from dli_check.results import CaseResult, ServiceResult

SYSTEM_URIS: dict[str, tuple[str, ...]] = {n: s.uris for n, s in CODE_SYSTEMS.items()}
"""The URIs a code system goes by on the wire; FHIRPath sees each list as ``%CPT`` etc."""
SERVICE_SYSTEM = "urn:dli-check:service"
"""The code system of a rule file's service ids, for orders of a service that has no
procedure code (FHIRPath sees it as ``%SERVICE``)."""

_log = logging.getLogger("dli_check.fhir")
_ENVIRONMENT = {name.replace("-", "_"): list(uris) for name, uris in SYSTEM_URIS.items()}
_ENVIRONMENT["SERVICE"] = [SERVICE_SYSTEM]
_LINK_ID = re.compile(
    r"([a-z][a-z0-9_]*)(?:\[([0-9]{1,4}|[A-Za-z][A-Za-z0-9+.:/#_-]{0,255})\])?\.([a-z][a-z0-9_]*)"
)
"""A fact path as a linkId: ``patient.diagnoses``, ``visits[0].date`` for a record the
answers add, ``visits[Encounter/e-1].date`` for a record a resource gave."""


class FhirSupportMissing(DliCheckError):
    """FHIR input without the optional FHIR packages installed."""

    def __init__(self) -> None:
        super().__init__("reading FHIR needs the fhir extra: pip install 'dli-check[fhir]'")


class BindingError(DliCheckError):
    """A FHIRPath expression of the rule file that does not compile."""


@dataclass(frozen=True)
class FhirCase:
    """A case read from a Bundle: the case as case JSON, where each fact came from, and
    the facts left unknown because their sources disagree."""

    data: dict[str, Any]
    sources: dict[str, tuple[str, ...]]
    """Fact path (``visits[0].date``) -> the places its value was read from."""
    conflicts: dict[str, tuple[str, ...]]
    """Fact path -> the places that disagree about it (the fact is left out)."""
    locations: dict[PathKey, str] = field(default_factory=dict, repr=False)
    """Case path -> a FHIR place, for naming a bad value by where it is in the Bundle."""
    unused: tuple[str, ...] = ()
    """Resources seen and not used, and why (``Condition/c-2 was not used: its
    verificationStatus is provisional``): another person's, a diagnosis not confirmed or
    no longer active, a QuestionnaireResponse not completed or not of this service."""


def is_bundle(data: object) -> bool:
    """Whether decoded JSON is a FHIR Bundle rather than a case."""
    return isinstance(data, Mapping) and data.get("resourceType") == "Bundle"


def case_from_fhir(
    bundle: Mapping[str, Any],
    rules: Decider | None = None,
    *,
    source: str = "<bundle>",
    patient: str | None = None,
    lenient: bool = False,
) -> FhirCase:
    """Read a case from a FHIR R4 Bundle through the rule file's bindings (the bundled
    CG-TRANS-03 by default); raises `CaseError` for a Bundle that breaks FHIR R4, naming
    the element, never its value. The case is not validated yet: `evaluate` does that.

    Only the patient's own, confirmed data is read (`usable`): `patient` is the context
    patient (``Patient/123``: CDS Hooks' ``context.patientId``); without it, the Claim's
    patient when the Bundle has a Claim. `lenient`: elements FHIR R4 does not define are
    ignored, with a logged warning, rather than refused (data prefetched from an EHR)."""
    if rules is None:
        from dli_check.engine.rules import bundled_rules

        rules = bundled_rules()
    bundle = _check_bundle(bundle, source, lenient=lenient)
    every = _unique(_resources(bundle), source)
    patient = patient or _claim_patient(every)
    name = rules.latest.model.guideline.id.lower()
    resources, unused = [], []
    for resource in every:
        why = usable(resource.data, patient, name)
        if why is None:
            resources.append(resource)
        else:
            unused.append(f"{resource.label} was not used: {why}")
    reader = _Reader(rules, resources)
    declaration = rules.case_format.declaration
    data: dict[str, Any] = {"case_id": _case_id(bundle, resources, source)}
    for name, record in declaration.records.items():
        facts = reader.record(name, record.fhir, list(record.facts))
        if facts is not None:
            data[name] = facts
    for name, listed in declaration.lists.items():
        records = reader.records(name, listed.item, listed.fhir, list(listed.facts))
        if records:
            data[name] = records
    data["services"] = reader.lines(declaration.service.fhir, list(declaration.service.facts))
    reader.answers(data, source)
    return replace(reader.finish(data), unused=tuple(unused))


_CONFIRMED = frozenset({"confirmed"})
_CURRENT = frozenset({"active", "recurrence", "relapse", "remission"})
_DONE = frozenset({"completed", "amended"})
_SUBJECTS = ("subject", "patient", "beneficiary")
"""The elements that say whom a resource is about (Coverage: its beneficiary)."""


def usable(resource: Mapping[str, Any], patient: str | None, questionnaire: str) -> str | None:
    """Why a resource may not decide a case, or None when it may: one about another person
    than `patient`; a Condition whose verificationStatus is given and not confirmed
    (refuted, provisional, differential, unconfirmed, entered-in-error) or whose
    clinicalStatus is given and not current (resolved, inactive); a QuestionnaireResponse
    not completed or amended, or not answering this service's `questionnaire` (the
    guideline id in lower case). Remission counts as current: a malignancy in remission is
    still the disease its code names.

    >>> usable({"resourceType": "Condition", "verificationStatus": {"coding": [
    ...     {"code": "provisional"}]}}, None, "x")
    'its verificationStatus is provisional'
    """
    kind = resource.get("resourceType")
    if patient is not None:
        if kind == "Patient" and isinstance(resource.get("id"), str):
            own = f"Patient/{resource['id']}"
            if not _same_reference(own, patient):
                return f"it is another person than the patient ({own}, not {patient})"
        for name in _SUBJECTS:
            reference = resource.get(name)
            said = reference.get("reference") if isinstance(reference, Mapping) else None
            if isinstance(said, str) and not _same_reference(said, patient):
                return f"it is about another person than the patient ({said}, not {patient})"
    if kind == "Condition":
        for element, allowed in (("verificationStatus", _CONFIRMED), ("clinicalStatus", _CURRENT)):
            codes = _codes(resource.get(element))
            if codes and not codes & allowed:
                return f"its {element} is {', '.join(sorted(codes))}"
    if kind == "QuestionnaireResponse":
        status = resource.get("status")
        if status not in _DONE:
            return f"its status is {status}, not completed or amended"
        canonical = resource.get("questionnaire")
        if not isinstance(canonical, str) or not _ours(canonical, questionnaire):
            return "it does not answer a questionnaire of this service"
    return None


def _codes(concept: Any) -> set[str]:
    codings = concept.get("coding") if isinstance(concept, Mapping) else None
    return {
        c["code"]
        for c in codings or []
        if isinstance(c, Mapping) and isinstance(c.get("code"), str)
    }


def _same_reference(reference: str, patient: str) -> bool:
    """``Patient/1``, ``https://ehr/fhir/Patient/1`` and ``urn:uuid:…`` as the same
    reference when one is the other, or ends with ``/`` and the other."""
    return (
        reference == patient
        or reference.endswith("/" + patient)
        or patient.endswith("/" + reference)
    )


def _ours(canonical: str, name: str) -> bool:
    """Whether a questionnaire canonical is one `dli_check.interop.questionnaires` makes
    for the guideline `name` (``urn:dli-check:cg-trans-03-…``, ``…/Questionnaire/…``)."""
    url = canonical.partition("|")[0]
    last = (
        url.rpartition("/")[2] if "/Questionnaire/" in url else url.removeprefix("urn:dli-check:")
    )
    if last == url and not url.startswith("urn:dli-check:"):
        return False
    return last == name or last.startswith(name + "-")


def _claim_patient(resources: list[_Resource]) -> str | None:
    for resource in resources:
        if resource.type == "Claim":
            patient = resource.data.get("patient")
            said = patient.get("reference") if isinstance(patient, Mapping) else None
            return said if isinstance(said, str) else None
    return None


def decide_bundle(
    bundle: Mapping[str, Any],
    rules: Decider,
    *,
    source: str = "<bundle>",
    allow_no_lines: bool = False,
    patient: str | None = None,
    lenient: bool = False,
) -> CaseResult:
    """Read a case from a Bundle (by the latest version's bindings, for a rule set) and
    decide it; the result names where each fact came from, and a line left unknown by
    sources that disagree says which. A Bundle whose orders no service routes is a
    `CaseError`, or, with `allow_no_lines` (a service answering for the orders it
    governs), a result with no lines."""
    read = case_from_fhir(bundle, rules.latest, source=source, patient=patient, lenient=lenient)
    if allow_no_lines and not read.data.get("services"):
        from dli_check.results import CaseResult

        case_id = read.data.get("case_id")
        case_id = case_id if isinstance(case_id, str) else ""
        return CaseResult(case_id, "not_applicable", (), rules.latest.provenance)
    try:
        result = rules.decide_data(read.data, source, read_from_fhir=True)
    except CaseError as exc:
        raise _relocated(exc, read, source) from None
    return _with_sources(result, read)


def _relocated(error: CaseError, read: FhirCase, source: str) -> CaseError:
    """A case problem, named by where its value is in the Bundle."""
    problems = []
    for problem in error.problems:
        place = next(
            (
                read.locations[problem.path[:n]]
                for n in range(len(problem.path), 0, -1)
                if problem.path[:n] in read.locations
            ),
            None,
        )
        if place is not None:
            message = f"{problem.message} (read as {format_path(problem.path)})"
            problems.append(CaseProblem((place,), message, problem.kind))
        elif problem.path == ("services",):
            message = "holds no service line that the rule file's FHIR sources read"
            problems.append(CaseProblem(("Bundle",), message, problem.kind))
        else:
            problems.append(CaseProblem(problem.path, problem.message, problem.kind))
    return CaseError(source, problems)


def _with_sources(result: CaseResult, read: FhirCase) -> CaseResult:
    from dli_check.results import FactSource

    sources = [FactSource(fact=p, places=places, agree=True) for p, places in read.sources.items()]
    sources += [
        FactSource(fact=p, places=places, agree=False) for p, places in read.conflicts.items()
    ]
    sources.sort(key=lambda s: _path_order(s.fact))
    lines = tuple(_conflict_notes(line, read.conflicts) for line in result.services)
    if read.unused:  # what was seen and left out bears on every line
        lines = tuple(replace(line, notes=line.notes + read.unused) for line in lines)
    return result.with_lines(lines, tuple(sources))


def _conflict_notes(line: ServiceResult, conflicts: Mapping[str, tuple[str, ...]]) -> ServiceResult:
    missing = dict.fromkeys([*line.missing, *(m for r in line.reasons for m in r.missing)])
    notes = tuple(
        f"{path} is taken as unknown: {' and '.join(conflicts[path])} disagree"
        for path in missing
        if path in conflicts
    )
    return replace(line, notes=line.notes + notes) if notes else line


def _check_bundle(
    bundle: Mapping[str, Any], source: str, *, lenient: bool = False
) -> Mapping[str, Any]:
    """The Bundle, checked against the FHIR R4 (R4B) models; raises `CaseError` naming each
    problem's element. `lenient`: elements R4 does not define are left out (with a logged
    warning naming their place, never their key, which may be content) rather than refused,
    as CRD asks of prefetched data (found-33); the Bundle returned is then a copy without
    them."""
    try:
        from fhir.resources.R4B.bundle import Bundle
        from pydantic import ValidationError
    except ImportError:  # pragma: no cover - the extra is installed for the tests
        raise FhirSupportMissing() from None
    deep = _too_deep(bundle)
    if deep is not None:
        raise CaseError.one(
            source, f"nested more than {MAX_DEPTH} levels deep", path=("Bundle", *deep)
        )
    unknown = _unknown_type(bundle)
    if unknown is not None:  # never echoed: the type names no FHIR R4 resource
        place = ("Bundle", *unknown, "resourceType")
        raise CaseError.one(source, "is not a FHIR R4 resource type", path=place)
    try:
        Bundle.model_validate(bundle)
    except RecursionError:  # pragma: no cover - bounded by the depth check above
        raise CaseError.one(source, "nested too deeply", path=("Bundle",)) from None
    except ValidationError as exc:
        errors = exc.errors()
        if lenient and all(e["type"] == "extra_forbidden" for e in errors):
            return _without(bundle, [tuple(e["loc"]) for e in errors])
        problems = [
            CaseProblem(("Bundle", *_element_path(e["loc"], e["type"])), _words(e["type"]))
            for e in errors
        ]
        raise CaseError(source, problems[:20]) from None
    except (ValueError, TypeError):
        raise CaseError.one(source, "not a FHIR R4 Bundle", path=("Bundle",)) from None
    return bundle


def _without(bundle: Mapping[str, Any], places: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A copy of the Bundle without the elements at `places` (validation locations)."""
    import copy

    cleaned: dict[str, Any] = copy.deepcopy(dict(bundle))
    for place in places:
        holder: Any = cleaned
        for step in place[:-1]:
            holder = holder[step]
        holder.pop(place[-1], None)
        where = format_path(("Bundle", *_element_path(place, "extra_forbidden")))
        _log.warning("%s: an element FHIR R4 does not define here was ignored", where)
    return cleaned


MAX_DEPTH = 64
"""How deep a FHIR document may nest (objects and lists): real Bundles, a CDS Hooks
prefetch inside them included, stay far below it; validating deeper ones would exhaust
Python's stack."""


def _containers(document: Any) -> Iterator[tuple[Any, PathKey]]:
    """Every object and list of a JSON document with its path, in document order (no
    recursion: the depth is what is being checked)."""
    stack: list[tuple[Any, PathKey]] = [(document, ())]
    while stack:
        value, path = stack.pop()
        yield value, path
        if isinstance(value, Mapping):
            inner = [(v, (*path, k)) for k, v in value.items() if isinstance(v, dict | list)]
        else:
            inner = [(v, (*path, i)) for i, v in enumerate(value) if isinstance(v, dict | list)]
        stack.extend(reversed(inner))


def _too_deep(document: Any) -> PathKey | None:
    """Where `document` first nests deeper than `MAX_DEPTH`, or None."""
    for _, path in _containers(document):
        if len(path) > MAX_DEPTH:
            return path[:MAX_DEPTH]
    return None


@lru_cache(maxsize=256)
def is_resource_type(kind: str) -> bool:
    """Whether `kind` names a FHIR R4 resource (not a data type, not R5's)."""
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.resource import Resource

    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError, AttributeError):
        return False
    return isinstance(model, type) and issubclass(model, Resource) and model.__name__ == kind


def _unknown_type(document: Any) -> PathKey | None:
    """Where a resource of `document` (an entry's, a contained one) has a resourceType
    that is no FHIR R4 resource (R5's, a misspelling), or None."""
    for value, path in _containers(document):
        kind = value.get("resourceType") if isinstance(value, Mapping) else None
        if kind is not None and not (isinstance(kind, str) and is_resource_type(kind)):
            return path
    return None


def _element_path(loc: tuple[Any, ...], kind: str) -> PathKey:
    # An unknown element is named by where it is, not by its key: the key may be content.
    parts = tuple(p for p in loc if isinstance(p, int | str))
    return parts[:-1] if kind == "extra_forbidden" else parts


_WORDS = {
    "missing": "is required by FHIR R4 but missing",
    "extra_forbidden": "has an element FHIR R4 does not define here",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "int_type": "must be an integer",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "literal_error": "is not one of the codes FHIR R4 allows here",
    "enum": "is not one of the codes FHIR R4 allows here",
    "string_pattern_mismatch": "is not written as FHIR R4 requires",
    "value_error": "is not a valid value of its FHIR R4 type",
}


def _words(kind: str) -> str:
    return _WORDS.get(kind, f"is not valid FHIR R4 ({kind})")


@dataclass(frozen=True)
class _Resource:
    index: int
    """Its entry's position in the Bundle."""
    data: Mapping[str, Any]
    full_url: str | None = None
    container: _Resource | None = None
    """The resource that contains this one (FHIR ``contained``), if any."""

    @property
    def identity(self) -> str | None:
        """What names this resource whatever its place: ``Procedure/hct-1``, or its
        entry's ``fullUrl`` when it has no id; a contained one by its container's and its
        own (``ServiceRequest/o-1#c1``); None when neither is there."""
        rid = self.data.get("id")
        if self.container is not None:
            outer = self.container.identity
            return f"{outer}#{rid}" if outer and isinstance(rid, str) else None
        if isinstance(rid, str):
            return f"{self.type}/{rid}"
        return self.full_url

    @property
    def type(self) -> str:
        return str(self.data.get("resourceType", ""))

    @property
    def label(self) -> str:
        """``Procedure/hct-1``, or the entry's place when the resource has no id; a contained
        one by its container's label and its own id (``ServiceRequest/o-1#c1``)."""
        rid = self.data.get("id")
        if self.container is not None:
            return f"{self.container.label}#{rid}"
        return (
            f"{self.type}/{rid}" if isinstance(rid, str) else f"Bundle.entry[{self.index}].resource"
        )


def _resources(bundle: Mapping[str, Any]) -> list[_Resource]:
    """Every resource of the Bundle, in entry order; a contained Bundle's too (a CDS Hooks
    prefetch searchset), after the entry that holds it; and each resource's ``contained``
    resources (with an id, as FHIR requires), after it."""
    found: list[_Resource] = []
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, Mapping) else None
        if not isinstance(resource, Mapping):
            continue
        full_url = entry.get("fullUrl")
        outer = _Resource(index, resource, full_url if isinstance(full_url, str) else None)
        found.append(outer)
        found += [
            _Resource(index, inner, None, outer)
            for inner in resource.get("contained") or []
            if isinstance(inner, Mapping) and isinstance(inner.get("id"), str)
        ]
        if resource.get("resourceType") == "Bundle":  # named by the entry that holds it
            holder = outer
            for inner in _resources(resource):
                if inner.container is None:
                    holder = _Resource(index, inner.data)
                    found.append(holder)
                else:  # its container follows it
                    found.append(_Resource(index, inner.data, None, holder))
    return found


def _unique(resources: list[_Resource], source: str) -> list[_Resource]:
    """Each resource once: the same ``Type/id`` twice with the same content (a request's
    context and its prefetch may both carry it) is read once; with different content it
    is refused, since either could be the one meant."""
    seen: dict[str, Mapping[str, Any]] = {}
    unique = []
    for resource in resources:
        rid = resource.data.get("id")
        if isinstance(rid, str):
            key = f"{resource.type}/{rid}"
            if key in seen:
                if seen[key] != resource.data:
                    raise CaseError.one(
                        source,
                        f"{key} appears twice, with different content",
                        path=("Bundle", "entry", resource.index, "resource", "id"),
                    )
                continue
            seen[key] = resource.data
        unique.append(resource)
    return unique


def _case_id(bundle: Mapping[str, Any], resources: list[_Resource], source: str) -> str:
    identifier = bundle.get("identifier")
    if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
        return str(identifier["value"])
    if isinstance(bundle.get("id"), str):
        return str(bundle["id"])
    for resource in resources:
        if resource.type == "Claim":
            for claim_id in resource.data.get("identifier") or []:
                if isinstance(claim_id, Mapping) and isinstance(claim_id.get("value"), str):
                    return str(claim_id["value"])
    raise CaseError.one(
        source, "has no id or identifier to name the case by", path=("Bundle", "identifier")
    )


@dataclass
class _Node:
    """One element a source yields: a resource, or one of its repeating elements."""

    data: Mapping[str, Any]
    label: str
    identity: str | None = None
    """What names it whatever its place (a resource's identity; an element's, with its
    ``sequence``), for binding answers to it; None when nothing does."""


@cache
def _compiled(expression: str) -> Callable[..., list[Any]]:
    from fhirpathpy import compile as compile_fhirpath
    from fhirpathpy.models import models

    try:
        run = compile_fhirpath(expression, models["r4"])
        # fhirpathpy parses leniently: a broken expression shows when it first runs.
        run({"resourceType": "Basic"}, _ENVIRONMENT)
    except Exception as exc:  # fhirpathpy raises bare Exceptions and KeyErrors
        message = f"the rule file's FHIRPath {expression!r} does not compile ({type(exc).__name__})"
        raise BindingError(message) from None
    return run


def _run(expression: str, data: Mapping[str, Any]) -> list[Any]:
    try:
        return list(_compiled(expression)(dict(data), _ENVIRONMENT))
    except BindingError:
        raise
    except Exception:  # its message may hold values of the Bundle: not repeated
        raise BindingError(
            f"the rule file's FHIRPath {expression!r} failed on a resource"
        ) from None


class _Reader:
    """Reads facts from the Bundle's resources, keeping where each value came from."""

    def __init__(self, rules: Decider, resources: list[_Resource]) -> None:
        self.rules, self.resources = rules, resources
        self.facts = rules.case_format.facts
        self.found: dict[str, list[tuple[Any, str]]] = {}
        """Fact path -> each (value, place) read for it."""
        self.many: set[str] = set()
        """Fact paths of `codes` facts: their values add up instead of disagreeing."""
        self.identities: dict[str, list[str | None]] = {}
        """List name (``services`` too) -> the identity of each record read from a
        resource, in order: answers are bound to these, never to positions."""

    def nodes(self, source: FhirSource) -> Iterator[_Node]:
        for resource in self.resources:
            if resource.type != source.resource:
                continue
            if source.where is not None and _run(source.where, resource.data) != [True]:
                continue
            if source.elements is None:
                yield _Node(resource.data, resource.label, resource.identity)
                continue
            elements = resource.data.get(source.elements)
            for i, element in enumerate(elements if isinstance(elements, list) else []):
                if isinstance(element, Mapping):
                    sequence = element.get("sequence")
                    identity = (
                        f"{resource.identity}#{source.elements}{sequence}"
                        if resource.identity and type(sequence) is int
                        else None
                    )
                    label = f"{resource.label}.{source.elements}[{i}]"
                    yield _Node(element, label, identity)

    def read(self, path: str, kind: str, binding: FhirValue, node: _Node) -> None:
        """Record what `binding` finds in `node` of a value of type `kind` (a fact's type;
        ``code`` for a line's code or service), under the case path `path`."""
        if FACT_TYPES[kind].many:
            self.many.add(path)
        for expression in binding.paths:
            for value in _run(expression, node.data):
                converted = _convert(value, kind, binding)
                if converted is not None:
                    self.found.setdefault(path, []).append(
                        (converted, f"{node.label}.{expression}")
                    )

    def read_facts(
        self, prefix: str, owner: str, fields: list[str], source_name: str, node: _Node
    ) -> None:
        for name in fields:
            fact = self.facts[f"{owner}.{name}"]
            binding = fact.declaration.fhir.get(source_name)
            if binding is not None:
                self.read(f"{prefix}.{name}", fact.type, binding, node)

    def record(self, name: str, sources: Mapping[str, FhirSource], fields: list[str]) -> Any:
        for source_name, source in sources.items():
            for node in self.nodes(source):
                self.read_facts(name, name, fields, source_name, node)
        return {} if any(p.startswith(f"{name}.") for p in self.found) else None

    def records(
        self, name: str, item: str, sources: Mapping[str, FhirSource], fields: list[str]
    ) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        identities = self.identities.setdefault(name, [])
        for source_name, source in sources.items():
            for node in self.nodes(source):
                self.read_facts(f"{name}[{len(records)}]", item, fields, source_name, node)
                records.append({})
                identities.append(node.identity)
        return records

    def lines(self, sources: Mapping[str, FhirSource], fields: list[str]) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        identities = self.identities.setdefault("services", [])
        for source_name, source in sources.items():
            for node in self.nodes(source):
                prefix = f"services[{len(lines)}]"
                for name, binding in (("code", source.code), ("service", source.service)):
                    if binding is not None:
                        self.read(f"{prefix}.{name}", "code", binding, node)
                if not (self._one(f"{prefix}.code") or self._one(f"{prefix}.service")):
                    # An order no service can route (a lab test, or billing options that
                    # disagree): not a line here, and no action for it.
                    self.found.pop(f"{prefix}.code", None)
                    self.found.pop(f"{prefix}.service", None)
                    continue
                identities.append(node.identity)
                self.read_facts(prefix, "service", fields, source_name, node)
                lines.append({})
        return lines

    def _one(self, path: str) -> bool:
        """Whether the places read for `path` give it one value."""
        return len({repr(value) for value, _ in self.found.get(path, ())}) == 1

    def answers(self, data: dict[str, Any], source: str) -> None:
        """Read the answers of every QuestionnaireResponse in the Bundle."""
        for resource in self.resources:
            if resource.type != "QuestionnaireResponse":
                continue
            for link_id, answers, where in _items(resource.data.get("item"), ()):
                self.answer(
                    data,
                    resource,
                    link_id,
                    answers,
                    ("Bundle", "entry", resource.index, "resource", *where),
                    source,
                )

    def answer(
        self,
        data: dict[str, Any],
        resource: _Resource,
        link_id: str,
        answers: list[Any],
        where: PathKey,
        source: str,
    ) -> None:
        match = _LINK_ID.fullmatch(link_id)
        if match is None:
            return  # an item of some other questionnaire: not a fact path
        entity, key, name = match.group(1), match.group(2), match.group(3)
        fact = self._fact(entity, name, key is not None)
        if fact is None:
            return
        index = self._bound_index(entity, key)
        if key is not None and index is None:
            return  # not bound to a record this Bundle has: asked again
        path = f"{entity}[{index}].{name}" if index is not None else f"{entity}.{name}"
        if index is not None and not self._has_record(data, entity, int(index), where, source):
            return
        if entity in self.rules.case_format.declaration.records:
            data.setdefault(entity, {})
        place = f"{resource.label} item {path}"
        if FACT_TYPES[fact.type].many:
            self.many.add(path)
        for i, answer in enumerate(answers):
            value = _answer_value(answer, fact)
            if value is None:
                raise CaseError.one(
                    source,
                    f"is not an answer of the type {path} needs ({_answer_types(fact.type)})",
                    path=(*where, "answer", i),
                )
            self.found.setdefault(path, []).append((value, place))

    def _bound_index(self, entity: str, key: str | None) -> str | None:
        """The position of the record an answer's key names. A record read from a
        resource is named by its identity (``visits[Encounter/e-1]``): a position
        would follow the Bundle's order, which may differ from the form's. A position
        names only a record no resource gave (one the answers add)."""
        if key is None:
            return None
        known = self.identities.get(entity, [])
        if key.isdigit():
            return key if int(key) >= len(known) else None
        found = [i for i, identity in enumerate(known) if identity == key]
        return str(found[0]) if len(found) == 1 else None

    def _fact(self, entity: str, name: str, indexed: bool) -> Fact | None:
        d = self.rules.case_format.declaration
        if entity == "services" and indexed:
            return self.facts.get(f"service.{name}")
        if entity in d.lists and indexed:
            return self.facts.get(f"{d.lists[entity].item}.{name}")
        if entity in d.records and not indexed:
            return self.facts.get(f"{entity}.{name}")
        return None

    def _has_record(
        self, data: dict[str, Any], entity: str, index: int, where: PathKey, source: str
    ) -> bool:
        records = data.setdefault(entity, [])
        if index < len(records):
            return True
        if entity == "services":
            raise CaseError.one(
                source,
                f"answers for service line {index}, which the Bundle does not have",
                path=where,
            )
        limit = self.rules.case_format.declaration.lists[entity].max_items
        if index >= limit:
            raise CaseError.one(source, f"answers for more than {limit} {entity}", path=where)
        while len(records) <= index:  # an answered record the Bundle has no resource for
            records.append({})
        return True

    def finish(self, data: dict[str, Any]) -> FhirCase:
        sources: dict[str, tuple[str, ...]] = {}
        conflicts: dict[str, tuple[str, ...]] = {}
        locations: dict[PathKey, str] = {}
        for path in sorted(self.found, key=_path_order):
            found = self.found[path]
            places = tuple(dict.fromkeys(place for _, place in found))
            key = _path_key(path)
            locations[key] = places[0]
            if path in self.many:
                first_places = {v: place for v, place in reversed(found)}
                value: Any = list(dict.fromkeys(v for v, _ in found))
                for i, code in enumerate(value):  # each code by where it was first read
                    locations[(*key, i)] = first_places[code]
            else:
                values = list(dict.fromkeys(v for v, _ in found))
                if len(values) > 1:
                    conflicts[path] = places
                    continue
                value = values[0]
            sources[path] = places
            _put(data, key, value)
        for entity, identities in self.identities.items():
            for i, identity in enumerate(identities):
                if identity is not None:  # which resource the record is, for the forms
                    sources[f"{entity}[{i}]"] = (identity,)
        return FhirCase(data, sources, conflicts, locations)


def _path_key(path: str) -> PathKey:
    parts: list[str | int] = []
    for part in path.split("."):
        name, _, index = part.partition("[")
        parts.append(name)
        if index:
            parts.append(int(index.rstrip("]")))
    return tuple(parts)


def _path_order(path: str) -> tuple[Any, ...]:
    return tuple((0, p) if isinstance(p, int) else (1, p) for p in _path_key(path))


def _put(data: dict[str, Any], key: PathKey, value: Any) -> None:
    target: Any = data
    for part in key[:-1]:
        target = target[part]
    target[key[-1]] = value


def _items(
    items: Any, where: PathKey, renames: tuple[tuple[str, str], ...] = ()
) -> Iterator[tuple[str, list[Any], PathKey]]:
    """(linkId, answers, place) of every answered item, nested ones too.

    A record's group of the whole form (``visits[0]``) that repeats names its k-th
    record ``visits[k]``; one whose ``visits[0]:record`` item names a record a
    resource gave (``Encounter/e-1``) names that record, so its answers are about it."""
    repeats: dict[str, int] = {}
    for i, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, Mapping):
            continue
        place = (*where, "item", i)
        link_id, local = item.get("linkId"), renames
        group = _GROUP.fullmatch(link_id) if isinstance(link_id, str) else None
        if group is not None and isinstance(item.get("item"), list):
            k = repeats[group.group(0)] = repeats.get(group.group(0), -1) + 1
            record = _record_named(item["item"], group.group(0))
            key = record if record is not None else str(int(group.group(2)) + k)
            local = (*renames, (group.group(0) + ".", f"{group.group(1)}[{key}]."))
        if isinstance(link_id, str):
            for old, new in local:
                if link_id.startswith(old):
                    link_id = new + link_id.removeprefix(old)
        answers = item.get("answer")
        if isinstance(link_id, str) and isinstance(answers, list) and answers:
            yield link_id, answers, place
        yield from _items(item.get("item"), place, local)
        for j, answer in enumerate(answers if isinstance(answers, list) else []):
            if isinstance(answer, Mapping):
                yield from _items(answer.get("item"), (*place, "answer", j), local)


_GROUP = re.compile(r"([a-z][a-z0-9_]*)\[([0-9]{1,4})\]")
_RECORD = re.compile(r"[A-Za-z][A-Za-z0-9+.:/#_-]{0,255}")
RECORD_ITEM = ":record"
"""The tail of a group's item that names the record it is about (``visits[0]:record``)."""


def _record_named(children: list[Any], group: str) -> str | None:
    """The record a group's ``:record`` item names, if it names one well formed."""
    for child in children:
        if isinstance(child, Mapping) and child.get("linkId") == group + RECORD_ITEM:
            for answer in child.get("answer") or []:
                if not isinstance(answer, Mapping):
                    continue
                reference = answer.get("valueReference")
                said = reference.get("reference") if isinstance(reference, Mapping) else None
                said = answer.get("valueString", said)
                if isinstance(said, str) and _RECORD.fullmatch(said):
                    return said
    return None


def _answer_types(kind: str) -> str:
    """The answer elements a fact type takes, in words: ``valueDate or valueDateTime``."""
    *most, last = FACT_TYPES[kind].fhir_answers
    return f"{', '.join(most)} or {last}" if most else last


def _answer_value(answer: Any, fact: Fact) -> Any:
    if not isinstance(answer, Mapping):
        return None
    kind, d = FACT_TYPES[fact.type], fact.declaration
    coding = answer.get("valueCoding")
    if kind.coded and isinstance(coding, Mapping):
        system = coding.get("system")
        if d.system and system is not None and system not in SYSTEM_URIS[d.system]:
            return None
        code = coding.get("code")
        return code if isinstance(code, str) else None
    for element in kind.fhir_answers:
        if element != "valueCoding" and element in answer:
            return kind.from_fhir(answer[element])
    return None


def _convert(value: Any, kind: str, binding: FhirValue) -> Any:
    """A FHIR value as the fact's value; None when it is no evidence for the fact."""
    if binding.system is not None:
        if not isinstance(value, Mapping):
            return None
        uris = {uri for name in binding.system for uri in SYSTEM_URIS[name]}
        if value.get("system") not in uris:
            return None
        value = value.get("code")
    if binding.map is not None:
        return binding.map.get(value) if isinstance(value, str) else None
    return FACT_TYPES[kind].from_fhir(value)
