"""bench/recording.py runs (tiny sizes, no aims), so the benchmark never rots."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_recording_benchmark_runs_in_smoke_mode(tmp_path):
    script = Path(__file__).resolve().parents[2] / "bench" / "recording.py"
    result = subprocess.run([sys.executable, str(script), "--smoke", "--work", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["store", "measure", "figure"]
    measures = [line for line in lines[1:] if line.startswith("SQLite")]
    assert len(measures) == 4 and "raw single save" in measures[0] and "spend one at a time" in measures[1]
    assert float(measures[1].split()[-1]) > 0  # the ratio to the raw save
    assert list(tmp_path.iterdir()) == []  # its store is removed again
