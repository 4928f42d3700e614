"""Measure `grants import` of a national history into SQLite and PostgreSQL.

    python bench/import_national.py --decisions 6700 --bookings 80 --work /tmp/grants-import

Generates a national history with bench/national.py's generator (about 1 000 000 events
at these options; skipped when the work folder already holds it), exports it once to
JSON Lines, then for each store (a fresh SQLite file, a fresh PostgreSQL schema):

- baseline: the same file read, each line decoded into its event and encoded for the
  store, written in batches of 5 000 in one transaction by the same recorder calls
  (``ledger.library.load_into_empty_store``): no type checks, no rules;
- import: ``grants import FILE`` as a separate process: every field type-checked, every
  rule re-checked, every year reconciled, written in batches in one transaction.

Each runs as its own process, so its peak memory (RSS high-water mark, from ``wait4``)
is its own; this process stays small, since Linux starts a child's high-water mark at
its parent's. With ``--check``, each store is exported again and compared byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = "postgresql://postgres@127.0.0.1:5432/test"
RUN_GRANTS = "import sys; from commands.cli import main; sys.argv[0] = 'grants'; main()"
GENERATE = r'''
import sys
from bench.national import generate
from ledger.application import GrantLedger
from ledger.persistence import store_env

app = GrantLedger(env=store_env(sys.argv[1]))
generate(app, int(sys.argv[2]), int(sys.argv[3]))
print(app.last_position())
app.close()
'''
BASELINE = r'''
import datetime, json, sys, uuid
from ledger.application import open_ledger
from ledger.library import load_into_empty_store
from projections.intake import SPECS

DATES = {topic: [n for n, a in spec.cls.__annotations__.items() if "datetime.date" in str(a)]
         for topic, spec in SPECS.items()}
app = open_ledger(sys.argv[1])
to_stored = app.mapper.to_stored_event
with open(sys.argv[2], "rb") as f, load_into_empty_store(app, sys.argv[1]) as write:
    stored, positions = [], []
    for line in f:
        r = json.loads(line)
        spec = SPECS[r["topic"]]
        data = r["data"]
        for name in DATES[r["topic"]]:  # dates as dates, the rest as read
            if data[name] is not None:
                data[name] = datetime.date.fromisoformat(data[name])
        extra = {"originator_topic": r["originator_topic"]} if r["originator_topic"] else {}
        event = spec.cls(originator_id=uuid.UUID(r["originator_id"]), originator_version=r["originator_version"],
                         timestamp=datetime.datetime.fromisoformat(r["recorded_at"]), **extra, **data)
        stored.append(to_stored(event))
        positions.append(r["position"])
        if len(stored) == 5000:
            write(stored, positions)
            stored, positions = [], []
    if stored:
        write(stored, positions)
app.close()
'''


def measured(args: list[str]) -> tuple[float, float, int, str, str]:
    """Run a process; its seconds, its own peak RSS in MiB (from wait4), exit code, stdout, stderr."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return seconds, usage.ru_maxrss / 1024, process.returncode, out.read(), err.read()


def sha256(path: Path) -> str:
    """A file's hash, read in chunks: this process stays small, for a child's peak memory
    (which Linux counts from the parent's own high-water mark at the fork) is the child's."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def grants(db: str, *args: str) -> list[str]:
    return [sys.executable, "-c", RUN_GRANTS, "--db", db, "--user", "bench", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="/tmp/grants-import-bench", help="folder for the stores and the file")
    parser.add_argument("--decisions", type=int, default=6700)
    parser.add_argument("--bookings", type=int, default=80, help="bookings per decision")
    parser.add_argument("--postgres", default=PG, help="server URL ('' to skip PostgreSQL)")
    parser.add_argument("--check", action="store_true", help="export each store again and compare")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    source, export = work / "source.sqlite", work / "national.jsonl"
    if not export.exists():
        if source.exists():
            source.unlink()
        seconds, _, code, out, err = measured([sys.executable, "-c", GENERATE, str(source), str(args.decisions),
                                               str(args.bookings)])
        assert code == 0, err
        print(f"generated {out.strip()} events in {seconds:.0f} s", flush=True)
        seconds, _, code, _, err = measured(grants(str(source), "export", "--output", str(export)))
        assert code == 0, err
        print(f"exported in {seconds:.0f} s: {export.stat().st_size / 1e6:.0f} MB", flush=True)
    events = sum(1 for _ in export.open("rb"))
    with export.open("rb") as f:
        first = json.loads(f.readline())
    print(f"file: {export} ({events} events, {export.stat().st_size / 1e6:.0f} MB, first recorded "
          f"{first['recorded_at']})\n", flush=True)

    targets = [("SQLite", lambda n: str(work / f"target-{n}.sqlite"))]
    admin = None
    if args.postgres:
        import psycopg

        admin = psycopg.connect(args.postgres, autocommit=True)
        targets.append(("PostgreSQL", lambda n: f"{args.postgres}?schema={n}"))
    rows = []
    digests = {}
    for store, target in targets:
        for what in ("baseline", "import"):
            name = f"bench_{what}_{uuid.uuid4().hex[:8]}"
            db = target(name)
            if store == "PostgreSQL":
                admin.execute(f'CREATE SCHEMA "{name}"')
            try:
                if what == "baseline":
                    command = [sys.executable, "-c", BASELINE, db, str(export)]
                else:
                    command = grants(db, "import", str(export))
                seconds, peak, code, out, err = measured(command)
                assert code == 0, err
                if what == "import":
                    digests[store] = out.split("digest ")[-1].strip()
                    if args.check:
                        back = work / f"back-{name}.jsonl"
                        _, _, code, _, err = measured(grants(db, "export", "--output", str(back)))
                        assert code == 0 and sha256(back) == sha256(export), f"{store}: export differs"
                        back.unlink()
                rows.append((store, what, seconds, peak))
                print(f"{store:10} {what:8} {seconds:8.1f} s {events / seconds:9.0f} events/s "
                      f"peak {peak:6.0f} MiB", flush=True)
            finally:
                if store == "PostgreSQL":
                    admin.execute(f'DROP SCHEMA "{name}" CASCADE')
                else:
                    for suffix in ("", "-wal", "-shm"):
                        if os.path.exists(db + suffix):
                            os.remove(db + suffix)
    print(f"\n{'store':12} {'measure':10} {'seconds':>9} {'events/s':>10} {'peak MiB':>9} {'x baseline':>11}")
    base = {}
    for store, what, seconds, peak in rows:
        if what == "baseline":
            base[store] = seconds
        print(f"{store:12} {what:10} {seconds:9.1f} {events / seconds:10.0f} {peak:9.0f} "
              f"{seconds / base[store]:11.2f}")
    if len(set(digests.values())) > 1:
        raise SystemExit(f"the stores' digests differ: {digests}")
    print(f"\ndigest (both stores): {next(iter(digests.values()), '')}")
    if admin is not None:
        admin.close()
    print(f"this process's own peak (a floor under every figure above): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
