"""Time every bounded query and every whole-log command of a generated national ledger, with
each command's peak memory, against a read-and-decode baseline measured in the same run.

    python bench/queries.py --db /tmp/national.sqlite --decisions 6700 --bookings 80
    python bench/queries.py --smoke          # a tiny ledger in a few seconds, no aims judged

The history is bench/national.py's (generated when the store is empty). Every measure is a
`grants` command run as its own process: its seconds are timed inside the process around the
command (Python's start-up and imports excluded), its peak memory (RSS high-water mark) is
read from ``wait4``. The queries are the best of three runs; the whole-log commands run once.
The baseline is reading and decoding every event (as its own process); the import's is the
store's raw batched load of the same export file (bench/import_national.py's, with no check
and no rule). Aims (issue 13): each query under 0.5 s and 200 MB; verify, export, import and
rebuild under 300 MB; verify and export at most 1.3 x the baseline; import at least 0.5 x the
raw load's rate.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.import_national import BASELINE, GENERATE  # noqa: E402
from bench.aimlog import judged  # noqa: E402

G = "professionsmiljarden"
TIMED = r'''
import os, sys, time
from commands.cli import main
sys.argv[0] = "grants"
started = time.perf_counter()
try:
    main()
finally:
    with open(os.environ["BENCH_SECONDS"], "w") as f:
        f.write(repr(time.perf_counter() - started))
'''
READ_AND_DECODE = r'''
import os, sys, time
from ledger.application import open_ledger
app = open_ledger(sys.argv[1], must_exist=True)
started = time.perf_counter()
count = sum(1 for _ in app.read())
with open(os.environ["BENCH_SECONDS"], "w") as f:
    f.write(repr(time.perf_counter() - started))
print(count)
'''
# the raw load, timed from the ledger's opening to its commit (as the commands time themselves)
RAW_LOAD = (BASELINE.replace("app = open_ledger", "import os, time\n_started = time.perf_counter()\n"
                            "app = open_ledger", 1)
            + "\nwith open(os.environ['BENCH_SECONDS'], 'w') as f:\n"
              "    f.write(repr(time.perf_counter() - _started))\n")


def run(args: list[str], what: str) -> tuple[float, float, str]:
    """Run a process (a Python snippet and its arguments); the seconds it timed itself (else its
    whole run), its own peak RSS in MB (from wait4), its stdout. A failure stops the benchmark."""
    with tempfile.TemporaryDirectory() as tmp:
        timing = os.path.join(tmp, "seconds")
        out, err = os.path.join(tmp, "out"), os.path.join(tmp, "err")
        started = time.perf_counter()
        with open(out, "w") as o, open(err, "w") as e:
            process = subprocess.Popen([sys.executable, "-c", *args], cwd=ROOT, stdout=o, stderr=e,
                                       env={**os.environ, "BENCH_SECONDS": timing})
            _, status, usage = os.wait4(process.pid, 0)
        whole = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SystemExit(f"{what} failed (exit {code}): {Path(err).read_text()[-2000:]}")
        seconds = float(Path(timing).read_text()) if os.path.exists(timing) else whole
        return seconds, usage.ru_maxrss / 1024 * 1.048576, Path(out).read_text()


def grants(db: str, *args: str) -> list[str]:
    return [TIMED, "--db", db, "--user", "bench", "--format", "json", *args]


def best(args: list[str], what: str, runs: int) -> tuple[float, float]:
    """The fastest of ``runs`` (noise only ever adds time) and the largest peak memory."""
    results = [run(args, what) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results)


def facts(db: str) -> dict:
    """What the queries ask about: the log's length, a Stockholm decision, a moment at 3/4."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        head = conn.execute("SELECT MAX(rowid) FROM stored_events").fetchone()[0]
        decision = conn.execute("SELECT decision FROM grants_rm_commitments WHERE region = '01' "
                                "ORDER BY decision LIMIT 1").fetchone()[0]
        state = conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (head * 3 // 4,)).fetchone()[0]
    from ledger.library import stamp_of

    moment = datetime.datetime.fromisoformat(stamp_of(bytes(state), head * 3 // 4))
    return {"head": head, "decision": decision, "moment": moment.isoformat()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="/tmp/grants-national.sqlite")
    parser.add_argument("--decisions", type=int, default=6700)
    parser.add_argument("--bookings", type=int, default=80, help="bookings per decision")
    parser.add_argument("--fresh", action="store_true", help="delete the store first")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny ledger in a temporary folder, every measure once, no aims judged")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="grants-bench-")
    if args.smoke:
        args.db, args.decisions, args.bookings, args.fresh = os.path.join(scratch.name, "smoke.sqlite"), 30, 4, True
    runs = 1 if args.smoke else 3
    if args.fresh and os.path.exists(args.db):
        os.remove(args.db)
    if not os.path.exists(args.db):
        seconds, _, out = run([GENERATE, args.db, str(args.decisions), str(args.bookings)], "generate")
        print(f"generated {out.strip()} events in {seconds:.1f} s", flush=True)
    base, _, out = run([READ_AND_DECODE, args.db], "baseline")
    events = int(out)
    rows = [("baseline: read and decode every event", base, None, "", None)]

    def whole(label, seconds, peak, aim, met):
        rows.append((label, seconds, peak, aim, met))
        print(f"  {label}: {seconds:.2f} s, {peak:.0f} MB", flush=True)

    seconds, peak, _ = run(grants(args.db, "rebuild"), "rebuild")
    whole("rebuild every read model", seconds, peak, "< 300 MB", peak < 300)
    f = facts(args.db)
    head = f["head"]
    queries = [
        (f"history --decision {f['decision']} (Stockholm)", ["history", G, "--decision", f["decision"]]),
        ("history --region 23 (Jämtland)", ["history", G, "--region", "23"]),
        ("commitments, Stockholm 2018", ["commitments", G, "--region", "01", "--year", "2018"]),
        ("compliance, Stockholm 2018", ["compliance", G, "--region", "01", "--year", "2018", "--on", "2019-03-01"]),
        ("balance, all regions, --position 10 %", ["balance", G, "--position", str(head // 10)]),
        ("balance, all regions, --position 50 %", ["balance", G, "--position", str(head // 2)]),
        ("balance, all regions, --position 90 %", ["balance", G, "--position", str(head * 9 // 10)]),
        ("balance, all regions, --as-of the moment at 75 %", ["balance", G, "--as-of", f["moment"]]),
        ("commitments, Stockholm 2018, --position 90 %",
         ["commitments", G, "--region", "01", "--year", "2018", "--position", str(head * 9 // 10)]),
        ("compliance, Stockholm 2018, --position 50 %",
         ["compliance", G, "--region", "01", "--year", "2018", "--on", "2019-03-01", "--position", str(head // 2)]),
        ("compliance, Stockholm 2018, --as-of the moment at 75 %",
         ["compliance", G, "--region", "01", "--year", "2018", "--as-of", f["moment"]]),
        ("list grants", ["list", "grants"]),
        ("list decisions, Stockholm 2018", ["list", "decisions", G, "--region", "01", "--year", "2018"]),
        ("show grant", ["show", "grant", G]),
        (f"show decision {f['decision']} (Stockholm)", ["show", "decision", G, f["decision"]]),
    ]
    for label, command in queries:
        seconds, peak = best(grants(args.db, *command), label, runs)
        whole(label, seconds, peak, "< 0.5 s, < 200 MB", seconds < 0.5 and peak < 200)

    seconds, peak, _ = run(grants(args.db, "verify"), "verify")
    whole("verify", seconds, peak, "<= 1.3 x, < 300 MB", seconds <= 1.3 * base and peak < 300)
    exported = os.path.join(scratch.name, "ledger.jsonl")
    seconds, peak, _ = run(grants(args.db, "export", "--output", exported), "export")
    whole("export", seconds, peak, "<= 1.3 x, < 300 MB", seconds <= 1.3 * base and peak < 300)
    raw_db, target = os.path.join(scratch.name, "raw.sqlite"), os.path.join(scratch.name, "imported.sqlite")
    raw, raw_peak, _ = run([RAW_LOAD, raw_db, exported], "raw load")
    os.remove(raw_db)
    whole(f"raw batched load of the export ({events / raw:.0f} events/s)", raw, raw_peak, "", None)
    seconds, peak, _ = run(grants(target, "import", exported), "import")
    whole(f"import ({events / seconds:.0f} events/s, {raw / seconds:.2f} of the raw load's rate)", seconds, peak,
          ">= 0.5 x raw rate, < 300 MB", raw / seconds >= 0.5 and peak < 300)

    print(f"\nstore: {args.db}: {events} events; {datetime.date.today()}")
    print(f"| {'measure':58} | {'seconds':>8} | {'x baseline':>10} | {'MB':>5} | {'aim':28} | {'':8} |")
    print(f"| {'-' * 58} | {'-' * 7}: | {'-' * 9}: | {'-' * 4}: | {'-' * 28} | {'-' * 8} |")
    for label, seconds, peak, aim, met in rows:
        verdict = "" if met is None or args.smoke else ("met" if met else "not met")
        memory = "" if peak is None else f"{peak:.0f}"
        print(f"| {label:58} | {seconds:8.3f} | {seconds / base:10.3f} | {memory:>5} | {aim:28} | {verdict:8} |")
        if aim:
            judged("queries", label, seconds, seconds / base, aim, None if args.smoke else met, peak)
    scratch.cleanup()


if __name__ == "__main__":
    main()
