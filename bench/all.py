"""Every benchmark, then one table of every aim: its figure, its ratio to the baseline its
benchmark measured in the same run, peak memory where the aim has one, and met or not.

    python bench/all.py --stores /tmp/grants-bench            # national size (about an hour)
    python bench/all.py --stores /tmp/grants-bench --smoke    # tiny sizes, nothing judged

The stores are generated into ``--stores`` when missing (and reused afterwards): a national
history with each decision's bookings recorded with it (``national.sqlite``) and one with
the bookings trickled in day by day across decisions (``trickled.sqlite``). Each benchmark
runs in its own process and prints its own table as it goes; each judged figure reaches
this table through ``bench/aimlog.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks(stores: Path, decisions: int, bookings: int, smoke: bool) -> list[list[str]]:
    size = ["--decisions", str(decisions), "--bookings", str(bookings)]
    national, trickled = str(stores / "national.sqlite"), str(stores / "trickled.sqlite")
    return [
        ["startup.py", *(["--smoke"] if smoke else [])],
        ["recording.py", *(["--smoke"] if smoke else [])],
        ["national.py", "--db", trickled, *size, "--trickle", "--rebuild-runs", "1"],
        ["queries.py", *(["--smoke"] if smoke else ["--db", national, *size])],
        ["web.py", "--db", national, *size],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", default=os.path.join(tempfile.gettempdir(), "grants-bench"))
    parser.add_argument("--decisions", type=int, default=6700)  # about a million events
    parser.add_argument("--bookings", type=int, default=80)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, each benchmark's smoke mode")
    parser.add_argument("--only", action="append", default=[], help="run only the benchmarks named (e.g. web.py)")
    args = parser.parse_args()
    if args.smoke:
        args.decisions, args.bookings = 30, 5
    stores = Path(args.stores)
    stores.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", encoding="utf-8") as log:
        env = {**os.environ, "GRANTS_BENCH_AIMS": log.name}
        failed = []
        for argv in benchmarks(stores, args.decisions, args.bookings, args.smoke):
            if args.only and argv[0] not in args.only:
                continue
            print(f"\n== {' '.join(argv)}", flush=True)
            done = subprocess.run([sys.executable, str(HERE / argv[0]), *argv[1:]], env=env)
            if done.returncode not in (0, 1):  # 1: ran, and an aim was not met
                failed.append(f"{argv[0]} (exit {done.returncode})")
        rows = [json.loads(line) for line in log.read().splitlines() if line.strip()]
    if args.smoke:  # tiny sizes say nothing of the aims
        rows = [{**r, "met": None} for r in rows]
    print("\n| benchmark | measure | seconds | × baseline | MB | aim | met |")
    print("| --- | --- | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        met = {True: "met", False: "**not met**", None: "(not judged)"}[r["met"]]
        seconds = "" if r["seconds"] is None else f"{r['seconds']:.3f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.3f}"
        mb = "" if r["mb"] is None else f"{r['mb']:.0f}"
        print(f"| {r['bench']} | {r['measure']} | {seconds} | {ratio} | {mb} | {r['aim']} | {met} |")
    missed = sum(r["met"] is False for r in rows)
    print(f"\n{len(rows)} figures with an aim: {sum(r['met'] is True for r in rows)} met, {missed} not met"
          + (f"; failed to run: {', '.join(failed)}" if failed else ""))
    sys.exit(2 if failed else 0)


if __name__ == "__main__":
    main()
