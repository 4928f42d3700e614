"""Real concurrent writers: separate `grants` processes racing for the same region-year."""

from __future__ import annotations

import json
import subprocess
import sys


from tests.test_cli import G, Grants, jamtland

RUN_GRANTS = "import sys; from commands.cli import main; sys.argv[0] = 'grants'; main()"


def test_racing_decisions_never_overcommit(store):
    """16 processes each decide 1 000 000 on a year with 2 228 598 left: at most two succeed,
    the rest are refused (1) or give up on contention (3); never exit 2, never overcommitted."""
    grants = Grants(store)
    jamtland(grants)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RUN_GRANTS, "--db", store, "--user", f"clerk{n}", "decide", G,
             "--region", "23", "--decision", f"RACE-{n}", "--decided-by", "Anna Berg",
             "--on", "2018-05-01", "--area", "a", "--activity", "b", "--purpose", "it-admin",
             "--amount", "2018=1000000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(16)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    codes = [code for code, _ in results]
    assert set(codes) <= {0, 1, 3}, results
    assert all("Traceback" not in err for _, err in results)
    [b] = json.loads(grants("balance", G, "--region", "23", "--year", "2018", fmt="json").stdout)
    assert b["committed"] == f"{9_980_000 + 1_000_000 * codes.count(0)}.00"
    assert codes.count(0) == 2 or 3 in codes
    assert b["available"] == f"{2_228_598 - 1_000_000 * codes.count(0)}.00"
