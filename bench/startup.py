"""Time how long `grants` takes to start, as a ratio to the interpreter's own start-up.

    python bench/startup.py            # best of 5 each, with the aims
    python bench/startup.py --smoke    # one run each, no aim checked (the test suite runs this)

Each figure is a whole process, start to exit, timed from here (noise only ever adds time,
so the best of the runs is the figure): the baseline, in the same run, is ``python -c pass``
of the same interpreter; then the installed ``grants --help`` and a "now" query on the demo
ledger (``grants balance professionsmiljarden --region 23 --year 2018``, after ``grants
demo`` has made grants.sqlite in a temporary folder). The aim: each under 0.15 s.

Python's compiled bytecode is used as on an installed copy: the untimed ``grants demo`` run
writes the caches of the source modules, whatever PYTHONDONTWRITEBYTECODE says
(``--no-bytecode-cache`` keeps it, and so times compiling every source module as well).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # imported by path (the tests do), not run
    sys.path.append(str(Path(__file__).resolve().parent))
from aimlog import judged  # noqa: E402  (beside this script)

AIM = 0.15  # seconds, process start to exit
QUERY = ["balance", "professionsmiljarden", "--region", "23", "--year", "2018"]
# the other "now" queries, each judged by the same aim
MORE = [["commitments", "professionsmiljarden", "--region", "23", "--year", "2018"],
        ["compliance", "professionsmiljarden", "--region", "23", "--year", "2018"],
        ["list", "grants"], ["show", "decision", "professionsmiljarden", "JH-PM-01"]]


def grants_command() -> list[str]:
    """The installed `grants` script beside this interpreter, else the same entry point."""
    script = Path(sys.executable).with_name("grants")
    if script.exists():
        return [str(script)]
    root = Path(__file__).resolve().parent.parent
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(root)!r}); "
                                  "from commands.cli import main; main()"]


def run(argv: list[str], cwd: str, env: dict[str, str], check: Callable[[str], bool] | None = None) -> float:
    """Seconds from start to exit of one process; its failure (or output without what it
    must show) stops the benchmark."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or (check is not None and not check(done.stdout)):
        sys.exit(f"{' '.join(argv)} failed (exit {done.returncode}):\n{done.stdout[-1000:]}{done.stderr[-2000:]}")
    return seconds


def best(runs: int, argv: list[str], cwd: str, env: dict[str, str],
         check: Callable[[str], bool] | None = None) -> float:
    return min(run(argv, cwd, env, check) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="one run each, no aim checked")
    parser.add_argument("--runs", type=int, default=5, help="runs of each, the best one counts (default 5)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep PYTHONDONTWRITEBYTECODE as it is (no cached bytecode: every source "
                             "module is compiled again in every run)")
    args = parser.parse_args()
    runs = 1 if args.smoke else args.runs
    env = {k: v for k, v in os.environ.items() if k not in ("GRANTS_DB", "GRANTS_FORMAT", "GRANTS_USER",
                                                            "GRANTS_CSV_DIALECT")}
    if not args.no_bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["COLUMNS"] = "100"
    grants = grants_command()
    with tempfile.TemporaryDirectory(prefix="grants-startup-") as folder:
        run(grants + ["demo"], folder, env, lambda out: "Jämtland" in out)  # untimed: the ledger, the caches
        rows = [
            ("baseline: python -c pass", best(runs, [sys.executable, "-c", "pass"], folder, env), False),
            ("grants --help", best(runs, grants + ["--help"], folder, env, lambda out: "year-end" in out), True),
            ("now: grants " + " ".join(QUERY),
             best(runs, grants + QUERY, folder, env, lambda out: "2 228 598" in out), True),
            *[("now: grants " + " ".join(q), best(runs, grants + q, folder, env), True) for q in MORE],
        ]
    baseline = rows[0][1]
    print(f"{'measure':72} {'seconds':>8} {'× baseline':>10}  aim (< {AIM} s)")
    missed = 0
    for label, seconds, aimed in rows:
        if not aimed or args.smoke:
            verdict = "" if not aimed else "(smoke: not judged)"
        else:
            verdict = "met" if seconds < AIM else "NOT MET"
            missed += seconds >= AIM
        print(f"{label:72} {seconds:8.3f} {seconds / baseline:10.1f}  {verdict}")
        if aimed:
            judged("startup", label, seconds, seconds / baseline, f"< {AIM} s, process start included",
                   None if args.smoke else seconds < AIM)
    caches = "not used (--no-bytecode-cache)" if args.no_bytecode_cache else "used"
    print(f"best of {runs}; {sys.executable} {sys.version.split()[0]}; compiled bytecode caches {caches}")
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
