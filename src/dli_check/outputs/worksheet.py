"""A case result as a reviewer's worksheet: one self-contained HTML page (no script, no
fetch: the Content-Security-Policy allows only its own hashed style), for the screen and
for print.

Case text is untrusted: Jinja2 escapes every value (autoescape), and every value first
passes `inert.terminal`, so a control, a bidirectional override or a line separator in a
case id shows as its escape, never reorders or breaks the page. Needs the ``report`` extra
(Jinja2).

The page is the same for the same result and the same `decided_on` date, byte for byte.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from importlib import resources
from typing import TYPE_CHECKING, Any

from dli_check.errors import DliCheckError
from dli_check.inert import terminal
from dli_check.outputs.report import ACTION_WORDS, HEADLINES, case_headline

if TYPE_CHECKING:
    from dli_check.engine.decider import Decider
    from dli_check.results import CaseResult, Reason


CSP = (
    "default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
"""Nothing may load or run but the page's own style, by its hash."""

_STATUS_WORDS = {"met": "Met", "not_met": "Not met", "unknown": "Unknown"}
_ANSWERS = {"met": "Yes", "not_met": "No", "unknown": "Unknown"}


class ReportSupportMissing(DliCheckError):
    """HTML output without the ``report`` extra installed."""


def decided_today() -> str:
    """The date a worksheet says it was decided: ``SOURCE_DATE_EPOCH`` when set (for
    reproducible output), else today, in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = (
        dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        if epoch and epoch.isdigit()
        else dt.datetime.now(dt.UTC)
    )
    return moment.date().isoformat()


def worksheet(result: CaseResult, rules: Decider | None, decided_on: str) -> str:
    """The worksheet of a case result, as one HTML page."""
    import markupsafe

    env = environment()
    css = asset("worksheet.css").strip()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    guideline = result.provenance.guideline
    page: str = env.get_template("worksheet.html").render(
        csp=markupsafe.Markup(CSP.format(digest=digest)),
        css=markupsafe.Markup(css),
        case_id=result.case_id,
        headline=_sentence(case_headline(result, guideline.id)[0]),
        guideline=guideline,
        decided_on=decided_on,
        decision_id=result.decision_id,
        lines=_lines(result, rules),
        provenance=result.provenance,
    )
    return page


def environment() -> Any:
    """The Jinja2 environment of the pages: autoescape, and every value made inert first
    (`ReportSupportMissing` without the ``report`` extra)."""
    try:
        import jinja2
    except ImportError:
        raise ReportSupportMissing(
            "HTML output needs the report extra: pip install 'dli-check[report]'"
        ) from None
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(asset),
        autoescape=True,
        finalize=_inert,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _inert(value: Any) -> Any:
    """Every value the page shows, inert: the page's own markup (`Markup`) aside."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return terminal(value)
    return value


def asset(name: str) -> str:
    """A template or style sheet of the pages, by name."""
    return (resources.files("dli_check.outputs") / "templates" / name).read_text("utf-8")


def _sentence(text: str) -> str:
    """A headline in capitals as a sentence: "MEETS CG-TRANS-03" -> "Meets CG-TRANS-03"."""
    words = [w if any(c.isdigit() for c in w) or "-" in w else w.lower() for w in text.split()]
    said = " ".join(words)
    return said[:1].upper() + said[1:]


def _lines(result: CaseResult, rules: Decider | None) -> list[dict[str, Any]]:
    g = result.provenance.guideline.id
    audit = result.audit.lines if result.audit is not None else ()
    lines = []
    for number, line in enumerate(result.services):
        service = rules.services.get(line.service or "") if rules else None
        model = _service_model(rules, line.service)
        criteria = {c.id: c for c in model.criteria} if model else {}
        labels = {c.id: c.label for c in service.criteria if c.label} if service else {}
        needed = []
        for path in line.missing:
            label = service.label if service else "the service"
            question = rules.case_format.question(path, label) if rules else None
            needed.append({"question": question or path, "path": path})
        lines.append(
            {
                "service_title": service.title
                if service
                else "a line the guideline does not govern",
                "code": line.code,
                "date": audit[number].date_of_service if audit else None,
                "decision": line.decision,
                "headline": _sentence(HEADLINES[line.decision].format(g=g)),
                "action": ACTION_WORDS[line.action].format(g=g),
                "notes": line.notes,
                "criteria": [
                    _criterion(reason, labels.get(reason.criterion), criteria)
                    for reason in line.reasons
                ],
                "outcome": line.outcome,
                "needed": needed,
            }
        )
    return lines


def _service_model(rules: Decider | None, service_id: str | None) -> Any:
    if rules is None or service_id is None:
        return None
    return next((s for s in rules.latest.model.services if s.id == service_id), None)


def _criterion(reason: Reason, label: str | None, criteria: dict[str, Any]) -> dict[str, Any]:
    from dli_check.language.operators import condition_text

    words = (_ANSWERS if label else _STATUS_WORDS)[reason.status]
    if reason.by_default and reason.status == "met":
        status, words = "by_default", f"{words}, by default"
    else:
        status = reason.status
    model = criteria.get(reason.criterion)
    return {
        "status": status,
        "status_words": words,
        "title": label or reason.criterion,
        "record": reason.record,
        "explanation": reason.explanation,
        "tree": _tree(condition_text(model.condition)) if model else [],
        "notes": reason.notes,
        "quote": reason.citation.quote,
        "section": reason.citation.section,
    }


def _tree(lines: list[str]) -> list[tuple[str, list[Any]]]:
    """Indented lines ("all of:", "  - x is true") as nested (text, children) pairs."""
    root: list[tuple[str, list[Any]]] = []
    stack: list[tuple[int, list[tuple[str, list[Any]]]]] = [(-1, root)]
    for line in lines:
        depth = len(line) - len(line.lstrip(" "))
        text = line.strip().removeprefix("- ")
        while stack[-1][0] >= depth:
            stack.pop()
        children: list[tuple[str, list[Any]]] = []
        stack[-1][1].append((text, children))
        stack.append((depth, children))
    return root
