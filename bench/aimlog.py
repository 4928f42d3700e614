"""Each benchmark's judged figures, gathered into one table by ``bench/all.py``.

A benchmark calls :func:`judged` for every figure that has an aim; when the environment
names a file (``GRANTS_BENCH_AIMS``, set by ``bench/all.py``), the figure is appended to it
as one JSON line. Run alone, a benchmark prints its own table and this does nothing.
"""

from __future__ import annotations

import json
import os

ENV = "GRANTS_BENCH_AIMS"


def judged(bench: str, measure: str, seconds: float | None, ratio: float | None, aim: str, met: bool | None,
           mb: float | None = None) -> None:
    """One figure and its aim (``met`` None: measured, not judged, as in a smoke run)."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"bench": bench, "measure": measure, "seconds": seconds, "ratio": ratio, "mb": mb,
                            "aim": aim, "met": met}) + "\n")
