"""Real concurrent writers: separate `grants` processes racing for the same region-year."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.jamtland import G, jamtland

from tests.drivers import Grants

from tests.drivers import RUN_GRANTS  # noqa: E402

# One writer process: runs each command line it is given as `grants` would (the CLI's own
# entry point, a fresh session and ledger each time) one after the other, and prints their
# exit codes. Sixteen of these race; running ten commands in one process saves 144 Python
# start-ups (about 0.7 s of CPU each), which would otherwise dominate the test's time.
WRITER = """
import json, sys
from commands.cli import cli
codes = []
for args in json.loads(sys.argv[1]):
    try:
        cli.main(args, prog_name="grants")
    except SystemExit as e:
        codes.append(e.code if isinstance(e.code, int) else 1)
print(json.dumps(codes))
"""


def test_racing_decisions_never_overcommit(store):
    """16 processes each decide 1 000 000 on a year with 2 228 598 left: exactly two succeed,
    the rest are refused (1); none gives up on contention (3) or exits 2; never overcommitted."""
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
    assert sorted(codes) == [0, 0] + [1] * 14, results
    assert all("Traceback" not in err for _, err in results)
    [b] = json.loads(grants("balance", G, "--region", "23", "--year", "2018", fmt="json").stdout)
    assert b["committed"] == f"{9_980_000 + 2_000_000}.00"
    assert b["available"] == f"{2_228_598 - 2_000_000}.00"


def _writer_commands(store: str, n: int) -> list[list[str]]:
    """Writer n's ten commands on Jämtland 2018: reservations and requisitions of 1 000 kr, each
    with its own ref, the last a retry of the first (same ref and content)."""
    base = ["--db", store, "--user", f"clerk{n}"]
    where = [G, "--region", "23", "--year", "2018", "--amount", "1000"]
    commands = []
    for i in range(9):
        ref = f"W{n}-{i}"
        if i % 2:
            commands.append(base + ["requisition", *where, "--pot", "stimulus", "--on", "2018-03-01",
                                    "--ref", ref])
        else:
            commands.append(base + ["reserve", *where, "--purpose", "it-admin", "--on", "2018-04-06",
                                    "--ref", ref])
    return commands + [commands[0]]


def test_sixteen_writers_160_commands_none_gives_up(store):
    """16 writer processes send 10 commands each (160) to one region-year at once: every one
    is recorded or, for the retries, unchanged (exit 0, no exit 3, no traceback), and the
    year's figures are exactly the sum of the commands recorded."""
    grants = Grants(store)
    jamtland(grants)
    before = grants.events()
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, json.dumps(_writer_commands(store, n))],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(16)
    ]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(code == 0 and "Traceback" not in err for code, _, err in results), results
    codes = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in results]
    assert codes == [[0] * 10] * 16, results
    outputs = "".join(out for _, out, _ in results)
    # 5 reservations and 4 requisitions recorded per writer; its retry recorded nothing
    [b] = grants.json("balance", G, "--region", "23", "--year", "2018")
    assert b["reserved"] == f"{16 * 5 * 1000}.00"
    assert b["requisitioned"] == f"{16 * 4 * 1000}.00"
    assert b["available"] == f"{2_228_598 - 16 * 5 * 1000}.00"
    assert grants.events() == before + 16 * 9
    assert "verified" in grants("verify").stdout
    assert outputs.count("recorded:") == 16 * 9 and outputs.count("unchanged:") == 16
