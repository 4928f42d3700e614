"""The moments of a crash run (see test_crash.py): the ledger a run works on, and each
moment's `grants` command, prepared, spawned, and run once uninterrupted to time it and
watch its write transactions. `CrashRun` (crashing.py) kills them and checks the store."""

from __future__ import annotations

import collections
import importlib.util
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from ledger.application import GrantLedger
from ledger.persistence import store_env
from tests.drivers import RUN_GRANTS, Grants
from tests.scenarios.crash_store import Store

ROOT = Path(__file__).resolve().parent.parent.parent
G = "professionsmiljarden"
MOMENTS = ("decide", "spend", "allocate", "import", "export", "rebuild", "catch-up")
RECORDING = ("decide", "spend", "allocate")
# the suite's kills on each store: every moment once, and those with long writes twice
SUITE = MOMENTS + ("import", "rebuild", "catch-up")
JUDGED_ON = "2019-03-01"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _bench_generator() -> Any:
    """bench/national.py's generator of a national history (recorded through the aggregates)."""
    spec = importlib.util.spec_from_file_location("grants_bench_national", ROOT / "bench" / "national.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Moments:
    """A crash run's ledger and state, and its moments' commands run to their end."""

    def __init__(self, store: Store, seed: int, decisions: int = 80, bookings: int = 10,
                 log: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.seed = seed
        self.rng = random.Random(seed)
        self.decisions, self.bookings = decisions, bookings
        self.log = log or (lambda line: None)
        self.target = store.main
        self.n = 0
        self.runtime: dict[str, float] = {}  # a moment's uninterrupted run, seconds
        self.window: dict[str, float] = {}  # the longest write transaction seen in it, seconds
        self.last_write: dict[str, float] = {}  # when the last one began
        self.expected: dict[str, collections.Counter] = {}  # topics a recording moment records
        self.kills: list[dict[str, Any]] = []
        self.misses: collections.Counter = collections.Counter()

    # ------------------------------------------------------------------ the ledger

    def setup(self) -> None:
        """A national history in small (bench/national.py's generator), a decision to book on,
        an export of it to import, and the table `allocate --table` reads."""
        bench = _bench_generator()
        app = GrantLedger(env=store_env(self.target))
        try:
            bench.generate(app, self.decisions, self.bookings)
        finally:
            app.close()
        grants = Grants(self.target)
        grants("decide", G, "--region", "01", "--decision", "CRASH-BASE", "--decided-by", "Director 01",
               "--on", "2015-06-01", "--area", "crash", "--activity", "bookings", "--purpose", "it-admin",
               "--amount", "2016=1000000", "--amount", "2017=1000000", "--amount", "2018=1000000", user="crash")
        self.export = self.store.workdir / "export.jsonl"
        grants("export", "--output", str(self.export))
        with open(self.export, encoding="utf-8") as f:
            self.exported = sum(1 for _ in f)
        self.digest = DIGEST.search(grants("verify").stdout).group()
        self.table = self.store.workdir / "regions.csv"
        self.table.write_text("region,amount\n" + "".join(f"{code},1000000\n" for code in bench.POPULATION),
                              encoding="utf-8")
        self.startup = min(self._timed(["--version"], self.target)[0] for _ in range(2))

    # ------------------------------------------------------------------ the moments

    def _prepare(self, moment: str, n: int) -> dict[str, Any]:
        """What to run for one kill of a moment: where, the arguments, and what to query."""
        target, queries, extra = self.target, [(G, 2018)], {}
        if moment == "decide":
            argv = ["decide", G, "--region", "01", "--decision", f"K-{n}", "--decided-by", "Director 01",
                    "--on", "2015-06-01", "--area", "crash", "--activity", f"kill {n}", "--purpose", "it-admin",
                    "--amount", "2016=1000", "--amount", "2017=1000", "--amount", "2018=1000"]
        elif moment == "spend":
            argv = ["spend", G, "--decision", "CRASH-BASE", "--year", "2017", "--amount", "10",
                    "--booked-on", "2017-05-01", "--object", "9902", "--voucher", f"KV-{n}"]
        elif moment == "allocate":
            grant = f"crash-{n}"
            grants = Grants(target)
            grants("grant", "define", grant, "--name", f"Crash {n}", "--years", "2019-2019",
                   "--purpose", "it-admin=IT", user="crash")
            grants("agreement", "sign", grant, "--year", "2019", "--signed-on", "2019-01-10",
                   "--pot", "stimulus=21000000", "--report-due", "2020-02-15", user="crash")
            argv = ["allocate", grant, "--year", "2019", "--pot", "stimulus", "--table", str(self.table)]
            queries.append((grant, 2019))
        elif moment == "import":
            target = self.store.fresh(f"i{n}")
            argv = ["import", str(self.export)]
        elif moment == "export":
            output = self.store.workdir / "out.jsonl"
            shutil.copyfile(self.export, output)  # an earlier export lies there
            argv = ["export", "--output", str(output)]
            extra["output"] = output
        elif moment == "rebuild":
            # the read models a few events behind, so a kill before the clearing shows
            self._next_decision(Grants(target))
            extra["models_before"] = self.store.read_model_position(target)
            argv = ["rebuild"]
        elif moment == "catch-up":
            assert self.store.drop_read_models(target), "found no read-model tables (grants_rm_*) to drop"
            argv = ["--format", "json", "balance", G]
        else:
            raise ValueError(moment)
        before = self.store.last(target) if moment in RECORDING else 0
        return {"moment": moment, "n": n, "target": target, "argv": argv, "queries": queries,
                "before": before, **extra}

    def _spawn(self, argv: list[str], target: str, application_name: str) -> subprocess.Popen:
        env = dict(os.environ, PGAPPNAME=application_name, PYTHONPATH=str(ROOT))
        for name in ("GRANTS_DB", "GRANTS_FORMAT", "GRANTS_USER"):
            env.pop(name, None)
        return subprocess.Popen([sys.executable, "-c", RUN_GRANTS, "--db", target, "--user", "crash", *argv],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                cwd=self.store.workdir, start_new_session=True)

    def _timed(self, argv: list[str], target: str, trace: bool = False
               ) -> tuple[float, list[tuple[float, float]]]:
        """Run `grants` to its end (it must succeed): its seconds, and with ``trace`` when each
        write transaction it was seen holding began and how long it lasted (looked at every
        millisecond)."""
        name = f"grants-crash-{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        proc = self._spawn(argv, target, name)
        windows: list[tuple[float, float]] = []
        opened = None
        while trace and proc.poll() is None:
            now = time.perf_counter()
            if self.store.writing(target, name, proc.pid):
                opened = now if opened is None else opened
            elif opened is not None:
                windows.append((opened - started, now - opened))
                opened = None
            time.sleep(0.001)
        _, err = proc.communicate(timeout=300)
        seconds = time.perf_counter() - started
        assert proc.returncode == 0, (argv, proc.returncode, err.decode(errors="replace"))
        self.store.settle(name)
        return seconds, windows

    def measure(self, moment: str) -> None:
        """Time one uninterrupted run of the moment, and the longest write transaction seen in
        it (and learn what a recording one records)."""
        self.n += 1
        plan = self._prepare(moment, self.n)
        seconds, windows = self._timed(plan["argv"], plan["target"], trace=True)
        self.runtime[moment] = seconds
        self.window[moment] = max((length for _, length in windows), default=0.0)
        self.last_write[moment] = windows[-1][0] if windows else 0.0
        if moment in RECORDING:
            added = self.store.events(plan["target"], plan["before"])
            self.expected[moment] = collections.Counter(topic for _, topic in added)
            assert self.expected[moment], f"an uninterrupted {moment} recorded nothing"
        if moment == "import":
            self.store.discard(plan["target"])
        self.log(f"{self.store.kind}: {moment} runs {seconds:.2f} s uninterrupted, its longest write "
                 f"transaction seen {self.window[moment] * 1000:.0f} ms")

    def _next_decision(self, grants: Grants) -> None:
        self.n += 1
        argv = self._prepare("decide", self.n)["argv"]
        assert grants(*argv, user="crash").stdout.startswith("recorded"), "the next decision was not recorded"
