"""Da Vinci CRD 2.2.1 over CDS Hooks 2.0: the discovery document, a hook request read as a
case, and the engine's per-line results written as ``coverage-information``.

The mapping is the integration reference's (section 7), and it never denies:

* ``medically_necessary``: ``pa-needed`` ``satisfied`` (with ``satisfied-pa-id``) only
  where the plan auto-approves, else ``auth-needed``;
* ``not_medically_necessary``: ``auth-needed``, ``doc-needed`` ``clinical``, a ``reason``
  naming the unmet criteria, and a card that says this is a pre-screen for a physician.
  Never ``covered = not-covered``: that would be an automated denial;
* ``insufficient_information``: ``auth-needed``, ``doc-needed`` ``clinical`` and the
  Questionnaire of the missing facts (not ``info-needed``).

``covered`` is the plan's benefit answer, not the engine's: it comes from `Policy`.
Orders whose codes the guideline does not govern get no action.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from dli_check.errors import PathKey
from dli_check.inputs.fhir import SYSTEM_URIS, is_resource_type
from dli_check.interop.request import InteropError
from dli_check.interop.words import criterion_words, questions, service_label

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.results import CaseResult, ServiceResult

COVERAGE_INFORMATION = (
    "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
)
CARD_TYPES = "http://terminology.hl7.org/CodeSystem/cdshooks-card-type"
DETAIL_CODES = "http://terminology.hl7.org/CodeSystem/crd-coverage-detail"
CPT = "http://www.ama-assn.org/go/cpt"
BILLING_OPTIONS = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-billing-options"
_BILLING_SYSTEMS = frozenset(SYSTEM_URIS["CPT"] + SYSTEM_URIS["HCPCS"])
_CONDITIONAL = (
    "Covered only if conditions the plan sets are met; confirm them with the plan "
    "(the benefit answer, given as configured, not by the guideline's pre-screen)"
)
HOOKS = ("order-sign", "order-select")
CONFIGURATION_OPTIONS: tuple[dict[str, Any], ...] = (
    {
        "code": "coverage-info",
        "type": "boolean",
        "name": "Coverage Information",
        "description": "Whether each governed order needs prior authorization, is approved, "
        "or needs documentation, recorded on the order",
        "default": True,
    },
    {
        "code": "off-guideline",
        "type": "boolean",
        "name": "Off Guideline",
        "description": "A card for an order the guideline's pre-screen did not find medically "
        "necessary, quoting the criteria not met (a pre-screen, not a determination)",
        "default": True,
    },
    {
        "code": "max-cards",
        "type": "integer",
        "name": "Maximum cards",
        "description": "The most cards returned, in the order of the draft orders",
        "default": 10,
    },
)
"""What a client may switch (CRD ``davinci-crd.configuration-options``); other options a
client sends are ignored, as this service offers none of them."""
_OPTION_TYPES = {o["code"]: o["type"] for o in CONFIGURATION_OPTIONS}
_VOLATILE = frozenset({"date", "coverage-assertion-id", "satisfied-pa-id", "questionnaire"})
"""Coverage-information parts that differ between two answers that say the same."""
"""The hooks each rule file is served on: order-sign (primary), order-select (secondary)."""
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NOT_QUERIED = ("ServiceRequest", "Claim", "QuestionnaireResponse")
"""Resource types a binding may read that come with the request, not from a query."""


@dataclass(frozen=True)
class Policy:
    """What the plan decides, not the engine: configured when the service starts."""

    payer: str | None = None
    """The insurer's name on the member's card: the cards' ``source.label``; without it,
    the service's title (``CG-TRANS-03 coverage requirements``)."""
    covered: Literal["covered", "conditional"] = "covered"
    """The benefit answer; ``covered`` assumes eligibility and benefits were checked
    upstream. ``conditional`` comes with ``info-needed`` (CRD invariant crd-ci-q3)."""
    auto_approve: bool = False
    """Whether a medically necessary line is ``satisfied`` (an authorization) rather than
    ``auth-needed``."""
    policy_url: str | None = None
    """Where the guideline is published, for a ``policy-link`` detail and card links."""
    payer_ids: tuple[str, ...] = ()
    """The payer identifiers this service answers for (``--payer-id``); empty: any payer.
    A request whose Coverage names none of them is a 400 (CRD hook-13)."""
    other_orders: Literal["no-auth", "auth-needed"] | None = None
    """What an order no rule file governs is told (``--coverage-for-other-orders``): a
    coverage-information with this ``pa-needed``; None: no action for it."""

    def serves(self, request: Mapping[str, Any], coverage: Mapping[str, Any]) -> bool:
        """Whether the Coverage's payor is one this service answers for: by an identifier
        on the payor reference, or on the Organization it names in the request."""
        if not self.payer_ids:
            return True
        return bool(_payer_identifiers(request, coverage) & set(self.payer_ids))


def service_id(rules: Decider, hook: str) -> str:
    """The CDS service id of a rule file on a hook: ``cg-trans-03-order-sign``."""
    return f"{rules.guideline_id.lower()}-{hook}"


def discovery(guidelines: list[Decider]) -> dict[str, Any]:
    """The ``GET /cds-services`` document: an order-sign and an order-select service per
    rule file, with prefetch templates for what its FHIR bindings read."""
    services = []
    for rules in guidelines:
        guideline = rules.latest.model.guideline
        title = " ".join(guideline.title.split())
        for hook in HOOKS:
            services.append(
                {
                    "hook": hook,
                    "title": _title(guideline.id),
                    "description": f"Coverage requirements under guideline {guideline.id}, "
                    f"{title}: a pre-screen of the orders' medical necessity",
                    "id": service_id(rules, hook),
                    "prefetch": prefetch_templates(rules),
                    "extension": {
                        "davinci-crd.version": ["2.2"],
                        "davinci-crd.configuration-options": list(CONFIGURATION_OPTIONS),
                    },
                }
            )
    return {"services": services}


def _system_of(order: Mapping[str, Any], code: str | None) -> str:
    """The system an order codes `code` in (CPT or an HCPCS URI), from its ``code`` or its
    billing options; CPT when it is not found there."""
    return next((c["system"] for c in _codings(order) if c["code"] == code), CPT)


def _codings(order: Mapping[str, Any]) -> list[dict[str, str]]:
    """The codings of an order's ``code``, then of its billing options (CRD
    ``ext-billing-options`` on ``code``), each with a system and a code."""
    code = order.get("code")
    concepts = [code]
    if isinstance(code, Mapping):
        concepts += [
            e.get("valueCodeableConcept")
            for e in code.get("extension") or []
            if isinstance(e, Mapping) and e.get("url") == BILLING_OPTIONS
        ]
    return [
        {"system": coding["system"], "code": coding["code"]}
        for concept in concepts
        if isinstance(concept, Mapping)
        for coding in concept.get("coding") or []
        if isinstance(coding, Mapping)
        and isinstance(coding.get("system"), str)
        and isinstance(coding.get("code"), str)
    ]


def _title(guideline: str) -> str:
    return f"{guideline} coverage requirements"


def prefetch_templates(rules: Decider) -> dict[str, str]:
    """The active coverage, and a query per FHIR source the bindings read, by the source's
    name, narrowed by its ``search`` (minimum necessary: nothing the rule file does not
    read); a query two sources share is asked once.

    >>> from dli_check import load_rules
    >>> prefetch_templates(load_rules())["conditions"]
    'Condition?patient={{context.patientId}}'
    """
    templates = {"coverage": "Coverage?patient={{context.patientId}}&status=active"}
    d = rules.case_format.declaration
    sources = [s for r in d.records.values() for s in r.fhir.items()]
    sources += [s for listed in d.lists.values() for s in listed.fhir.items()]
    for name, source in sources:
        if source.resource in _NOT_QUERIED:
            continue
        query = f"{source.resource}?patient={{{{context.patientId}}}}"
        if source.search is not None:
            query += f"&{source.search}"
        if query not in templates.values():
            templates.setdefault(name, query)
    return templates


def check_request(request: Any, hook: str) -> None:
    """Check a CDS Hooks request for `hook`: its required fields, their forms, and the
    client's configuration; raises `InteropError` ``invalid`` for what breaks CDS Hooks."""
    if not isinstance(request, Mapping):
        raise InteropError("invalid", "a CDS Hooks request must be a JSON object")
    for name, kind in (("hook", str), ("hookInstance", str), ("context", Mapping)):
        if not isinstance(request.get(name), kind):
            raise InteropError(
                "invalid", f"{name}: required by CDS Hooks, missing or of the wrong type"
            )
    if request["hook"] != hook:
        raise InteropError("invalid", f"hook: this service answers {hook}")
    try:
        uuid.UUID(request["hookInstance"])
    except ValueError:
        raise InteropError("invalid", "hookInstance: must be a UUID (CDS Hooks)") from None
    if "fhirAuthorization" in request and not isinstance(request.get("fhirServer"), str):
        raise InteropError("invalid", "fhirServer: required with fhirAuthorization (CDS Hooks)")
    context = request["context"]
    orders = context.get("draftOrders")
    if not isinstance(orders, Mapping) or orders.get("resourceType") != "Bundle":
        raise InteropError("invalid", "context.draftOrders: required, a Bundle of draft orders")
    for name in ("userId", "patientId"):
        if not isinstance(context.get(name), str):
            raise InteropError("invalid", f"context.{name}: required by {hook}")
    if hook == "order-select":
        selections = context.get("selections")
        if not isinstance(selections, list) or not all(isinstance(x, str) for x in selections):
            raise InteropError("invalid", "context.selections: required by order-select, a list")
    configuration(request)  # a malformed configuration is refused before anything is read
    prefetch = request.get("prefetch")
    if prefetch is not None and not isinstance(prefetch, Mapping):
        raise InteropError("invalid", "prefetch: must be an object")


def orders_asked(request: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The draft orders a checked request asks about, by ``ServiceRequest/id``: on
    order-select, the selected ones only; never one `skipped_orders` names."""
    selected = None
    if request["hook"] != "order-sign":
        selected = set(request["context"].get("selections") or [])
    asked = {}
    for order in _orders(request):
        name = f"ServiceRequest/{order.get('id')}"
        if not isinstance(order.get("id"), str) or (selected is not None and name not in selected):
            continue
        if _skipped(order) is None:
            asked[name] = order
    return asked


def skipped_orders(request: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The draft orders of a checked request that get no action whatever they code, by
    position among the orders, with why: ``doNotPerform``, or a status neither draft nor
    active."""
    return [(n, why) for n, o in enumerate(_orders(request)) if (why := _skipped(o))]


def _orders(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ServiceRequests among a checked request's draft orders."""
    entries = request["context"]["draftOrders"].get("entry") or []
    resources = [e.get("resource") for e in entries if isinstance(e, Mapping)]
    return [
        r for r in resources if isinstance(r, Mapping) and r.get("resourceType") == "ServiceRequest"
    ]


def _skipped(order: Mapping[str, Any]) -> str | None:
    if order.get("doNotPerform") is True:
        return "doNotPerform is true: an order not to be done"
    if order.get("status") not in ("draft", "active"):
        return "its status is neither draft nor active"
    return None


def read_request(request: Any, hook: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a CDS Hooks request for `hook` (`check_request`) and gather what it carries
    into one Bundle (the draft orders first, then every prefetched resource); also returns
    the Coverage.

    Raises `InteropError`: ``invalid`` for a request that breaks CDS Hooks or names no
    single Coverage, ``prefetch-missing`` when the coverage prefetch is missing (a service
    queries the EHR for it first: `dli_check.service.ehr`)."""
    check_request(request, hook)
    prefetch = request.get("prefetch") or {}
    if "coverage" not in prefetch:
        raise InteropError(
            "prefetch-missing", "prefetch.coverage: omitted, and the EHR was not queried for it"
        )
    coverage = _coverage(prefetch["coverage"])
    bundle = {
        "resourceType": "Bundle",
        "identifier": {"value": request["hookInstance"]},
        "type": "collection",
        "entry": [{"resource": r} for r in _request_resources(request)],
    }
    return bundle, coverage


def _payer_identifiers(request: Mapping[str, Any], coverage: Mapping[str, Any]) -> set[str]:
    """The identifier values of a Coverage's payors: on each reference, or on the
    Organization the reference names among the request's resources."""
    named: set[str] = set()
    found: set[str] = set()
    for payor in coverage.get("payor") or []:
        if not isinstance(payor, Mapping):
            continue
        identifier = payor.get("identifier")
        if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
            found.add(identifier["value"])
        if isinstance(payor.get("reference"), str):
            named.add(payor["reference"])
    for resource in _request_resources(request):
        if not isinstance(resource, Mapping):
            continue
        local = f"{resource.get('resourceType')}/{resource.get('id')}"
        if local in named or any(n.endswith("/" + local) for n in named):
            for identifier in resource.get("identifier") or []:
                if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str):
                    found.add(identifier["value"])
    return found


def _request_resources(request: Mapping[str, Any]) -> list[Any]:
    """Every resource a CDS Hooks request carries, as sent (the FHIR check names what is
    wrong with one): its draft orders first, then its prefetch, a searchset's entries in
    its place."""
    return [resource for _, resource in _placed_resources(request)]


def request_places(request: Mapping[str, Any]) -> list[PathKey]:
    """Where each resource of `read_request`'s Bundle is in the request as its client
    sent it: ``ServiceRequest/cbc-1`` for a resource with a type and an id, else its path
    (``prefetch.conditions.entry[1].resource``)."""
    places: list[PathKey] = []
    for path, resource in _placed_resources(request):
        kind = resource.get("resourceType") if isinstance(resource, Mapping) else None
        name = resource.get("id") if isinstance(resource, Mapping) else None
        # Named only by what FHIR R4 allows there, never by other words of the request.
        named = (
            isinstance(kind, str)
            and is_resource_type(kind)
            and isinstance(name, str)
            and _FHIR_ID.fullmatch(name) is not None
        )
        places.append((f"{kind}/{name}",) if named else path)
    return places


def _placed_resources(request: Mapping[str, Any]) -> list[tuple[PathKey, Any]]:
    found: list[tuple[PathKey, Any]] = []
    orders = request["context"]["draftOrders"]
    for i, entry in enumerate(orders.get("entry") or []):
        if isinstance(entry, Mapping):
            found.append(
                (("context", "draftOrders", "entry", i, "resource"), entry.get("resource"))
            )
    for key, value in (request.get("prefetch") or {}).items():
        if isinstance(value, Mapping) and value.get("resourceType") == "Bundle":
            for i, entry in enumerate(value.get("entry") or []):
                if isinstance(entry, Mapping):
                    found.append((("prefetch", key, "entry", i, "resource"), entry.get("resource")))
        elif value is not None:
            found.append((("prefetch", key), value))
    return found


def _coverage(found: Any) -> dict[str, Any]:
    coverages: list[Mapping[str, Any]]
    if isinstance(found, Mapping) and found.get("resourceType") == "Bundle":
        coverages = [
            e["resource"]
            for e in found.get("entry") or []
            if isinstance(e, Mapping)
            and isinstance(e.get("resource"), Mapping)
            and e["resource"].get("resourceType") == "Coverage"
        ]
    elif isinstance(found, Mapping) and found.get("resourceType") == "Coverage":
        coverages = [found]
    else:
        coverages = []
    if len(coverages) != 1 or not isinstance(coverages[0].get("id"), str):
        raise InteropError(
            "invalid", "prefetch.coverage: must hold exactly one Coverage, with an id"
        )
    return dict(coverages[0])


def line_place(result: CaseResult, number: int) -> str | None:
    """Where a line of a Bundle's result was read from (``ServiceRequest/x.code.coding``,
    ``Claim/y.item[1].productOrService.coding``)."""
    for source in result.sources:
        if source.fact in (f"services[{number}].code", f"services[{number}].service"):
            return source.places[0]
    return None


def order_of_line(result: CaseResult, number: int) -> str | None:
    """The ``ServiceRequest/id`` a line of a Bundle's result was read from."""
    place = line_place(result, number)
    return place.split(".", 1)[0] if place else None


def configuration(request: Mapping[str, Any]) -> dict[str, Any]:
    """The client's choices among `CONFIGURATION_OPTIONS` (CRD's
    ``extension.davinci-crd.configuration``), each option at its default when not sent;
    raises `InteropError` for an option of the wrong type.

    >>> configuration({"extension": {"davinci-crd.configuration": {"max-cards": 2}}})
    {'coverage-info': True, 'off-guideline': True, 'max-cards': 2}
    """
    chosen: dict[str, Any] = {str(o["code"]): o["default"] for o in CONFIGURATION_OPTIONS}
    extension = request.get("extension")
    sent = extension.get("davinci-crd.configuration") if isinstance(extension, Mapping) else None
    if sent is None:
        return chosen
    if not isinstance(sent, Mapping):
        raise InteropError("invalid", "extension.davinci-crd.configuration: must be an object")
    for code, value in sent.items():
        kind = _OPTION_TYPES.get(code)
        if kind is None:
            continue
        if kind == "boolean" and type(value) is not bool:
            raise InteropError(
                "invalid", f"extension.davinci-crd.configuration.{code}: must be true or false"
            )
        if kind == "integer" and (type(value) is not int or value < 0):
            raise InteropError(
                "invalid",
                f"extension.davinci-crd.configuration.{code}: must be a whole number, 0 or more",
            )
        chosen[code] = value
    return chosen


def _for_coverage(extension: Any, coverage: str) -> bool:
    """Whether an order's extension is coverage-information about `coverage`."""
    if not isinstance(extension, Mapping) or extension.get("url") != COVERAGE_INFORMATION:
        return False
    return any(
        isinstance(part, Mapping)
        and part.get("url") == "coverage"
        and isinstance(part.get("valueReference"), Mapping)
        and str(part["valueReference"].get("reference", "")).endswith(coverage)
        for part in extension.get("extension") or []
    )


def _substance(information: Mapping[str, Any]) -> list[Any]:
    """What a coverage-information says, leaving out what changes with every answer."""
    return [
        part
        for part in information.get("extension") or []
        if not (isinstance(part, Mapping) and part.get("url") in _VOLATILE)
    ]


def coverage_response(
    request: Mapping[str, Any],
    coverage: Mapping[str, Any],
    result: CaseResult,
    rules: Decider,
    policy: Policy,
    *,
    decision_id: str,
    today: dt.date,
    questionnaire_url: str | None,
) -> dict[str, Any]:
    """The CDS Hooks response: a ``systemActions`` update per governed draft order with its
    coverage-information, and a card per order the pre-screen did not find medically
    necessary, as the client's configuration allows (`configuration`).

    With `Policy.other_orders`, an order no rule file governs gets the configured
    coverage-information. A secondary hook (order-select) answers for the selected orders
    only, asks for no documentation (CRD hook-19) and never says ``satisfied``. An order
    that already carries coverage-information for this coverage has it replaced, never
    stacked; when it already says the same, the order gets no action and no card (CRD
    resp-35)."""
    primary = request["hook"] == "order-sign"
    chosen = configuration(request)
    orders = orders_asked(request)
    coverage_reference = f"Coverage/{coverage['id']}"
    answered: dict[str, tuple[dict[str, Any], ServiceResult | None, str]] = {}
    for number, line in enumerate(result.services):
        name = order_of_line(result, number) or ""
        if name not in orders or line.service is None:
            continue
        assertion_id = f"{decision_id}.{number + 1}"
        info = coverage_information(
            line,
            rules,
            policy if primary else replace(policy, auto_approve=False),
            coverage_id=str(coverage["id"]),
            assertion_id=assertion_id,
            today=today,
            questionnaire_url=questionnaire_url if primary else None,
            ask_for_documents=primary,
            billing_system=_system_of(orders[name], line.code),
        )
        answered[name] = (info, line, assertion_id)
    if policy.other_orders is not None:
        for number, (name, order) in enumerate(orders.items()):
            if name not in answered:
                assertion_id = f"{decision_id}.other.{number + 1}"
                info = _other_order(order, rules, policy, str(coverage["id"]), today, assertion_id)
                answered[name] = (info, None, assertion_id)
    actions, cards = [], []
    for name, order in orders.items():
        if name not in answered:
            continue
        info, answered_line, assertion_id = answered[name]
        kept = [e for e in order.get("extension", []) if not _for_coverage(e, coverage_reference)]
        earlier = [e for e in order.get("extension", []) if _for_coverage(e, coverage_reference)]
        if earlier and all(_substance(e) == _substance(info) for e in earlier):
            continue  # re-invoked, and nothing changed: nothing to do
        if chosen["coverage-info"]:
            updated = copy.deepcopy(dict(order))
            updated["extension"] = [*kept, info]
            label = service_label(rules, answered_line) if answered_line else "this"
            actions.append(
                {
                    "type": "update",
                    "description": f"Record coverage information for {label} order",
                    "resource": updated,
                }
            )
        if (
            answered_line is not None
            and answered_line.decision == "not_medically_necessary"
            and chosen["off-guideline"]
        ):
            cards.append(_card(answered_line, rules, policy, order, assertion_id))
    response: dict[str, Any] = {"cards": cards[: chosen["max-cards"]]}
    if actions:
        response["systemActions"] = actions
    return response


def _other_order(
    order: Mapping[str, Any],
    rules: Decider,
    policy: Policy,
    coverage_id: str,
    today: dt.date,
    assertion_id: str,
) -> dict[str, Any]:
    """The configured coverage-information of an order no rule file governs."""
    parts: list[dict[str, Any]] = [
        {"url": "coverage", "valueReference": {"reference": f"Coverage/{coverage_id}"}},
        {"url": "covered", "valueCode": policy.covered},
        {"url": "pa-needed", "valueCode": policy.other_orders},
    ]
    if policy.covered == "conditional":
        parts.append({"url": "info-needed", "valueCode": "OTH"})
        parts.append(_detail("instructions", {"valueString": _CONDITIONAL}))
    billing = [c for c in _codings(order) if c["system"] in _BILLING_SYSTEMS]
    if billing:
        parts.append({"url": "billingCode", "valueCoding": billing[0]})
    text = (
        f"Not governed by {rules.guideline_id}: the plan's answer for orders outside the "
        "guidelines this service applies"
    )
    parts.append({"url": "reason", "valueCodeableConcept": {"text": text}})
    parts.append({"url": "date", "valueDate": today.isoformat()})
    parts.append({"url": "coverage-assertion-id", "valueString": assertion_id})
    return {"url": COVERAGE_INFORMATION, "extension": parts}


def coverage_information(
    line: ServiceResult,
    rules: Decider,
    policy: Policy,
    *,
    coverage_id: str,
    assertion_id: str,
    today: dt.date,
    questionnaire_url: str | None,
    ask_for_documents: bool = True,
    billing_system: str = CPT,
) -> dict[str, Any]:
    """One order's ``coverage-information`` extension, as the reference maps it; its
    ``billingCode`` in `billing_system`, the system the order coded it in."""
    guideline = rules.guideline_id
    parts: list[dict[str, Any]] = [
        {"url": "coverage", "valueReference": {"reference": f"Coverage/{coverage_id}"}},
        {"url": "covered", "valueCode": policy.covered},
    ]
    approved = line.decision == "medically_necessary" and policy.auto_approve
    parts.append({"url": "pa-needed", "valueCode": "satisfied" if approved else "auth-needed"})
    needs_documents = ask_for_documents and line.decision != "medically_necessary"
    if needs_documents:
        parts.append({"url": "doc-needed", "valueCode": "clinical"})
        parts.append({"url": "doc-purpose", "valueCode": "withpa"})
    if policy.covered == "conditional":
        parts.append({"url": "info-needed", "valueCode": "OTH"})
        parts.append(_detail("instructions", {"valueString": _CONDITIONAL}))
    if line.code is not None:
        coding = {"system": billing_system, "code": line.code}
        parts.append({"url": "billingCode", "valueCoding": coding})
    parts.append({"url": "reason", "valueCodeableConcept": {"text": _reason(line, rules)}})
    if policy.policy_url:
        parts.append(_detail("policy-link", {"valueUrl": policy.policy_url}))
    if needs_documents and line.missing:
        text = f"Complete the {guideline} questionnaire: " + "; ".join(questions(rules, line))
        parts.append(_detail("instructions", {"valueString": text}))
    asks = line.decision in ("insufficient_information", "not_medically_necessary")
    if needs_documents and questionnaire_url and asks:
        parts.append({"url": "questionnaire", "valueCanonical": questionnaire_url})
    if approved:
        parts.append({"url": "satisfied-pa-id", "valueString": assertion_id})
    parts.append({"url": "date", "valueDate": today.isoformat()})
    parts.append({"url": "coverage-assertion-id", "valueString": assertion_id})
    return {"url": COVERAGE_INFORMATION, "extension": parts}


def _detail(code: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "url": "detail",
        "extension": [
            {"url": "category", "valueCode": "cat-other"},
            {
                "url": "code",
                "valueCodeableConcept": {"coding": [{"system": DETAIL_CODES, "code": code}]},
            },
            {"url": "value", **value},
        ],
    }


def _reason(line: ServiceResult, rules: Decider) -> str:
    """The coverage-information's reason in words: the facts needed by their questions,
    the criteria not met by their labels; no engine paths, no criterion ids."""
    guideline = rules.guideline_id
    if line.decision == "medically_necessary":
        return f"All {guideline} criteria for this service are met"
    if line.decision == "insufficient_information":
        return f"Needed to apply {guideline}: " + " ".join(questions(rules, line))
    if line.decision == "no_version_in_effect":
        return (
            f"Prior authorization required: no version of {guideline} in effect on the date of "
            "service is loaded; a physician will review the request"
        )
    unmet = [
        criterion_words(rules, line, r.criterion) for r in line.reasons if r.status == "not_met"
    ]
    return (
        f"Prior authorization required: under the {guideline} pre-screen, not met: "
        f"{'; '.join(unmet)}; a physician will review the request"
    )


def _card(
    line: ServiceResult, rules: Decider, policy: Policy, order: Mapping[str, Any], card_id: str
) -> dict[str, Any]:
    guideline = rules.guideline_id
    unmet = [r for r in line.reasons if r.status == "not_met"]
    code = f" (CPT {line.code})" if line.code else ""
    summary = f"{guideline} pre-screen: a criterion is not met{code}; a physician will review"
    detail = [
        "**This is a pre-screen, not a determination.** A physician reviewer decides.",
        "",
    ]
    for reason in unmet:
        said = criterion_words(rules, line, reason.criterion)
        detail.append(f"Not met: *{said}*. {reason.explanation}")
        detail.append("")
        detail.append(f'> "{reason.citation.quote}" ({guideline}, {reason.citation.section})')
        detail.append("")
    detail.append(
        "If the record is incomplete, submit what it lacks with the prior authorization request."
    )
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"dli-check:{card_id}")),
        "summary": summary[:139],
        "indicator": "warning",
        "detail": "\n".join(detail),
        "source": {
            "label": policy.payer or _title(guideline),
            "topic": {"system": CARD_TYPES, "code": "off-guideline", "display": "Off Guideline"},
        },
        "extension": {
            "davinci-crd.associated-resource": [{"reference": f"ServiceRequest/{order['id']}"}]
        },
    }
    if policy.policy_url:
        card["source"]["url"] = policy.policy_url
        card["links"] = [{"label": f"{guideline}", "url": policy.policy_url, "type": "absolute"}]
    return card
