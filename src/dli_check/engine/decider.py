"""What decides cases, whether one rule file (`Rules`) or the dated versions of one guideline
(`RuleSet`): one interface, so that no caller asks which of the two it holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from dli_check.compiler.case_format import CaseFormat
    from dli_check.compiler.checks import CompiledCheck
    from dli_check.compiler.criteria import CompiledService
    from dli_check.engine.rules import Rules
    from dli_check.engine.versions import RuleSet
    from dli_check.results import CaseResult


class Decider(Protocol):
    """Rules that decide cases: `dli_check.load_rules` returns one."""

    @property
    def source(self) -> str:
        """The rule file, or the directory of versions, it was loaded from."""

    @property
    def sha256(self) -> str:
        """The sha256 of the rule file (of all of them, for versions)."""

    @property
    def guideline_id(self) -> str:
        """The guideline's id, e.g. ``CG-TRANS-03``."""

    @property
    def versions(self) -> tuple[Rules, ...]:
        """Each version, in date order (one rule file: itself alone)."""

    @property
    def latest(self) -> Rules:
        """The latest version (one rule file: itself)."""

    @property
    def case_format(self) -> CaseFormat:
        """The case the rules read (the latest version's)."""

    @property
    def services(self) -> dict[str, CompiledService]:
        """The services, by id (the latest version's)."""

    @property
    def checks(self) -> tuple[CompiledCheck, ...]:
        """The case checks the rule file declares (the latest version's)."""

    def services_for_code(self, code: str) -> tuple[CompiledService, ...]:
        """The services whose code sets list a procedure code (the latest version's)."""

    @property
    def field_names(self) -> frozenset[str]:
        """Every key a case may hold."""

    def decide_data(self, data: Any, source: str, *, read_from_fhir: bool = False) -> CaseResult:
        """Validate decoded case data and decide it."""


def _both_decide(one: Rules, versions: RuleSet) -> tuple[Decider, Decider]:
    """Never called: mypy checks here that both kinds of rules are a `Decider`."""
    return one, versions
