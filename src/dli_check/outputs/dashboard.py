"""A batch's dashboard: one self-contained HTML page over its records (full or decisions
records, read by the one record reader, `outputs.records`): totals by decision and action,
charts of decisions by service, the criteria most often not met or unknown, the facts
most often missing and decisions by month of service, and a table of the lines to look
at, filterable and sortable, each linking to its worksheet when one was written.

Building it is one streaming pass (`Tally.add`, record by record): memory holds counts and
at most `MAX_ROWS` table rows, whatever the number of records. The charts are SVG drawn by
Matplotlib (the ``report`` extra), made at build time: the page needs no script to show
them, only to filter and sort its table (one small script, allowed by its hash).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from dli_check.inert import terminal
from dli_check.outputs.records import Record
from dli_check.outputs.worksheet import (
    ReportSupportMissing,
    asset,
    environment,
    worksheet_name,
)

MAX_ROWS = 5000
"""Table rows kept: the lines to look at (not approved), in output order."""
TOP = 15
"""Bars per ranked chart."""
DECISIONS = (
    "medically_necessary",
    "not_medically_necessary",
    "insufficient_information",
    "no_version_in_effect",
    "not_applicable",
)
_COLOURS = {
    "medically_necessary": "#1e6b34",
    "not_medically_necessary": "#a1242a",
    "insufficient_information": "#8a6500",
    "no_version_in_effect": "#6a3d9a",
    "not_applicable": "#23508f",
}
_INDEX = re.compile(r"\[[0-9]+\]")
_LOOK_AT = frozenset({"refer_to_clinical_reviewer", "request_information"})

SCRIPT = """
(() => {
  const table = document.getElementById("lines");
  if (!table) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const inputs = Array.from(document.querySelectorAll("[data-filter]"));
  const count = document.getElementById("shown");
  const apply = () => {
    let shown = 0;
    for (const row of rows) {
      const keep = inputs.every(i => !i.value ||
        row.cells[Number(i.dataset.filter)].textContent.toLowerCase()
          .includes(i.value.toLowerCase()));
      row.hidden = !keep;
      shown += keep;
    }
    count.textContent = String(shown);
  };
  inputs.forEach(i => i.addEventListener("input", apply));
  document.querySelectorAll("th button").forEach((button, column) => {
    button.addEventListener("click", () => {
      const up = button.dataset.order !== "up";
      button.dataset.order = up ? "up" : "down";
      button.closest("th").setAttribute("aria-sort", up ? "ascending" : "descending");
      rows.sort((a, b) => a.cells[column].textContent.localeCompare(
        b.cells[column].textContent, undefined, {numeric: true}) * (up ? 1 : -1));
      rows.forEach(r => body.appendChild(r));
    });
  });
})();
""".strip()


@dataclass
class Tally:
    """What a dashboard shows, counted one record at a time."""

    cases: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    """Case decisions."""
    actions: Counter[str] = field(default_factory=Counter)
    """Line actions."""
    by_service: Counter[tuple[str, str]] = field(default_factory=Counter)
    not_met: Counter[str] = field(default_factory=Counter)
    unknown: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)
    by_month: Counter[tuple[str, str]] = field(default_factory=Counter)
    rows: list[tuple[str, str, int, str, str, str, str, str]] = field(default_factory=list)
    """(case id, source, line, service, decision, criteria, date, link) of lines to look at."""
    look_at: int = 0
    """Lines to look at, kept in `rows` or not."""
    undated: int = 0
    """Lines of decisions records, which keep no date of service."""
    link: Callable[[Record], str | None] | None = None
    """The link to a record's worksheet, if it has one (`worksheet_links`)."""

    def add(self, record: Record) -> None:
        """Count one record."""
        if record.decision is None:
            self.errors[record.error_kind or "error"] += 1
            return
        self.cases += 1
        self.decisions[record.decision] += 1
        for number, line in enumerate(record.lines):
            service = line.service or "(not governed)"
            self.actions[line.action] += 1
            self.by_service[(service, line.decision)] += 1
            for criterion in line.not_met:
                self.not_met[f"{service}: {criterion}"] += 1
            for criterion in line.unknown:
                self.unknown[f"{service}: {criterion}"] += 1
            for path in line.missing:
                self.missing[_INDEX.sub("[]", path)] += 1
            day = record.dates[number] if number < len(record.dates) else None
            self.undated += not record.dates
            self.by_month[(day[:7] if day else "no date", line.decision)] += 1
            if line.action in _LOOK_AT:
                self.look_at += 1
                if len(self.rows) < MAX_ROWS:
                    criteria = ", ".join((*line.not_met, *line.unknown))
                    link = self.link(record) if self.link is not None else None
                    self.rows.append(
                        (
                            record.case_id or "",
                            record.source,
                            number,
                            service,
                            line.decision,
                            criteria,
                            day or "",
                            link or "",
                        )
                    )


def worksheet_links(directory: Path, page: str) -> Callable[[Record], str | None]:
    """The links, from a page written to `page` (``-``: standard output, read from the
    current directory), to the worksheets written in `directory`: a record links to its
    worksheet when that file is there."""
    at = Path(page).resolve().parent if page != "-" else Path.cwd()
    relative = Path(os.path.relpath(directory.resolve(), at))
    prefix = "".join(f"{quote(part)}/" for part in relative.parts if part != ".")

    def link(record: Record) -> str | None:
        name = worksheet_name(record.decision_id)
        if name is None or not (directory / name).is_file():
            return None
        return prefix + name

    return link


def dashboard(counted: Tally, *, title: str) -> str:
    """The dashboard page of a tally."""
    charts = [
        ("Decisions by service", _stacked(counted.by_service, "service lines")),
        ("Criteria most often not met", _ranked(counted.not_met, "#a1242a", "service lines")),
        ("Criteria most often unknown", _ranked(counted.unknown, "#8a6500", "service lines")),
        ("Facts most often missing", _ranked(counted.missing, "#23508f", "service lines")),
        ("Decisions by month of service", _stacked(counted.by_month, "service lines", months=True)),
    ]
    undated = (
        f"{counted.undated} service lines come from decisions records (--detail decisions), "
        "which keep no date of service (a date is health information): they are counted "
        'under "no date".'
        if counted.undated
        else None
    )
    return _page(
        "dashboard.html",
        charts,
        title=title,
        counted=counted,
        decisions=[(d, counted.decisions[d]) for d in DECISIONS if counted.decisions[d]],
        actions=sorted(counted.actions.items()),
        notes={"Decisions by month of service": undated},
        rows=[(row[:-1], row[-1]) for row in counted.rows],
    )


class DiffCounts(Protocol):
    """What a diff page shows (`dli_check.batch.diff.DiffSummary`)."""

    cases: int
    changed_cases: int
    changed_lines: int
    transitions: Counter[tuple[str, str]]
    criteria: Counter[str]
    changes: list[Any]
    """Each with `source`, `case_id`, `line`, `old`, `new` and `criteria`."""


def diff_page(summary: DiffCounts, *, title: str) -> str:
    """The page of a decision diff: the transitions between decisions, charts of them and
    of the criteria that changed with them, and the lines that change."""
    arrows = Counter({f"{old} -> {new}": n for (old, new), n in summary.transitions.items()})
    charts = [
        ("Decisions that change", _ranked(arrows, "#23508f", "service lines")),
        ("Criteria that changed with them", _ranked(summary.criteria, "#a1242a", "service lines")),
    ]
    rows = [
        (
            (
                change.source,
                change.case_id or "",
                "" if change.line is None else change.line,
                change.old.get("decision") or change.old.get("error") or "",
                change.new.get("decision") or change.new.get("error") or "",
                "; ".join(f"{c}: {o} -> {n}" for c, o, n in change.criteria),
            ),
            None,
        )
        for change in summary.changes
    ]
    return _page(
        "diff.html",
        charts,
        title=title,
        summary=summary,
        transitions=sorted(summary.transitions.items(), key=lambda kv: (-kv[1], kv[0])),
        rows=rows,
    )


def _page(template: str, charts: list[tuple[str, tuple[str, Any]]], **values: Any) -> str:
    """A page of the dashboard's kind: its style, its one script, its charts (as data:
    images, with their numbers), and `values` for its template."""
    import markupsafe

    css = asset("worksheet.css").strip() + "\n" + asset("dashboard.css").strip()
    page: str = (
        environment()
        .get_template(template)
        .render(
            csp=markupsafe.Markup(_policy(css)),
            css=markupsafe.Markup(css),
            script=markupsafe.Markup(SCRIPT),
            charts=[(name, _data_uri(svg), data) for name, (svg, data) in charts],
            **values,
        )
    )
    return page


def _policy(css: str) -> str:
    """The pages' policy: their own style and their one script, by hash; data: images."""
    return (
        f"default-src 'none'; style-src '{_hash(css)}'; script-src '{_hash(SCRIPT)}'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _data_uri(svg: str) -> str:
    """An SVG as an image's address: the page's policy lets in data: images, and an
    image runs nothing and keeps its own styles."""
    if not svg:
        return ""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportSupportMissing(
            "HTML output needs the report extra: pip install 'dli-check[report]'"
        ) from None
    matplotlib.use("svg")
    matplotlib.rcParams.update(
        {
            "svg.hashsalt": "dli-check",  # the same ids every time: the same page
            "svg.fonttype": "none",  # text as text: read aloud, found, selectable
            "text.parse_math": False,  # a $ in a label is a dollar sign
            "font.family": "sans-serif",
            "font.size": 10,
        }
    )
    import matplotlib.pyplot as plt

    return plt


def _whole_numbers() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    figure.clf()
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _ranked(counts: Counter[str], colour: str, unit: str) -> tuple[str, list[tuple[str, int]]]:
    """A horizontal bar per item, most first (ties by name), each bar labelled with its
    count; and the data, for the table beside it."""
    data = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]
    if not data:
        return "", []
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 0.4 * len(data) + 0.8))
    names = [terminal(name) for name, _ in data][::-1]
    bars = axes.barh(names, [n for _, n in data][::-1], color=colour)
    axes.bar_label(bars, padding=3)
    axes.xaxis.set_major_locator(_whole_numbers())
    axes.set_xlabel(unit)
    axes.spines[["top", "right"]].set_visible(False)
    svg = _svg(figure)
    plt.close(figure)
    return svg, data


def _stacked(
    counts: Counter[tuple[str, str]], unit: str, *, months: bool = False
) -> tuple[str, list[tuple[str, int]]]:
    """Stacked bars of decisions per group (service, or month in order), in the
    decisions' colours, with a legend; and the data."""
    groups = sorted({g for g, _ in counts})
    if not groups:
        return "", []
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(8, 0.45 * len(groups) + 1.2) if not months else (8, 3.5))
    shown = [d for d in DECISIONS if any(counts[(g, d)] for g in groups)]
    base = [0] * len(groups)
    labels = [terminal(g) for g in groups]
    for decision in shown:
        values = [counts[(g, decision)] for g in groups]
        if months:
            bars = axes.bar(labels, values, bottom=base, color=_COLOURS[decision], label=decision)
        else:
            bars = axes.barh(labels, values, left=base, color=_COLOURS[decision], label=decision)
        axes.bar_label(
            bars,
            labels=[str(v) if v else "" for v in values],
            label_type="center",
            color="white",
            fontsize=8,
        )
        base = [b + v for b, v in zip(base, values, strict=True)]
    axes.set_xlabel("month of service" if months else unit)
    if months:
        axes.set_ylabel(unit)
        axes.yaxis.set_major_locator(_whole_numbers())
        axes.tick_params(axis="x", labelrotation=45)
    else:
        axes.xaxis.set_major_locator(_whole_numbers())
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    svg = _svg(figure)
    plt.close(figure)
    data = [(f"{g}: {d}", counts[(g, d)]) for g in groups for d in shown if counts[(g, d)]]
    return svg, data
