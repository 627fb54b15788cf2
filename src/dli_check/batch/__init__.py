"""Many cases: listing inputs, the worker pool, summaries and resuming (`run_batch`,
`list_inputs`, from `runner`), comparing two rule-file revisions (`diff`), and rule-file
test suites (`suites`). The two public names are imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["list_inputs", "run_batch"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from dli_check.batch import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'dli_check.batch' has no attribute {name!r}")


if TYPE_CHECKING:
    from dli_check.batch.runner import list_inputs, run_batch
