"""The crash harness of test_crash.py, whose docstring says the moments, the kills and
the checks: `CrashRun` kills `grants` processes at random moments on one `Store` and
checks the store after each kill; `crash_seed`. bench/crash.py drives it for many more
kills. The store is in crash_store.py, the moments' commands in crash_moments.py."""

from __future__ import annotations

import collections
import datetime
import json
import os
import random
import signal
import subprocess
import time
import uuid
from typing import Any

from commands.render import as_json
from projections.balances import balance_rows
from projections.commitments import commitment_rows
from projections.compliance import compliance_rows
from projections.fold import entries_of, fold
from tests.drivers import Grants
from tests.scenarios.crash_moments import DIGEST, JUDGED_ON, MOMENTS, RECORDING, SUITE, Moments
from tests.scenarios.crash_store import Store

__all__ = ["MOMENTS", "SUITE", "CrashRun", "Killed", "Store", "crash_seed"]


class Killed(AssertionError):
    """A check after a kill failed; the message says the seed, the store, the moment and when."""


class CrashRun(Moments):
    """Kills `grants` processes on one store and checks the store after each kill."""

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
