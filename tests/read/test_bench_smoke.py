"""The national and web benchmarks run on a tiny ledger in every test run, so they never rot:
each prints every measure of its table (the figures themselves are not judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> list[str]:
    r = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout.splitlines()


def test_the_national_benchmark_runs_trickled_and_checks_the_fast_audit_against_the_fold(tmp_path):
    """A trickled tiny history: every measure printed, the mid-year cut among them, the fast audit equal to the full fold."""
    lines = _run("national.py", "--db", str(tmp_path / "n.sqlite"), "--decisions", "30", "--bookings", "5",
                 "--trickle", "--full")
    text = "\n".join(lines)
    for wanted in ("baseline: read and decode every event", "rebuild all read models", "now: compliance, Stockholm",
                   "cut mid-year at position", "as-of audit, Stockholm 2018, by time", "full fold (reference)",
                   "peak memory"):
        assert wanted in text, wanted


def test_the_web_benchmark_asks_every_page(tmp_path):
    """Every page of the web benchmark answers on a tiny ledger, with its cold and best figures."""
    lines = _run("web.py", "--db", str(tmp_path / "w.sqlite"), "--decisions", "30", "--bookings", "5")
    rows = [line for line in lines if line.rstrip().endswith(("met", "NOT met"))]
    labels = " ".join(rows)
    for wanted in ("grants", "overview 2018", "region-year Stockholm", "audit Stockholm", "decision D"):
        assert wanted in labels, wanted
    assert len(rows) == 8


def test_all_benchmarks_gather_their_aims_into_one_table(tmp_path):
    """bench/all.py runs the benchmarks it is given and prints one table with each one's judged figures."""
    lines = _run("all.py", "--stores", str(tmp_path), "--smoke", "--only", "web.py", "--only", "startup.py")
    table = [line for line in lines if line.startswith("| ") and "---" not in line][1:]
    benches = {line.split("|")[1].strip() for line in table}
    assert benches == {"web", "startup"}
    assert any("grants --help" in line for line in table) and any("page: overview 2018" in line for line in table)
    assert all(line.rstrip().endswith("(not judged) |") for line in table)  # a smoke run judges nothing
    assert lines[-1].startswith(f"{len(table)} figures with an aim")
