"""Kill real `grants` processes with SIGKILL at random moments, many times, and check the store.

    python bench/crash.py --kills 200                      # 200 on SQLite, 200 on PostgreSQL
    python bench/crash.py --kills 100 --store sqlite --decisions 600   # a longer catch-up

The same engine as tests/scenarios/test_crash.py (read its docstring for the moments and the
checks): recording (decide, spend, allocate --table), import, rebuild and a first
query's catch-up, each killed after a random delay within its measured run time; after
every kill nothing is half-recorded, `verify` passes, queries for now equal the fold and
a rebuild, and the next command works. It prints every kill, then per store and moment
the kills survived and where they left the store. It stops at the first failure, with
the seed and the moment (exit 1).

PostgreSQL: --postgres URL (default: GRANTS_TEST_POSTGRES or
postgresql://postgres@127.0.0.1:5432/test); the run uses a schema of its own, dropped
at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.scenarios.crashing import MOMENTS, CrashRun, Killed, Store  # noqa: E402

PG_URL = os.environ.get("GRANTS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def run_on(main: str, workdir: Path, args: argparse.Namespace, seed: int) -> tuple[CrashRun, str | None]:
    store = Store(main, workdir)
    run = CrashRun(store, seed, decisions=args.decisions, bookings=args.bookings,
                   log=lambda line: print(line, file=sys.stderr, flush=True))
    failure = None
    started = time.perf_counter()
    try:
        run.setup()
        print(f"{store.kind}: {run.exported} events, seed {seed}", file=sys.stderr, flush=True)
        for moment in run.plan(args.kills, tuple(args.moments)):
            run.kill(moment)
    except Killed as e:
        failure = str(e)
    finally:
        store.close()
    print(f"{store.kind}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return run, failure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=200, help="kills per store")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--postgres", default=PG_URL, help="a PostgreSQL database URL (no schema)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--decisions", type=int, default=100, help="decisions in the generated history")
    parser.add_argument("--bookings", type=int, default=10, help="bookings per decision")
    parser.add_argument("--moments", type=lambda t: t.split(","), default=list(MOMENTS),
                        help=f"comma-separated, from {','.join(MOMENTS)}")
    args = parser.parse_args()
    if unknown := set(args.moments) - set(MOMENTS):
        parser.error(f"unknown moments: {', '.join(sorted(unknown))}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    results = []
    with tempfile.TemporaryDirectory(prefix="grants-crash-") as tmp:
        if args.store in ("sqlite", "both"):
            workdir = Path(tmp, "sqlite")
            workdir.mkdir()
            results.append(run_on(str(workdir / "main.sqlite"), workdir, args, seed))
        if args.store in ("postgres", "both"):
            import psycopg

            schema = f"grants_crash_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'CREATE SCHEMA "{schema}"')
                try:
                    workdir = Path(tmp, "postgres")
                    workdir.mkdir()
                    results.append(run_on(f"{args.postgres}?schema={schema}", workdir, args, seed))
                finally:
                    admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
    failed = False
    for run, failure in results:
        print(run.summary(failed=bool(failure)))
        if failure:
            failed = True
            print(f"  FAILED at kill {len(run.kills) + 1}: {failure}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
