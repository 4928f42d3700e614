"""Recording one command at a time: the cost of `spend` against the store's raw single save.

    python bench/recording.py --bookings 50000
    python bench/recording.py --smoke          # tiny sizes, no aims (a test runs it)

On a fresh SQLite file (and on a fresh schema of the PostgreSQL at --postgres, when one
answers there; the schema is dropped afterwards) it measures, in the same run:

1. baseline: the store's raw single save, ``Application.save`` of one new small aggregate
   (a voucher index entry), one at a time;
2. ``GrantLedger.spend``, one booking at a time through the application (every rule,
   the voucher index, one atomic write each), spread over 11 decisions of one region:
   its rate as a ratio to the baseline's (aim: at least 0.8);
3. N bookings on one decision: the cost of the first 500 ``spend`` calls against the
   last 500 (aim: about 1, i.e. flat). The bookings between them are recorded through
   the decision's own rules in batches of 5 000 (a booking each, with its voucher index
   entry, one write per batch), so that N = 50 000 takes minutes, not hours.

Each rate is the best of three rounds (noise on a shared machine only ever adds time).
Prints one table: figure, ratio and whether the aim is met.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if str(Path(__file__).resolve().parent) not in sys.path:  # imported by path, not run
    sys.path.append(str(Path(__file__).resolve().parent))

from ledger.application import GrantLedger  # noqa: E402
from ledger.persistence import store_env  # noqa: E402
from ledger.terms import Agreement, DecisionTerms  # noqa: E402
from ledger.values import Amount  # noqa: E402
from ledger.voucher import Voucher, index_key  # noqa: E402
from aimlog import judged  # noqa: E402  (beside this script)

G = "professionsmiljarden"
U = "bench"
D = datetime.date
YEAR = 2018
REGION = "23"
DAY = D(YEAR, 3, 1)


def setup(app: GrantLedger, decisions: int) -> list[str]:
    """A grant, its 2018 agreement, Jämtland's allocation, a director and ``decisions`` decisions."""
    app.define_grant(G, "Professionsmiljarden", 2016, 2018, [["competence-use", "Smarter use of competence"]],
                     "3", "9902", U)
    app.sign_agreement(G, Agreement(YEAR, signed_on=D(YEAR, 1, 20), pots=[["stimulus", Amount.kronor(10**9).ore]],
                                    earmarks=[], report_due=D(YEAR + 1, 2, 15), payer="SKL",
                                    report_to="Socialstyrelsen", population_date=None, ref=""), recorded_by=U)
    app.allocate(G, YEAR, "stimulus", {REGION: Amount.kronor(10**9)}, "bench", U)
    app.authorise(G, REGION, "Anna Berg", "hsd", D(2015, 1, 1), None, U)
    ids = [f"JH-{n:02d}" for n in range(decisions)]
    for decision_id in ids:
        app.decide(G, decision_id, REGION, DecisionTerms("Anna Berg", D(2017, 5, 2), "Area", "Activity",
                                                         "competence-use", {YEAR: Amount.kronor(10**7)}, "", ""), U)
    return ids


def best_rate(rounds: int, count: int, step) -> float:
    """Operations per second: the best of ``rounds`` rounds of ``count`` calls of ``step(i)``."""
    best = 0.0
    done = 0
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(count):
            step(done)
            done += 1
        best = max(best, count / (time.perf_counter() - started))
    return best


def measure(target: str, spends: int, bookings: int, window: int) -> list[tuple[str, float, float | None, str]]:
    app = GrantLedger(env=store_env(target))
    try:
        decisions = setup(app, 11)
        tag = uuid.uuid4().hex[:6]
        rounds = 3
        per_round = max(1, spends // rounds)
        raw = best_rate(rounds, per_round, lambda i: app.save(
            Voucher(grant_id=G, voucher=f"raw-{tag}-{i}", decision_id="none", recorded_by=U)))
        spend = best_rate(rounds, per_round, lambda i: app.spend(
            G, decisions[i % len(decisions)], YEAR, Amount(100), DAY, "", f"S-{i}", "", U))

        one = "JH-ONE"
        app.decide(G, one, REGION, DecisionTerms("Anna Berg", D(2017, 5, 2), "Area", "Activity", "competence-use",
                                                 {YEAR: Amount.kronor(10**7)}, "", ""), U)

        def spend_on_one(i: int) -> None:
            app.spend(G, one, YEAR, Amount(100), DAY, "", f"B-{i}", "", U)

        started = time.perf_counter()
        for i in range(window):
            spend_on_one(i)
        first = time.perf_counter() - started
        booked = window
        today = app.today()
        while booked < bookings - window:
            decision = app.decision(G, one)
            vouchers = []
            for i in range(booked, min(bookings - window, booked + 5000)):
                decision.spend(f"B-{i}", YEAR, Amount(100), DAY, "9902", "", U, today=today)
                vouchers.append(Voucher(grant_id=G, voucher=index_key(REGION, f"B-{i}"), decision_id=one,
                                        recorded_by=U))
            app.save(decision, *vouchers)
            booked += len(vouchers)
        started = time.perf_counter()
        for i in range(booked, booked + window):
            spend_on_one(i)
        last = time.perf_counter() - started
        booked += window
        assert app.decision(G, one).spent_for(YEAR) == Amount(100 * booked)
    finally:
        app.close()
    return [
        ("baseline: raw single save (saves/s)", raw, None, ""),
        ("spend one at a time, 11 decisions (spends/s)", spend, spend / raw, "≥ 0.8"),
        (f"first {window} spends on one decision (s)", first, None, ""),
        (f"last {window} spends, bookings {booked - window + 1}-{booked} (s)", last, last / first, "≈ 1 (≤ 1.25)"),
    ]


def postgres_target(url: str) -> tuple[str, callable] | None:
    """A fresh schema on the server at ``url`` and a function that drops it; None when no server answers."""
    try:
        import psycopg

        conn = psycopg.connect(url, autocommit=True, connect_timeout=3)
    except Exception as e:  # noqa: BLE001 (no server here: PostgreSQL is left out, saying why)
        print(f"PostgreSQL at {url} not reachable ({type(e).__name__}); measured SQLite only", file=sys.stderr)
        return None
    schema = f"grants_bench_{uuid.uuid4().hex[:10]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()
    return f"{url}?schema={schema}", drop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spends", type=int, default=1500, help="spends over 11 decisions (and raw saves)")
    parser.add_argument("--bookings", type=int, default=10000, help="bookings on one decision (N)")
    parser.add_argument("--work", default=None, help="folder for the SQLite file (default: a temporary one)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="a server to measure too, in a fresh schema ('' : SQLite only)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, SQLite only, no aims (for the tests)")
    args = parser.parse_args(argv)
    window = 500
    if args.smoke:
        args.spends, args.bookings, args.postgres, window = 30, 90, "", 20
    if args.bookings < 2 * window:
        parser.error(f"--bookings must be at least {2 * window}")
    with tempfile.TemporaryDirectory(dir=args.work) as folder:
        targets = [("SQLite", os.path.join(folder, "recording.sqlite"), None)]
        found = postgres_target(args.postgres) if args.postgres else None
        if found:
            targets.append(("PostgreSQL", *found))
        print(f"{'store':10} {'measure':58} {'figure':>10} {'ratio':>7}  aim")
        try:
            for store, target, _ in targets:
                for name, figure, ratio, aim in measure(target, args.spends, args.bookings, window):
                    verdict = ""
                    if aim and not args.smoke:
                        ok = ratio >= 0.8 if aim.startswith("≥") else ratio <= 1.25
                        verdict = f"{aim}: {'met' if ok else 'not met'}"
                    if aim:
                        rate = name.endswith("/s)")
                        judged("recording", f"{store}: {name}: {figure:.1f}" if rate else f"{store}: {name}", None if rate else figure, ratio,
                               aim, None if args.smoke else ok)
                    shown = f"{figure:10.1f}" if name.endswith("/s)") else f"{figure:10.3f}"
                    print(f"{store:10} {name:58} {shown} {'' if ratio is None else f'{ratio:7.2f}'}  {verdict}",
                          flush=True)
        finally:
            for _, _, drop in targets:
                if drop:
                    drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
