"""bench/queries.py's --smoke mode runs every measure on a tiny generated ledger and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_query_benchmark_runs_every_measure_on_a_tiny_ledger():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "queries.py"), "--smoke"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    table = [line for line in r.stdout.splitlines() if line.startswith("| ")]
    labels = [line.split("|")[1].strip() for line in table[2:]]
    assert labels[0] == "baseline: read and decode every event"
    for wanted in ("rebuild", "history --decision", "history --region", "--position 90 %", "--as-of",
                   "list decisions", "show decision", "verify", "export", "raw batched load", "import ("):
        assert any(wanted in label for label in labels), wanted
    for line in table[2:]:
        cells = [c.strip() for c in line.split("|")[1:-1]]
        assert float(cells[1]) > 0 and cells[5] == ""  # seconds measured; no aim judged in a smoke run
        assert cells[0].startswith("baseline") or 10 < float(cells[3]) < 1000  # each its own process's MB
