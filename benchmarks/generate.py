"""A seeded generator of realistic synthetic CG-TRANS-03 cases.

About 60% are medically necessary; the rest fail one to three criteria or miss facts.
Codes come with and without dots and in either letter case, inside and outside the printed
ranges, including letter subcategories and the codes the ranges leave out.
"""

from __future__ import annotations

import random
from typing import Any

IN_RANGE = [
    "C92.00",
    "C92.02",
    "c9201",
    "C91.00",
    "C91.A0",
    "C92.Z2",
    "C84.A0",
    "C84.Z1",
    "C90.00",
    "C9001",
    "C83.38",
    "C81.10",
    "C85.10",
    "C86.60",
    "C88.4",
    "C82.90",
]
OUT_OF_RANGE = ["C81.9A", "C93.10", "D46.9", "C95.00", "D47.1", "D61.09", "C50.911"]
LISTED_Z = ["Z94.84", "z9481", "Z85.6", "Z85.71"]


def _base(rng: random.Random, number: int) -> dict[str, Any]:
    donor = f"D-{rng.randrange(10**6):06d}"
    indication = rng.choice(IN_RANGE)
    return {
        "case_id": f"SYN-{number:07d}",
        "patient": {"diagnoses": [indication, rng.choice(LISTED_Z)]},
        "transplants": [
            {
                "type": "allogeneic",
                "conditioning": rng.choice(
                    ["myeloablative", "non_myeloablative", "reduced_intensity"]
                ),
                "status": "completed",
                "date": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                "medically_necessary": True,
                "indication": indication,
                "donor_id": donor,
            }
        ],
        "services": [
            {
                "code": "38242",
                "date": f"2025-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                "lymphocyte_donor_id": donor,
            }
        ],
    }


def _break(case: dict[str, Any], rng: random.Random) -> None:
    transplant, line = case["transplants"][-1], case["services"][0]
    kind = rng.randrange(12)
    if kind == 0:
        transplant["type"] = rng.choice(["autologous", "syngeneic"])
    elif kind == 1:
        transplant["medically_necessary"] = False
    elif kind == 2:
        transplant["status"] = "planned"
    elif kind == 3:
        transplant["indication"] = rng.choice(OUT_OF_RANGE)
    elif kind == 4:
        case["patient"]["diagnoses"] = [rng.choice(OUT_OF_RANGE)]
    elif kind == 5:
        line["lymphocyte_donor_id"] = "D-OTHER"
    elif kind == 6:
        line["genetically_modified"] = True
    elif kind == 7:
        transplant.pop(rng.choice(["medically_necessary", "donor_id", "type", "status"]), None)
    elif kind == 8:
        case["services"].append({"code": "86999"})
    elif kind == 9:
        # A tandem transplant: an autologous one first, which the engine must pass over.
        earlier = {**transplant, "type": "autologous", "donor_id": "SELF", "date": "2023-05-02"}
        case["transplants"].insert(0, earlier)
    elif kind == 10:
        case["services"].append({"code": rng.choice(["99213", "36415", "J1100"])})
    else:
        case["services"] = [
            {
                "service": "lymphocyte_collection_cryopreservation",
                "lymphocyte_donor_id": transplant.get("donor_id", "D-1"),
            }
        ]


def generate(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    """`count` cases, the same for the same seed."""
    rng = random.Random(seed)
    cases = []
    for number in range(count):
        case = _base(rng, number)
        if rng.random() >= 0.6:
            for _ in range(rng.randrange(1, 4)):
                _break(case, rng)
        cases.append(case)
    return cases
