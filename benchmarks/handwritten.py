"""The floor: CG-TRANS-03 as a hand-written Python function, as a programmer would write it
for this one guideline, with no rule file, no validation and no citations. It returns, for
each service line, the decision and the criteria that failed or were unknown.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

_MALIGNANT = ("C81", "C82", "C83", "C84", "C85", "C86", "C88", "C90", "C91", "C92")
_NEWER = {"C819A", "C829A", "C839A", "C849A", "C859A"}  # FY2025 codes, counted with their range
_CATEGORY = tuple(f"C{n}" for n in range(81, 97))  # ICD-10-CM block C81-C96
_CONDITIONING = {"myeloablative", "non_myeloablative", "reduced_intensity"}


def _key(code: str) -> str:
    return code.replace(".", "").upper()


def _malignancy(code: str) -> bool:
    """A code the Coding section prints (or one of the FY2025 codes it counts)."""
    key = _key(code)
    if key in _NEWER:
        return True
    if not key.startswith(_MALIGNANT):
        return False
    if key.startswith("C85"):
        return key >= "C851"
    if key.startswith("C86"):
        return key[:4] <= "C866"
    return not (key.startswith("C90") and key[:4] > "C903")


def _listed(code: str) -> bool:
    key = _key(code)
    return _malignancy(code) or key.startswith(("Z856", "Z857")) or key in ("Z9481", "Z9484")


def _hematologic_malignancy(code: str | None) -> str:
    """The transplant's indication against the clinical category C81-C96, with the
    myelodysplastic syndromes (D46); a history, status or complication code asks."""
    if code is None or _key(code).startswith(("Z", "T860", "T865")):
        return "unknown"
    return "met" if _key(code).startswith((*_CATEGORY, "D46")) else "not_met"


def _same(a: str, b: str) -> bool:
    if unicodedata.normalize("NFKC", a).strip().casefold() == (
        unicodedata.normalize("NFKC", b).strip().casefold()
    ):
        return True
    # Written differently: the letters and digits after one registry prefix (NAME:).
    prefixes = [re.match(r"\s*([A-Za-z]{2,12})\s*:\s*", x) for x in (a, b)]
    if len({m.group(1).casefold() for m in prefixes if m}) > 1:
        return False
    keys = [
        "".join(c for c in unicodedata.normalize("NFKC", x[m.end() :] if m else x).casefold()
                if c.isalnum())
        for x, m in zip((a, b), prefixes, strict=True)
    ]  # fmt: skip
    return bool(keys[0]) and keys[0] == keys[1]


def _three(value: Any, test: bool) -> str:
    return "unknown" if value is None else ("met" if test else "not_met")


def _transplant(t: dict[str, Any]) -> dict[str, str]:
    return {
        "transplant-allogeneic": _three(t.get("type"), t.get("type") == "allogeneic"),
        "transplant-conditioning": "met"
        if t.get("conditioning") in _CONDITIONING | {None}
        else "not_met",
        "transplant-medically-necessary": _three(
            t.get("medically_necessary"), t.get("medically_necessary") is True
        ),
    }


def _same_donor(t: dict[str, Any], line: dict[str, Any]) -> str:
    donor, lymph = t.get("donor_id"), line.get("lymphocyte_donor_id")
    if donor is None or lymph is None:
        return "unknown"
    return "met" if _same(donor, lymph) else "not_met"


_TRANSPLANT_CRITERIA = (
    "transplant-allogeneic",
    "transplant-conditioning",
    "transplant-medically-necessary",
    "transplant-completed",
    "transplant-treated-hematologic-malignancy",
    "same-donor",
)


def _dli_transplant(t: dict[str, Any], line: dict[str, Any]) -> dict[str, str]:
    status = t.get("status")
    completed = _three(status, status == "completed")
    if completed == "met" and line.get("date") and t.get("date"):
        completed = "met" if line["date"] > t["date"] else "not_met"
    return {
        **_transplant(t),
        "transplant-completed": completed,
        "transplant-treated-hematologic-malignancy": _hematologic_malignancy(t.get("indication")),
        "same-donor": _same_donor(t, line),
    }


def _collection_transplant(t: dict[str, Any], line: dict[str, Any]) -> dict[str, str]:
    return {
        **_transplant(t),
        "transplant-treated-hematologic-malignancy": _hematologic_malignancy(t.get("indication")),
        "same-donor": _same_donor(t, line),
    }


def _judged(
    case: dict[str, Any], line: dict[str, Any], judge: Any, graft: bool = False
) -> dict[str, str]:
    """The transplant criteria on one transplant: for an infusion (`graft`), the graft in
    place (the latest allogeneic transplant completed before it); else, or when there is
    none, the first that meets them all, or the closest (the lymphocyte donor's first)."""
    transplants = case.get("transplants") or []
    if not transplants:
        return {c: "unknown" for c in judge({}, {"lymphocyte_donor_id": "x"})}
    if len(transplants) == 1:
        return judge(transplants[0], line)  # type: ignore[no-any-return]
    runs = [judge(t, line) for t in transplants]
    day = line.get("date")
    if graft:
        admitted = [
            i
            for i, t in enumerate(transplants)
            if t.get("type") == "allogeneic"
            and t.get("status") == "completed"
            and (not day or not t.get("date") or day > t["date"])
        ]
        dated = [i for i in admitted if transplants[i].get("date")]
        possible = [max(dated, key=lambda i: (transplants[i]["date"], i))] if dated else []
        possible += [i for i in admitted if not transplants[i].get("date")]
        if possible:
            first = runs[possible[0]]
            return {
                c: s if all(runs[i][c] == s for i in possible) else "unknown"
                for c, s in first.items()
            }

    def rank(i: int) -> tuple[int, int, int, int]:
        values = list(runs[i].values())
        not_met, unknown = values.count("not_met"), values.count("unknown")
        if not not_met and not unknown:
            return (0, 0, 0, i)
        preferred = _same_donor(transplants[i], line) == "met"
        return (1, 0 if preferred else 1, not_met * 1000 + unknown, i)

    return runs[min(range(len(runs)), key=rank)]  # type: ignore[no-any-return]


def _dli(case: dict[str, Any], line: dict[str, Any]) -> dict[str, str]:
    diagnoses = (case.get("patient") or {}).get("diagnoses") or None
    transplant = _judged(case, line, _dli_transplant, graft=True)
    statuses = {c: transplant[c] for c in _TRANSPLANT_CRITERIA[:5]}
    statuses["diagnosis-listed"] = _three(
        diagnoses, bool(diagnoses) and any(_listed(c) for c in diagnoses)
    )
    statuses["same-donor"] = transplant["same-donor"]
    statuses["not-genetically-modified"] = _not_modified(case, line)
    return statuses


def _not_modified(case: dict[str, Any], line: dict[str, Any]) -> str:
    """Not modified: the line does not say so, and no other genetic-modification line (one
    not stated false) is for the same lymphocyte donor."""
    if line.get("genetically_modified"):
        return "not_met"
    status = "met"
    for other in case["services"]:
        if other is line or not _is_modification(other):
            continue
        if other.get("genetically_modified") is False:
            continue
        donor = other.get("lymphocyte_donor_id")
        if donor is None or line.get("lymphocyte_donor_id") is None:
            status = "unknown"
        elif _same(donor, line["lymphocyte_donor_id"]):
            return "not_met"
    return status


def _is_modification(line: dict[str, Any]) -> bool:
    code = line.get("code")
    if code is not None:
        return bool(code.split("-")[0].strip() == "86999")
    return bool(line.get("service") == "genetic_modification_of_donor_lymphocytes")


def _collection(case: dict[str, Any], line: dict[str, Any]) -> dict[str, str]:
    return _judged(case, line, _collection_transplant)


_SERVICES = {
    "38242": "donor_lymphocyte_infusion",
    "86999": "genetic_modification_of_donor_lymphocytes",
}


def decide(case: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Per service line: the decision and the criteria not met or unknown."""
    lines = []
    for line in case["services"]:
        service = line.get("service") or _SERVICES.get(line.get("code", ""))
        if service is None:
            lines.append(("not_applicable", ["governed-by-the-guideline"]))
            continue
        if service == "genetic_modification_of_donor_lymphocytes":
            if line.get("genetically_modified") is False:  # another procedure
                lines.append(("not_applicable", ["governed-by-the-guideline"]))
                continue
            statuses = {"genetic-modification-never-medically-necessary": "not_met"}
        elif service == "donor_lymphocyte_infusion":
            statuses = _dli(case, line)
        else:
            statuses = _collection(case, line)
        values = statuses.values()
        if "not_met" in values:
            decision = "not_medically_necessary"
        elif "unknown" in values:
            decision = "insufficient_information"
        else:
            decision = "medically_necessary"
        lines.append((decision, [c for c, s in statuses.items() if s != "met"]))
    return lines
