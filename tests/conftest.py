"""Shared test helpers: a valid CG-TRANS-03 case to mutate, and paths."""

from __future__ import annotations

import atexit
import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

# Compiled rules are cached in a directory of the test run's own (subprocesses inherit
# it), never in the user's cache; tests of the cache set their own.
os.environ["DLI_CHECK_CACHE"] = tempfile.mkdtemp(prefix="dli-check-cache-")
atexit.register(shutil.rmtree, os.environ["DLI_CHECK_CACHE"], ignore_errors=True)

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"

BASE_CASE: dict[str, Any] = {
    "case_id": "T-1",
    "patient": {"diagnoses": ["C92.02", "Z94.84"]},
    "transplants": [
        {
            "type": "allogeneic",
            "conditioning": "myeloablative",
            "status": "completed",
            "date": "2025-03-14",
            "medically_necessary": True,
            "indication": "C92.00",
            "donor_id": "D-1",
        }
    ],
    "services": [{"code": "38242", "date": "2025-09-02", "lymphocyte_donor_id": "D-1"}],
}


def mutate(changes: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of the base case with dotted-path changes; the value `DELETE` removes a key.

    ``{"transplants.0.type": "autologous", "services.0.date": DELETE}``
    """
    case = copy.deepcopy(base if base is not None else BASE_CASE)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = case
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        key: Any = int(last) if isinstance(node, list) else last
        if value is DELETE:
            del node[key]
        else:
            node[key] = value
    return case


DELETE = object()


@pytest.fixture
def base_case() -> dict[str, Any]:
    return copy.deepcopy(BASE_CASE)
