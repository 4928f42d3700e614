"""Crash safety: real `grants` processes killed with SIGKILL at random moments.

The moments: recording (`decide` with a three-year schedule, one atomic save of the
decision and three region-years; `spend`, the decision and the voucher index;
`allocate --table` to all 21 regions, the grant and 21 new region-years), `import` of a
few-thousand-event export into an empty ledger, `export --output` over an earlier
export, `rebuild`, and the catch-up of a first query on a ledger whose read models are
gone (as after an import). Each moment is first run once uninterrupted, timed, and
watched for the write transactions it holds (seen from outside: PostgreSQL, its session
has a transaction id; SQLite, it holds the file's write lock, in /proc/locks). A kill
aimed at a time comes after a random delay between the end of Python's start-up and the
end of that run; a kill aimed at a write (half of them, where the run showed one) waits
such a random delay, then for the next write transaction, then a random part of the
longest one seen, so the short writes of recording commands are hit too. Whether the
process held a write transaction open at the instant of the kill is noted.

After every kill, before anything repairs anything:

- nothing is half-recorded: a killed recording command left either all of the events
  its uninterrupted run records or none, and the same command typed again records the
  rest (or says "unchanged"); a killed import left an empty ledger or every event, with
  the source's digest, and typing it again completes it; a killed export left the file
  that was there before or the whole new one;
- `grants verify` exits 0;
- `balance`, `commitments` and `compliance` for "now" equal the fold of the stored
  events, and, with `audit`, equal themselves after `grants rebuild`;
- the next recording command works (exit 0).

On PostgreSQL the checks start once the server has ended the killed process's sessions
(found by their application name), so a COMMIT already sent when the kill came is
either in or out before the first look, never in between.

The suite kills once at each moment on each store, and a second time at the moments
with long writes (import, rebuild, catch-up): 10 kills per store, 20 with PostgreSQL.
The seed is printed, and is in every failure's message; set GRANTS_CRASH_SEED to
replay one (the delays and the order; the processes' own timing is not reproducible).
Many more kills: ``python bench/crash.py --kills 200``.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import importlib.util
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

from commands.render import as_json
from ledger.application import GrantLedger
from ledger.persistence import store_env
from projections.balances import balance_rows
from projections.commitments import commitment_rows
from projections.compliance import compliance_rows
from projections.fold import entries_of, fold
from tests.drivers import Grants

ROOT = Path(__file__).resolve().parent.parent.parent
from tests.drivers import RUN_GRANTS  # noqa: E402
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


class Store:
    """Where one crash run's ledgers live: SQLite files in a folder, or PostgreSQL schemas
    beside the main one (created and dropped here)."""

    def __init__(self, main: str, workdir: Path) -> None:
        self.main = main
        self.workdir = Path(workdir)
        self.postgres = main.startswith(("postgresql://", "postgres://"))
        self.kind = "postgres" if self.postgres else "sqlite"
        self.schemas: list[str] = []
        self._main_app: GrantLedger | None = None
        if self.postgres:
            import psycopg

            self.base = main.split("?", 1)[0]
            self.schema = parse_qs(urlsplit(main).query)["schema"][0]
            self.admin = psycopg.connect(self.base, autocommit=True, connect_timeout=5)

    def close(self) -> None:
        if self._main_app is not None:
            self._main_app.close()
        if self.postgres:
            for schema in self.schemas:
                self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.admin.close()

    def fresh(self, name: str) -> str:
        """A new, empty place for a ledger (nothing created in it yet on SQLite)."""
        if self.postgres:
            schema = f"{self.schema}_{name}"
            self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.admin.execute(f'CREATE SCHEMA "{schema}"')
            self.schemas.append(schema)
            return f"{self.base}?schema={schema}"
        path = self.workdir / f"{name}.sqlite"
        self.discard(str(path))
        return str(path)

    def discard(self, target: str) -> None:
        if self.postgres:
            schema = parse_qs(urlsplit(target).query)["schema"][0]
            self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.schemas.remove(schema)
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(target + suffix):
                os.remove(target + suffix)

    def settle(self, application_name: str, timeout: float = 20.0) -> None:
        """Wait until the server has ended every session of a killed process."""
        if not self.postgres:
            return
        deadline = time.monotonic() + timeout
        while self.admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                                 (application_name,)).fetchone()[0]:
            assert time.monotonic() < deadline, f"the server kept a killed process's session {timeout} s"
            time.sleep(0.01)

    def writing(self, target: str, application_name: str, pid: int) -> bool:
        """Whether a process holds a write transaction open on the store right now, seen from
        outside without touching it. PostgreSQL: one of its sessions (by application name)
        has a transaction id, given at its first write or row lock. SQLite (WAL): the process
        holds the write lock, byte 120 of the -shm file, as /proc/locks lists it (elsewhere:
        whether the write lock can be taken at all)."""
        if self.postgres:
            return bool(self.admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND backend_xid IS NOT NULL",
                (application_name,)).fetchone()[0])
        try:
            inode = os.stat(target + "-shm").st_ino
        except OSError:  # no connection in WAL mode yet
            return False
        try:
            with open("/proc/locks", encoding="ascii", errors="replace") as f:
                locks = f.read()
        except OSError:
            return self._locked(target)
        for line in locks.splitlines():
            # "1: POSIX  ADVISORY  WRITE 22593 fe:00:2146361 120 120" (waiters start "1: ->")
            parts = line.split()
            if (len(parts) == 8 and parts[1] == "POSIX" and parts[3] == "WRITE" and parts[4] == str(pid)
                    and parts[5].endswith(f":{inode}") and parts[6] == "120"):
                return True
        return False

    @staticmethod
    def _locked(target: str) -> bool:
        """Whether SQLite's write lock is taken (by trying to take it for an instant)."""
        import sqlite3

        try:
            probe = sqlite3.connect(f"file:{target}?mode=rw", uri=True, timeout=0, isolation_level=None)
        except sqlite3.OperationalError:  # no file yet
            return False
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as e:
            return "locked" in str(e)
        finally:
            probe.close()

    def drop_read_models(self, target: str) -> int:
        """Drop every read-model table (grants_rm_*), as a freshly imported ledger has none."""
        if self.postgres:
            schema = parse_qs(urlsplit(target).query)["schema"][0]
            names = [r[0] for r in self.admin.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE 'grants\\_rm\\_%%'",
                (schema,)).fetchall()]
            for name in names:
                self.admin.execute(f'DROP TABLE "{schema}"."{name}" CASCADE')
            return len(names)
        import sqlite3

        conn = sqlite3.connect(target, isolation_level=None)
        try:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'grants\\_rm\\_%' ESCAPE '\\'")]
            for name in names:
                conn.execute(f'DROP TABLE "{name}"')
            return len(names)
        finally:
            conn.close()

    def events(self, target: str, after: int = 0) -> list[tuple[int, str]]:
        """(position, topic) of the stored events after a position, read through the library."""
        if not self.postgres and not os.path.exists(target):
            return []
        with self.ledger(target) as app:
            found: list[tuple[int, str]] = []
            while True:
                batch = app.recorder.select_notifications(start=after + 1, limit=2000)
                found += [(n.id, n.topic) for n in batch]
                if len(batch) < 2000:
                    return found
                after = batch[-1].id

    def last(self, target: str) -> int:
        """The last position of the stored events (0: none)."""
        with self.ledger(target) as app:
            return app.last_position()

    @contextlib.contextmanager
    def ledger(self, target: str) -> Iterator[GrantLedger]:
        """The ledger at a target, to read; the main one stays open for the whole run."""
        if target == self.main:
            if self._main_app is None:
                self._main_app = GrantLedger(env=store_env(target))
            yield self._main_app
            return
        app = GrantLedger(env=store_env(target))
        try:
            yield app
        finally:
            app.close()

    def read_model_position(self, target: str) -> int | None:
        """Where the read models stand (None: no read models, or not readable as such)."""
        from projections.persisted import ReadModels

        try:
            models = ReadModels(target, create=False)
        except Exception:
            return None
        try:
            return models.position()
        except Exception:  # the tables do not exist (yet)
            return None
        finally:
            models.close()


class Killed(AssertionError):
    """A check after a kill failed; the message says the seed, the store, the moment and when."""


class CrashRun:
    """Kills `grants` processes on one store and checks the store after each kill."""

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

    # ------------------------------------------------------------------ one kill

    def kill(self, moment: str) -> dict[str, Any]:
        """Start the moment's command, SIGKILL it after a random delay, check the store."""
        if moment not in self.runtime:
            self.measure(moment)
        # half the kills (where its uninterrupted run showed one) aim into a write transaction
        aim = "write" if self.window[moment] and self.rng.random() < 0.5 else "time"
        for _ in range(50):
            self.n += 1
            plan = self._prepare(moment, self.n)
            high = self.runtime[moment]
            low = min(0.8 * self.startup, 0.5 * high)
            if aim == "write":  # start looking before the last write transaction begins
                high = max(low, min(high, 0.9 * self.last_write[moment]))
            delay = self.rng.uniform(low, high)
            name = f"grants-crash-{uuid.uuid4().hex[:12]}"
            started = time.perf_counter()
            proc = self._spawn(plan["argv"], plan["target"], name)
            time.sleep(max(0.0, started + delay - time.perf_counter()))
            if aim == "write":  # from then on, the first write transaction seen, a random time into it
                while proc.poll() is None and not self.store.writing(plan["target"], name, proc.pid):
                    time.sleep(0.001)
                time.sleep(self.rng.uniform(0, self.window[moment]))
            writing = proc.poll() is None and self.store.writing(plan["target"], name, proc.pid)
            at = time.perf_counter() - started
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=300)
            ran = time.perf_counter() - started
            if proc.returncode == -signal.SIGKILL:
                break
            # it had finished before the kill: not a kill; aim earlier next time
            assert proc.returncode == 0, (plan["argv"], proc.returncode, err.decode(errors="replace"))
            self.store.settle(name)
            self.misses[moment] += 1
            if aim == "time":
                self.runtime[moment] = min(high, ran) * 0.95
            else:
                self.last_write[moment] *= 0.95
            if moment == "import":
                self.store.discard(plan["target"])
        else:
            raise AssertionError(f"{moment} always finished before the kill")
        plan.update(delay=at, runtime=self.runtime[moment])
        delay = at
        checking = time.perf_counter()
        try:
            self._reap(proc)
            self.store.settle(name)
            outcome = self._check(plan)
        except AssertionError as e:
            raise Killed(f"seed {self.seed}, {self.store.kind}, kill {len(self.kills) + 1}: {moment} "
                         f"({' '.join(plan['argv'])}) killed {delay:.3f} s into a {plan['runtime']:.3f} s run "
                         f"(aimed at a {aim}): {e}") from e
        if moment == "import":
            self.store.discard(plan["target"])
        record = {"moment": moment, "outcome": outcome, "delay": delay, "runtime": plan["runtime"],
                  "writing": writing, "aim": aim}
        self.kills.append(record)
        self.log(f"{self.store.kind} kill {len(self.kills)}: {moment}, aimed at a {aim}, "
                 f"at {delay:.3f}/{plan['runtime']:.3f} s"
                 f"{' in a write transaction' if writing else ''}: {outcome} "
                 f"(checked in {time.perf_counter() - checking:.1f} s)")
        return record

    @staticmethod
    def _reap(proc: subprocess.Popen, timeout: float = 20.0) -> None:
        """Wait for what the killed process started (a long catch-up's helper) to end by itself."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                os.killpg(proc.pid, 0)  # its process group (start_new_session): anyone left?
            except ProcessLookupError:
                return
            assert time.monotonic() < deadline, f"a process started by the killed one outlived it by {timeout} s"
            time.sleep(0.01)

    # ------------------------------------------------------------------ the checks

    def _check(self, plan: dict[str, Any]) -> str:
        moment, target = plan["moment"], plan["target"]
        grants = Grants(target)
        if moment in RECORDING:
            expected = self.expected[moment]
            left = collections.Counter(t for _, t in self.store.events(target, plan["before"]))
            assert not left or left == expected, f"half-recorded: {dict(left)} of {dict(expected)}"
            grants("verify")
            again = grants(*plan["argv"], user="crash")
            word = "unchanged" if left else "recorded"
            assert again.stdout.startswith(word), f"typed again after the kill: {again.stdout!r}"
            after = collections.Counter(t for _, t in self.store.events(target, plan["before"]))
            assert after == expected, f"kill and retry recorded {dict(after)}, not {dict(expected)}"
            outcome = "all recorded" if left else "nothing recorded"
        elif moment == "import":
            left = self.store.events(target)
            assert len(left) in (0, self.exported), f"half-imported: {len(left)} of {self.exported} events"
            if left:
                outcome = "all imported"
            else:
                again = grants("import", str(self.export))
                assert DIGEST.search(again.stdout).group() == self.digest, again.stdout
                outcome = "nothing imported"
            assert DIGEST.search(grants("verify").stdout).group() == self.digest
        elif moment == "export":
            return self._check_export(grants, plan)
        else:
            position = self.store.read_model_position(target)
            last = self.store.last(target)
            if position is None:
                outcome = "no read models yet"
            elif position == 0:
                outcome = "read models at 0"
            elif position == plan.get("models_before"):
                outcome = "read models untouched"
            elif position < last:
                outcome = "read models part way"
            else:
                outcome = "read models complete"
            grants("verify")
        self._agree(grants, target, plan["queries"])
        if moment not in RECORDING:
            self._next_decision(grants)
        return outcome

    def _next_decision(self, grants: Grants) -> None:
        self.n += 1
        argv = self._prepare("decide", self.n)["argv"]
        assert grants(*argv, user="crash").stdout.startswith("recorded"), "the next decision was not recorded"

    def _check_export(self, grants: Grants, plan: dict[str, Any]) -> str:
        """A killed export left the file that was there or the whole new one (it writes no store)."""
        output, reference = plan["output"], self.store.workdir / "reference.jsonl"
        grants("export", "--output", str(reference))
        found, old, whole = output.read_bytes(), self.export.read_bytes(), reference.read_bytes()
        assert found in (old, whole), (f"a killed export left {len(found)} bytes at its path: neither the "
                                       f"file there before ({len(old)}) nor the whole export ({len(whole)})")
        for part in self.store.workdir.glob(f"{output.name}.*.part"):
            part.unlink()  # what the killed process was writing beside it
        self._next_decision(grants)
        return "whole new file" if found == whole else "file before kept"

    def _answers(self, grants: Grants, queries: list[tuple[str, int]]) -> list[Any]:
        """What `balance`, `commitments`, `compliance` and `audit` print for "now" (JSON)."""
        answers = []
        for grant, year in queries:
            answers += [grants.json("balance", grant), grants.json("commitments", grant),
                        grants.json("compliance", grant, "--on", JUDGED_ON),
                        grants.json("audit", grant, "--year", str(year), "--on", JUDGED_ON)]
        return answers

    def _folded(self, target: str, queries: list[tuple[str, int]]) -> list[Any]:
        """The balance, commitment and compliance rows of the fold of every stored event
        (what those queries print with --position at the last position), as JSON."""
        with self.store.ledger(target) as app:
            view = fold(entries_of(app))
        day = datetime.date.fromisoformat(JUDGED_ON)
        answers = []
        for grant, _ in queries:
            answers += [balance_rows(view, grant, None, None), commitment_rows(view, grant, None, None),
                        compliance_rows(view, grant, day, None, None), None]
        return [None if rows is None else json.loads(as_json(rows)) for rows in answers]

    def _agree(self, grants: Grants, target: str, queries: list[tuple[str, int]]) -> None:
        """"Now" answers equal the fold, and the answers after a rebuild."""
        now = self._answers(grants, queries)
        folded = self._folded(target, queries)
        for i, (answer, rows) in enumerate(zip(now, folded)):
            assert rows is None or answer == rows, (
                f"{queries[i // 4][0]}: query {i % 4} for now differs from the fold")
        grants("rebuild")
        assert self._answers(grants, queries) == now, "a query differs after grants rebuild"

    # ------------------------------------------------------------------ a run

    def plan(self, kills: int, moments: tuple[str, ...] = MOMENTS) -> list[str]:
        """``kills`` moments, each as often as the others (give or take one), in random order."""
        moments = [moments[i % len(moments)] for i in range(kills)]
        self.rng.shuffle(moments)
        return moments

    def summary(self, failed: bool = False) -> str:
        """Kills survived of kills made, per moment: how many came with a write transaction
        open, and where they left the store."""
        by = collections.defaultdict(collections.Counter)
        for k in self.kills:
            by[k["moment"]][k["outcome"]] += 1
        total = len(self.kills) + int(failed)
        lines = [f"{self.store.kind}: {len(self.kills)} kills survived of {total} (seed {self.seed}; "
                 f"{sum(self.misses.values())} runs ended before their kill and were not counted)"]
        for moment in MOMENTS:
            if by[moment]:
                writing = sum(1 for k in self.kills if k["moment"] == moment and k["writing"])
                detail = ", ".join(f"{count} {outcome}" for outcome, count in sorted(by[moment].items()))
                lines.append(f"  {moment:9} {sum(by[moment].values()):4} kills, {writing:3} in a write "
                             f"transaction: {detail}")
        return "\n".join(lines)


def crash_seed() -> int:
    """GRANTS_CRASH_SEED, or a new seed each run (printed, and named in any failure)."""
    return int(os.environ.get("GRANTS_CRASH_SEED") or random.SystemRandom().randrange(1_000_000))


def test_sigkill_at_random_moments_leaves_a_sound_ledger(store, tmp_path):
    """Ten SIGKILLs of real `grants` processes (recording, import, export, rebuild,
    catch-up): nothing half-recorded, verify passes, queries equal the fold and a rebuild,
    and the next command works without repair."""
    seed = crash_seed()
    print(f"crash test seed {seed} (GRANTS_CRASH_SEED={seed} replays it)")
    crashes = Store(store, tmp_path)
    try:
        run = CrashRun(crashes, seed, log=print)
        run.setup()
        for moment in run.rng.sample(SUITE, len(SUITE)):
            run.kill(moment)
        print(run.summary())
    finally:
        crashes.close()
    assert len(run.kills) == len(SUITE)
    assert {k["moment"] for k in run.kills} == set(MOMENTS)


def test_an_export_cut_off_half_way_leaves_the_earlier_file(grants, tmp_path, monkeypatch):
    """An export that stops after some lines (here: a stored event that cannot be read back)
    leaves the file that was at --output as it was, and nothing beside it."""
    from commands import transfer as cli_module
    from ledger.errors import Corrupt
    from tests.jamtland import define

    define(grants)
    output = tmp_path / "ledger.jsonl"
    output.write_text("the earlier export\n", encoding="utf-8")
    real = cli_module.export_lines

    def cut_off(entries):
        lines = real(entries)
        yield next(lines)
        raise Corrupt("the stored event at position 2 cannot be read back (test)")

    monkeypatch.setattr(cli_module, "export_lines", cut_off)
    grants("export", "--output", str(output), code=4)
    assert output.read_text(encoding="utf-8") == "the earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("ledger.jsonl")) == ["ledger.jsonl"]
    monkeypatch.setattr(cli_module, "export_lines", real)
    grants("export", "--output", str(output))
    assert len(output.read_text(encoding="utf-8").splitlines()) == grants.events()
