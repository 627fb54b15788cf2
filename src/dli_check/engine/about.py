"""Where the bundled rules are, and what ``dli-check --version`` says, read without
loading the engine."""

from __future__ import annotations

from pathlib import Path

from dli_check._version import __version__
from dli_check.values.icd10cm import release, releases

BUNDLED_RULES = "cg-trans-03.yaml"


def bundled_rules_path() -> Path:
    """Where the bundled CG-TRANS-03 rule file is installed."""
    # The wheel installs the package as files (never zipped), so its own directory is where
    # the rule file is; importlib.resources would say the same after a 9 ms import.
    return Path(__file__).parent.parent / "rules" / BUNDLED_RULES


def version_text(rules_path: Path) -> str:
    """The engine version, the bundled guideline's id and dates, and the ICD-10-CM releases
    (the installed one, and the earlier ones shipped as data)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    guideline = yaml.load(rules_path.read_text(encoding="utf-8"), Loader=loader)["guideline"]
    name, source = release()
    earlier = ", ".join(r.name for r in releases() if r.name != name)
    return (
        f"dli-check {__version__}\n{guideline['id']} (published {guideline['publish_date']}, "
        f"last reviewed {guideline['last_review_date']})\n"
        f"ICD-10-CM {name} from {source}" + (f"; earlier: {earlier}" if earlier else "")
    )
