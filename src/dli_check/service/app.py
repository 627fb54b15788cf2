"""``dli-check serve``: the engine as a service (FastAPI), for EHRs and PA systems.

* ``GET /cds-services``, ``POST /cds-services/{id}``: CDS Hooks 2.0 with Da Vinci CRD
  (`crd`); ``POST /cds-services/{id}/feedback``;
* ``GET /Questionnaire/{id}``, ``GET /ValueSet/{id}``,
  ``POST /Questionnaire/$questionnaire-package``: DTR (`questionnaires`);
* ``POST /Claim/$submit``: Da Vinci PAS (`pas`);
* ``POST /evaluate``: case JSON (or a FHIR Bundle) in, the result JSON out;
* ``GET /healthz``; OpenAPI docs at ``/docs``.

Every request body is read up to `MAX_BODY` bytes (413 beyond) and parsed strictly;
errors are one line, as JSON (an ``OperationOutcome`` on the FHIR endpoints), never a
traceback and never a value of the request. Every decision is appended to the decision
log (`dli_check.service.log`) before it is answered.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from dli_check.api import decide_data
from dli_check.errors import CaseError, DliCheckError, PathKey
from dli_check.inert import escape_surrogates
from dli_check.inputs.loaders import parse_case_json
from dli_check.interop.crd import (
    HOOKS,
    Policy,
    check_request,
    coverage_response,
    discovery,
    orders_asked,
    prefetch_templates,
    read_request,
    request_places,
    service_id,
    skipped_orders,
)
from dli_check.interop.pas import claim_of, claim_response
from dli_check.interop.questionnaires import (
    canonical,
    expand,
    form_version,
    questionnaire,
    questionnaire_package,
    value_sets,
)
from dli_check.interop.request import InteropError, Kind
from dli_check.service.auth import AuthError, TokenChecker
from dli_check.service.ehr import Ehr
from dli_check.service.log import DecisionLog, Entry, LogUnavailable
from dli_check.values.case import MAX_ITEMS as MAX_LINES_PER_CASE

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.results import CaseResult

MAX_BODY = 1024 * 1024
FHIR_JSON = "application/fhir+json"
log = logging.getLogger("dli_check.service.app")
_log_problem = logging.getLogger("dli_check.service.app.log")


@dataclass
class Settings:
    """What a running service needs: its rule files, the plan's policy, the log."""

    rules: list[Decider]
    log: DecisionLog
    policy: Policy = field(default_factory=Policy)
    tokens: TokenChecker | None = None
    public_url: str | None = None
    """The service's base URL as clients call it (for ``aud`` and Questionnaire URLs);
    by default, the URL each request came to. Required with `tokens`: a token's ``aud``
    is compared with it, never with what a request says its host is."""
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    hosts: frozenset[str] | None = None
    """The host names requests may name in ``Host`` (the public URL's, and the loopback
    names when bound to loopback); None to accept any (a library user's own choice)."""
    max_lines: int = MAX_LINES_PER_CASE
    """The most service lines one request may hold."""
    ehr: Ehr = field(default_factory=Ehr)
    """The FHIR servers this service may query for what a prefetch omits."""
    terminology_server: str | None = None
    """A terminology server DTR clients look codes up on (SDC
    ``preferredTerminologyServer``); None: the package carries the ValueSets."""
    cors_origins: tuple[str, ...] = ()
    """The web origins whose pages may call the service (CDS Hooks §CORS); none by
    default, so no page in a browser can read an answer."""


def outcome(message: str, code: str = "invalid") -> dict[str, Any]:
    """A FHIR OperationOutcome of one error."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }


def create_app(settings: Settings) -> FastAPI:
    """The service's FastAPI application."""
    app = FastAPI(
        title="dli-check",
        description="Applies clinical UM guidelines to cases: CDS Hooks (Da Vinci CRD), "
        "PAS Claim/$submit, and plain JSON.",
    )
    if settings.tokens is not None and not settings.public_url:
        raise ValueError("client tokens need the public URL their aud names (--public-url)")
    hooks = {service_id(r, hook): (r, hook) for r in settings.rules for hook in HOOKS}
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )

    def refused(request: Request, status: int, message: str, code: str = "invalid") -> Response:
        """The error response, after keeping the refusal in the log (no body)."""
        when = settings.clock().isoformat(timespec="milliseconds")
        settings.log.refuse(when, request.url.path, status, message)
        return _error(request, status, message, code)

    @app.exception_handler(InteropError)
    async def _interop_error(request: Request, exc: InteropError) -> Response:
        return refused(request, _STATUSES[exc.kind], exc.message)

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> Response:
        response = refused(request, exc.status, exc.message, exc.code)
        if exc.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return refused(request, 400, "the request does not have the expected form")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        words = {404: "no such endpoint", 405: "method not allowed"}
        return refused(request, exc.status_code, words.get(exc.status_code, "request refused"))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> Response:
        log.error("internal error on %s (%s)", request.url.path, type(exc).__name__)
        return refused(request, 500, "internal error", "exception")

    def base_url(request: Request) -> str:
        return (settings.public_url or str(request.base_url)).rstrip("/")

    def host_served(request: Request) -> None:
        # A page in a browser can send requests to a service on loopback; its Host header
        # still names the page's own site (DNS rebinding), which is not served here.
        if settings.hosts is not None and _host_name(request) not in settings.hosts:
            raise RequestError(400, "the Host header names no host this service answers for")

    def authorize(request: Request) -> None:
        host_served(request)
        if settings.tokens is None:
            return
        audience = str(settings.public_url).rstrip("/") + request.url.path
        try:
            settings.tokens.check(request.headers.get("authorization"), audience)
        except AuthError as exc:
            raise RequestError(401, str(exc), "security") from None

    @app.get("/healthz")
    async def healthz(request: Request) -> Response:
        """Liveness, the rule files served, and whether the decision log can be written
        (never waiting on it): 503 when it cannot."""
        host_served(request)
        log_state = settings.log.state()
        body = {
            "status": "ok" if log_state == "ok" else "unavailable",
            "decision_log": log_state,
            "rules": [
                {"guideline": r.guideline_id, "rules_sha256": r.sha256} for r in settings.rules
            ],
        }
        return JSONResponse(body, status_code=200 if log_state == "ok" else 503)

    @app.get("/cds-services")
    async def cds_services(request: Request) -> dict[str, Any]:
        """The CDS Hooks discovery document."""
        authorize(request)
        return discovery(settings.rules)

    @app.post("/cds-services/{service}")
    async def cds_hook(service: str, request: Request) -> dict[str, Any]:
        """A CDS Hooks call: coverage information for each governed draft order."""
        authorize(request)
        found = hooks.get(service)
        if found is None:
            raise RequestError(404, "no such CDS service", "not-found")
        rules, hook = found
        raw = await _body(request)
        data = _json(raw)
        check_request(data, hook)
        for number, why in skipped_orders(data):
            log.info("%s: draft order %d gets no action: %s", service, number + 1, why)
        templates = prefetch_templates(rules)
        if any(key not in (data.get("prefetch") or {}) for key in templates):
            # Data is looked for only for an order a rule file governs (minimum necessary).
            if not await run_in_threadpool(_asks_about_governed, settings, rules, data):
                return {"cards": []}
            filled = await run_in_threadpool(settings.ehr.fill, data, templates)
            data = {**data, "prefetch": filled}
        bundle, coverage = read_request(data, hook)
        if not settings.policy.serves(data, coverage):  # nothing of it is decided or kept
            raise RequestError(
                400, "prefetch.coverage: its payor is not a payer this service answers for"
            )
        return await run_in_threadpool(
            _serve,
            settings,
            [rules],
            bundle,
            raw,
            base_url(request),
            f"cds-services/{service}",
            data["hookInstance"],
            f"Patient/{data['context']['patientId']}",
            lambda rules, result, decision_id, form_url: coverage_response(
                data,
                coverage,
                result,
                rules,
                settings.policy,
                decision_id=decision_id,
                today=settings.clock().date(),
                questionnaire_url=form_url,
            ),
            request_places(data),
        )

    @app.post("/cds-services/{service}/feedback")
    async def cds_feedback(service: str, request: Request) -> dict[str, Any]:
        """Feedback on cards: accepted and logged (counts and outcomes, no comments)."""
        authorize(request)
        if service not in hooks:
            raise RequestError(404, "no such CDS service", "not-found")
        data = _json(await _body(request))
        items = data.get("feedback") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise RequestError(400, "feedback: required, a list")
        known = ("accepted", "overridden")
        for i, item in enumerate(items):  # CDS Hooks: card, outcome and outcomeTimestamp
            if not isinstance(item, dict):
                raise RequestError(400, f"feedback[{i}]: must be an object")
            for name in ("card", "outcomeTimestamp"):
                if not isinstance(item.get(name), str):
                    raise RequestError(400, f"feedback[{i}].{name}: required, a string")
            if item.get("outcome") not in known:
                raise RequestError(400, f"feedback[{i}].outcome: accepted or overridden")
        outcomes = [i.get("outcome") if isinstance(i, dict) else None for i in items]
        counts = {o: outcomes.count(o) for o in known}
        log.info("feedback on %s: %d item(s), %s", service, len(items), counts)
        return {}

    @app.get("/Questionnaire/{form_id}")
    async def get_questionnaire(form_id: str, request: Request) -> Response:
        """A rule file's Questionnaire (DTR), at its canonical URL. It holds the rule file's
        questions and no one's data, so a DTR app reads it without a client token."""
        host_served(request)
        rules = _form_of(settings.rules, form_id)
        form = questionnaire(
            rules, base_url=base_url(request), terminology_server=settings.terminology_server
        )
        return JSONResponse(form, media_type=FHIR_JSON)

    expanded: dict[tuple[str, str], list[dict[str, Any]]] = {}
    """Each rule file's ValueSets per base URL, made once: a form asks for them as you type."""

    def value_set(request: Request, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        base = base_url(request)
        for rules in settings.rules:
            key = (rules.sha256, base)
            if key not in expanded:
                if len(expanded) >= 16:  # base URLs come from requests: keep a few
                    expanded.clear()
                expanded[key] = value_sets(rules, base, when="")
            for found in expanded[key]:
                if wanted(found):
                    when = settings.clock().isoformat(timespec="seconds")
                    return {**found, "expansion": {**found["expansion"], "timestamp": when}}
        raise RequestError(404, "no such ValueSet", "not-found")

    @app.get("/ValueSet/$expand")
    async def expand_value_set(
        request: Request,
        url: str,
        text: Annotated[str | None, Query(alias="filter", max_length=200)] = None,
        offset: int = 0,
        count: int = 1000,
    ) -> Response:
        """``$expand`` of a ValueSet the Questionnaire binds, by its canonical (with or
        without ``|version``), filtered by text: what a form renderer asks as you type."""
        host_served(request)
        canonical_url, _, version = url.partition("|")
        found = await run_in_threadpool(
            value_set,
            request,
            lambda v: v["url"] == canonical_url and version in ("", v["version"]),
        )
        if offset < 0 or not 0 < count <= 1000:
            raise RequestError(400, "offset: 0 or more; count: 1 to 1000")
        body = expand(found, text=text, offset=offset, count=count)
        return JSONResponse(body, media_type=FHIR_JSON)

    @app.get("/ValueSet/{set_id}")
    async def get_value_set(set_id: str, request: Request) -> Response:
        """A ValueSet a Questionnaire binds, expanded (no one's data: no client token)."""
        host_served(request)
        found = await run_in_threadpool(value_set, request, lambda v: v["id"] == set_id)
        return JSONResponse(found, media_type=FHIR_JSON)

    @app.post("/Questionnaire/$questionnaire-package")
    async def questionnaire_package_operation(request: Request) -> Response:
        """DTR ``$questionnaire-package``: a Parameters in, the package Parameters out."""
        authorize(request)
        data = _json(await _body(request))

        def asked_in(context: str) -> tuple[str, list[str]] | None:
            entry = settings.log.get(context.split(".", 1)[0])
            if entry is None:
                return None
            form = json.loads(entry.questionnaire) if entry.questionnaire else {}
            return entry.guideline, [i["linkId"] for i in form.get("item", [])]

        package = await run_in_threadpool(
            lambda: questionnaire_package(
                settings.rules,
                data,
                base_url=base_url(request),
                when=settings.clock().isoformat(timespec="seconds"),
                terminology_server=settings.terminology_server,
                asked_in=asked_in,
            )
        )
        return JSONResponse(package, media_type=FHIR_JSON)

    @app.post("/Claim/$submit")
    async def claim_submit(request: Request) -> Response:
        """PAS: a Claim Bundle in, a ClaimResponse Bundle out (A1 or A4 per item)."""
        authorize(request)
        raw = await _body(request)
        bundle = _json(raw)
        claim_of(bundle)  # a request PAS does not accept is refused before it is decided
        response = await run_in_threadpool(
            _serve,
            settings,
            settings.rules,
            bundle,
            raw,
            base_url(request),
            "Claim/$submit",
            None,
            None,  # the Claim's patient
            lambda rules, result, decision_id, form_url: claim_response(
                bundle,
                result,
                rules,
                decision_id=decision_id,
                now=settings.clock(),
                questionnaire_url=form_url,
                auto_approve=settings.policy.auto_approve,
            ),
        )
        return JSONResponse(response, media_type=FHIR_JSON)

    @app.post("/evaluate")
    async def evaluate_case(request: Request) -> Response:
        """Case JSON (or a FHIR Bundle) in, the engine's result JSON out."""
        authorize(request)
        raw = await _body(request)
        rules = _named(settings.rules, request.query_params.get("guideline"))
        body, decision_id = await run_in_threadpool(_evaluate, settings, rules, raw)
        return Response(body, media_type="application/json", headers={"X-Decision-Id": decision_id})

    return app


def _error(request: Request, status: int, message: str, code: str = "invalid") -> Response:
    fhir = not request.url.path.startswith(("/evaluate", "/healthz"))
    body = outcome(message, code) if fhir else {"error": message}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(
        body, status_code=status, media_type=FHIR_JSON if fhir else None, headers=headers
    )


class RequestError(Exception):
    """A request that cannot be answered: its HTTP status and the problem in words (never
    a value of the request)."""

    def __init__(self, status: int, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


_STATUSES: dict[Kind, int] = {"invalid": 400, "prefetch-missing": 412}
"""The HTTP status of each kind of interop error."""


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):  # [::1]:8080
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if ":" in host else host


def served_hosts(public_url: str | None, bound_to: str, *, loopback: bool) -> frozenset[str]:
    """The host names a service bound to `bound_to` answers for: the public URL's, and the
    loopback names when it is bound to loopback (`loopback`)."""
    from urllib.parse import urlsplit

    names: set[str] = set()
    if public_url:
        host = urlsplit(public_url).hostname
        if host:
            names.add(f"[{host}]" if ":" in host else host)
    if loopback:
        names.update(("127.0.0.1", "localhost", "[::1]"))
    elif not public_url:
        names.add(f"[{bound_to}]" if ":" in bound_to else bound_to)
    return frozenset(names)


RETRY_AFTER = 5
"""Seconds a client is asked to wait before it tries a 503 again."""
_JSON_TYPES = ("application/json", FHIR_JSON)


async def _body(request: Request) -> bytes:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in _JSON_TYPES:
        # A web page can post text/plain to loopback without asking: never read it.
        raise RequestError(415, "the body must be application/json or application/fhir+json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise RequestError(
            413, f"the request is larger than the {MAX_BODY // 1024} KiB limit", "too-costly"
        )
    parts, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise RequestError(
                413, f"the request is larger than the {MAX_BODY // 1024} KiB limit", "too-costly"
            )
        parts.append(chunk)
    return b"".join(parts)


def _json(raw: bytes) -> Any:
    try:
        return parse_case_json(raw, "request")
    except CaseError as exc:
        raise RequestError(400, str(exc)) from None


def _named(guidelines: list[Decider], name: str | None) -> Decider:
    """The guideline ``/evaluate`` decides by: the only one served, or the one named."""
    if name is None and len(guidelines) == 1:
        return guidelines[0]
    served = ", ".join(g.guideline_id for g in guidelines)
    for rules in guidelines:
        if rules.guideline_id == name:
            return rules
    if name is None:
        raise RequestError(400, f"several guidelines are served ({served}): name one, ?guideline=")
    raise RequestError(404, f"no such guideline here (served: {served})", "not-found")


def _serve(
    settings: Settings,
    guidelines: list[Decider],
    bundle: Any,
    raw: bytes,
    base: str,
    endpoint: str,
    hook_instance: str | None,
    patient: str | None,
    respond: Callable[[Decider, CaseResult, str, str | None], dict[str, Any]],
    places: list[PathKey] | None = None,
) -> dict[str, Any]:
    """Decide a Bundle by the first of `guidelines` that governs one of its lines (the
    first, when none does), answer it with `respond(rules, result, decision id,
    questionnaire URL)`, and log the decision before the answer goes out; only `patient`'s
    resources are read (None: the Claim's patient). An error names a resource by
    `places`, where the client sent it (`request_places`). Runs off the event loop."""
    rules, result = _decide(settings, guidelines, bundle, patient, places)
    decision_id = uuid.uuid4().hex
    form_url = None  # the form documentation is asked with, for a line not found met
    asks = ("insufficient_information", "not_medically_necessary")
    if any(line.decision in asks for line in result.services):
        form_url = f"{canonical(rules, base)}|{form_version(rules)}"
    response = respond(rules, result, decision_id, form_url)
    sent = json.dumps(response, separators=(",", ":"), ensure_ascii=False)
    # What was decided: a CDS Hooks call's gathered Bundle (its token left behind).
    decided = raw if hook_instance is None else json.dumps(bundle, separators=(",", ":")).encode()
    _record(settings, rules, result, raw, decision_id, endpoint, hook_instance, sent, decided)
    return response


def _asks_about_governed(settings: Settings, rules: Decider, request: dict[str, Any]) -> bool:
    """Whether a checked CDS Hooks request asks about an order `rules` govern (or, with
    `Policy.other_orders`, any order at all), read from its draft orders alone."""
    asked = orders_asked(request)
    if settings.policy.other_orders is not None:
        return bool(asked)
    orders = {
        "resourceType": "Bundle",
        "identifier": {"value": request["hookInstance"]},
        "type": "collection",
        "entry": [{"resource": order} for order in asked.values()],
    }
    patient = f"Patient/{request['context']['patientId']}"
    try:
        result = decide_data(
            orders, rules, "request", allow_no_lines=True, patient=patient, lenient=True
        )
    except DliCheckError:
        return True  # the whole request is read next, and says what is wrong
    return any(line.service is not None for line in result.services)


def _evaluate(settings: Settings, rules: Decider, raw: bytes) -> tuple[str, str]:
    """``/evaluate``: the result JSON and the decision id, logged. Runs off the event loop."""
    try:
        data = parse_case_json(raw, "request", field_names=rules.field_names)
    except CaseError as exc:
        raise RequestError(400, str(exc)) from None
    _check_size(data, settings.max_lines)
    try:
        result = decide_data(data, rules, "request", raw)
    except CaseError as exc:
        raise RequestError(400, str(exc)) from None
    decision_id = uuid.uuid4().hex
    body = escape_surrogates(result.to_json(indent=None))
    _record(settings, rules, result, raw, decision_id, "evaluate", None, body, raw)
    return body, decision_id


def _check_size(data: Any, max_lines: int, lines: int | None = None) -> None:
    count = lines
    if count is None and isinstance(data, dict) and isinstance(data.get("services"), list):
        count = len(data["services"])
    if count is not None and count > max_lines:
        raise RequestError(413, f"more than {max_lines} service lines in one request", "too-costly")


def _decide(
    settings: Settings,
    guidelines: list[Decider],
    bundle: Any,
    patient: str | None,
    places: list[PathKey] | None = None,
) -> tuple[Decider, CaseResult]:
    decided: list[tuple[Decider, CaseResult]] = []
    first_error: CaseError | None = None
    for rules in guidelines:
        try:
            # Prefetched data comes from an EHR's FHIR server: elements R4 does not define
            # there are ignored (CRD found-33); a PAS Bundle is the client's own, and strict.
            result = decide_data(
                bundle,
                rules,
                "request",
                allow_no_lines=True,
                patient=patient,
                lenient=patient is not None,
            )
        except CaseError as exc:
            first_error = first_error or exc
            continue
        except DliCheckError as exc:
            raise RequestError(500, str(exc), "exception") from None
        _check_size(None, settings.max_lines, len(result.services))
        if any(line.service is not None for line in result.services):
            return rules, result
        decided.append((rules, result))
    if not decided:  # every guideline served found the request invalid
        assert first_error is not None
        raise RequestError(400, str(_in_client_terms(first_error, places)))
    return decided[0]


def _asked(rules: Decider, result: CaseResult, decision_id: str) -> str | None:
    """The Questionnaire of exactly what a decision lacks, as JSON, or None."""
    if not any(line.missing for line in result.services):
        return None
    form = questionnaire(rules, result)
    form["id"] = decision_id
    return json.dumps(form, separators=(",", ":"), ensure_ascii=False)


def _form_of(guidelines: list[Decider], form_id: str) -> Decider:
    """The rule file whose Questionnaire has this id (its guideline id, lower case)."""
    for rules in guidelines:
        if rules.guideline_id.lower() == form_id:
            return rules
    raise RequestError(404, "no such Questionnaire", "not-found")


def _in_client_terms(error: CaseError, places: list[PathKey] | None) -> CaseError:
    """A problem in a gathered Bundle, named where the client sent the resource."""
    if places is None:
        return error
    problems = []
    for problem in error.problems:
        path = problem.path
        if path[:2] == ("Bundle", "entry") and len(path) > 3 and path[3] == "resource":
            index = path[2]
            if isinstance(index, int) and index < len(places):
                problem = dataclasses.replace(problem, path=places[index] + path[4:])
        problems.append(problem)
    return CaseError(error.source, problems)


def _record(
    settings: Settings,
    rules: Decider,
    result: CaseResult,
    raw: bytes,
    decision_id: str,
    endpoint: str,
    hook_instance: str | None,
    sent: str,
    decided: bytes,
) -> None:
    """Append a decision to the log, with what was decided (`decided`) and the response
    sent. A decision that cannot be logged is not answered: 503, to try again."""
    guideline = rules.latest.model.guideline
    entry = Entry(
        id=decision_id,
        time=settings.clock().isoformat(timespec="milliseconds"),
        endpoint=endpoint,
        hook_instance=hook_instance,
        rules_sha256=rules.sha256,
        guideline=guideline.id,
        guideline_version=str(guideline.last_review_date),
        case_sha256=hashlib.sha256(raw).hexdigest(),
        decision=result.decision,
        lines=[
            {"code": s.code, "service": s.service, "decision": s.decision, "action": s.action}
            for s in result.services
        ],
        result=result.to_json(indent=None, detail="decisions"),
        # What it asked about, by record: a DTR package for this decision names them.
        questionnaire=_asked(rules, result, decision_id),
        response=sent,
        configuration=json.dumps(
            {**dataclasses.asdict(settings.policy), "fhir_servers": list(settings.ehr.servers)},
            separators=(",", ":"),
        ),
        request=decided.decode("utf-8", "surrogateescape"),
    )
    try:
        settings.log.append(entry)
    except LogUnavailable as exc:
        _log_problem.warning("decision not answered: %s", exc)
        raise RequestError(
            503, "the decision could not be logged, so it is not given; try again", "transient"
        ) from None
