"""A rule file's validated model, from its bytes.

It is made when a rule file is compiled; compiled rules read from the cache
(`dli_check.engine.cache`) carry only the bytes, and make the model again when something first needs
it (a questionnaire, FHIR bindings, ``rules show``): deciding a case needs no model, and so
no YAML and no pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dli_check.errors import PathKey, Problem, RuleFileError

if TYPE_CHECKING:
    from dli_check.language.model import RuleFile
    from dli_check.language.text import Located


def read_model(raw: bytes, name: str) -> tuple[RuleFile, Located]:
    """Parse and validate a rule file's bytes; `name` is the file named in errors. Raises
    `RuleFileError` listing every problem with its line and column."""
    from pydantic import ValidationError

    from dli_check.language.messages import data_path, describe
    from dli_check.language.model import RuleFile
    from dli_check.language.text import load_rule_text

    located = load_rule_text(raw, name)
    if located.data is None:
        raise RuleFileError([Problem((), "the rule file is empty", name, 1, 1)])
    try:
        return RuleFile.model_validate(located.data), located
    except ValidationError as exc:
        raise RuleFileError(
            [
                located_problem(
                    name,
                    located,
                    data_path(located.data, e["loc"], missing=e["type"] == "missing"),
                    describe(e),
                    key=e["type"] == "extra_forbidden",
                )
                for e in exc.errors()
            ]
        ) from None


def located_problem(
    name: str, located: Located, path: PathKey, message: str, *, key: bool = False
) -> Problem:
    """A problem at a path of a rule file's data, with the line and column it is at."""
    line, column = located.position(path, key=key)
    return Problem(path, message, name, line, column)


class RuleModel:
    """A rule file's model, kept with the bytes it is made from; pickled as the bytes."""

    __slots__ = ("_model", "name", "raw")

    def __init__(self, raw: bytes, name: str, model: RuleFile | None = None) -> None:
        self.raw, self.name, self._model = raw, name, model

    def get(self) -> RuleFile:
        """The model, made on first use."""
        if self._model is None:
            self._model = read_model(self.raw, self.name)[0]
        return self._model

    def __reduce__(self) -> tuple[type[RuleModel], tuple[bytes, str]]:
        return (RuleModel, (self.raw, self.name))
