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
import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dli_check.compiler.logic import number_text
from dli_check.errors import DliCheckError
from dli_check.inert import terminal
from dli_check.outputs.report import ACTION_WORDS, HEADLINES, case_headline

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dli_check.engine.decider import Decider
    from dli_check.errors import PathKey
    from dli_check.language.operators import ConditionNode
    from dli_check.results import CaseResult, ConditionAnswer, Reason, ServiceResult


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


def worksheet_name(decision_id: str | None) -> str | None:
    """The file name of a decision's worksheet in a ``--worksheets`` directory: its
    decision id, when that is a UUID as dli-check writes one (a record read back may hold
    anything).

    >>> worksheet_name("4d04d2bc-2ae6-5d51-aacb-6e15410348e2")
    '4d04d2bc-2ae6-5d51-aacb-6e15410348e2.html'
    >>> print(worksheet_name("../../etc/passwd"))
    None
    """
    if decision_id is None or not _UUID.fullmatch(decision_id):
        return None
    return f"{decision_id}.html"


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def write_worksheet(
    directory: Path, result: CaseResult, rules: Decider | None, decided_on: str
) -> None:
    """Write a result's worksheet into `directory`, named by `worksheet_name`: whole (written
    beside and renamed into place), replacing one of the same decision, never following a
    link. Raises `OSError`; a result with no decision id has no worksheet."""
    name = worksheet_name(result.decision_id)
    if name is None:
        return
    data = worksheet(result, rules, decided_on).encode("utf-8", "backslashreplace")
    temporary = directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.partial"
    # O_EXCL: never through a link left in its place; the mode is the umask's, as for any new file.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@cache
def environment() -> Any:
    """The Jinja2 environment of the pages: autoescape, and every value made inert first
    (`ReportSupportMissing` without the ``report`` extra). One per process: it keeps its
    templates compiled (compiling them is nine tenths of the cost of a page)."""
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


@cache
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
        place = _service_model(rules, line)
        criteria = {c.id: (j, c) for j, c in enumerate(place[1].criteria)} if place else {}
        at: PathKey = ("services", place[0], "criteria") if place else ()
        labels = {c.id: c.label for c in service.criteria if c.label} if service else {}
        answers = result.conditions(number) if criteria else {}
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
                "version": line.version,
                "decision": line.decision,
                "headline": _sentence(HEADLINES[line.decision].format(g=g)),
                "action": ACTION_WORDS[line.action].format(g=g),
                "notes": line.notes,
                "criteria": [
                    _criterion(reason, labels.get(reason.criterion), criteria, at, answers)
                    for reason in line.reasons
                ],
                "outcome": line.outcome,
                "needed": needed,
            }
        )
    return lines


def _service_model(rules: Decider | None, line: ServiceResult) -> tuple[int, Any] | None:
    """The position and model of the service that decided a line, in the version of the
    rule file that decided it."""
    if rules is None or line.service is None or line.version is None:
        return None
    sha256 = line.version.rules_sha256
    version = next((v for v in rules.versions if v.sha256 == sha256), None)
    if version is None:
        return None
    services = version.model.services
    return next(((i, s) for i, s in enumerate(services) if s.id == line.service), None)


def _criterion(
    reason: Reason,
    label: str | None,
    criteria: dict[str, tuple[int, Any]],
    at: PathKey,
    answers: Mapping[PathKey, ConditionAnswer],
) -> dict[str, Any]:
    from dli_check.language.operators import condition_tree

    words = (_ANSWERS if label else _STATUS_WORDS)[reason.status]
    if reason.by_default and reason.status == "met":
        status, words = "by_default", f"{words}, by default"
    else:
        status = reason.status
    found = criteria.get(reason.criterion)
    tree = condition_tree(found[1].condition, (*at, found[0], "condition")) if found else None
    return {
        "status": status,
        "status_words": words,
        "title": label or reason.criterion,
        "record": reason.record,
        "explanation": reason.explanation,
        "tree": [_node(tree, answers)] if tree is not None else [],
        "notes": reason.notes,
        "quote": reason.citation.quote,
        "section": reason.citation.section,
    }


def _node(node: ConditionNode, answers: Mapping[PathKey, ConditionAnswer]) -> dict[str, Any]:
    """A node of a criterion's tree for the page: its words, what it came to, and (for a
    condition with no parts) the values it compared."""
    answer = answers.get(node.path) if node.path is not None else None
    status = words = None
    if answer is not None:
        status = "by_default" if answer.by_default else answer.status
        words = _STATUS_WORDS[answer.status] + (", by default" if answer.by_default else "")
    read = [
        f"{fact.fact} = {_value_words(fact.value)}"
        for fact in (answer.read if answer is not None and not node.parts else ())
    ]
    return {
        "text": node.text,
        "status": status,
        "status_words": words,
        "read": read,
        "parts": [_node(part, answers) for part in node.parts],
    }


def _value_words(value: object) -> str:
    """A fact's value as the worksheet shows it.

    >>> _value_words(None), _value_words(True), _value_words(("C92.00", "Z94.84"))
    ('not given', 'yes', 'C92.00, Z94.84')
    """
    if value is None:
        return "not given"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple | list):
        return ", ".join(_value_words(v) for v in value) or "none"
    if isinstance(value, Fraction):
        return number_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
