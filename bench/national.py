"""Generate a realistic national history, then measure rebuild, a "now" query and an as-of audit.

    python bench/national.py --db /tmp/national.sqlite --decisions 6000 --bookings 80

The history: Professionsmiljarden 2016-2018, 21 regions allocated by population, one
authorised director per region, thousands of (often multi-year) decisions, and hundreds
of thousands of bookings with a few reversals, all recorded through the aggregates'
own rules (the generator batches the writes; it does not bypass a rule). Then, in the
same run, it measures:

- baseline: reading and decoding every event from the store;
- rebuild: the persisted read models from position 0 (aim: at most 2 x baseline);
- now: a balance query for all regions and compliance queries for a small and the
  largest region, reading the persisted models (aim: well under 0.5 s);
- as-of audits: a small and the largest region-year as of a past position or moment, and
  the largest cut mid-year (where the first booking dated July 2018 was recorded; with
  --trickle, bookings arrive day by day across decisions, so that cut falls mid-log)
  (aim: well under 0.5 s), from digest checkpoints, the year's aggregates as they stood
  at the cut and the persisted audit lines; with --full, also the full fold of the
  prefix, checked to give the identical audit.

Each figure is the best of two or three runs (noise only ever adds time), printed as
seconds and as a ratio to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.application import GrantLedger  # noqa: E402

from ledger.persistence import store_env
from ledger.apportion import apportion  # noqa: E402
from ledger.decision import Decision  # noqa: E402
from ledger.voucher import Voucher
from ledger.values import Amount  # noqa: E402
from projections.audit import Digest, audit, digested, upto  # noqa: E402
from projections.compliance import compliance_rows  # noqa: E402
from projections.fold import entries_of, fold  # noqa: E402
from projections.persisted import ReadModels, audit_year  # noqa: E402
from projections.persisted.shared import DECODED  # noqa: E402
from ledger.terms import Agreement, DecisionTerms  # noqa: E402
if str(Path(__file__).resolve().parent) not in sys.path:  # imported by path (the tests do), not run
    sys.path.append(str(Path(__file__).resolve().parent))
from aimlog import judged  # noqa: E402  (beside this script)

G = "professionsmiljarden"
YEARS = (2016, 2017, 2018)
PURPOSES = ["it-admin", "competence-use", "competence-supply", "nurse-specialist-education"]
# population on 2015-11-01, rounded (weights only; the split is what matters here)
POPULATION = {"01": 2231, "03": 354, "04": 288, "05": 446, "06": 348, "07": 191, "08": 238,
              "09": 57, "10": 156, "12": 1304, "13": 315, "14": 1649, "17": 276, "18": 291,
              "19": 264, "20": 281, "21": 282, "22": 244, "23": 127, "24": 263, "25": 251}
D = datetime.date


def generate(app: GrantLedger, decisions: int, bookings: int, seed: int = 7, trickle: bool = False) -> None:
    """Record the history. Each decision is recorded with all its bookings at once; with
    ``trickle``, the decisions first, then the bookings as they arrive in a region's books:
    day by day in the order of their dates, interleaved across decisions, one write per day
    (so a decision's events are spread over the whole log, as real ones are)."""
    rng = random.Random(seed)
    u = "bench"
    app.define_grant(G, "Professionsmiljarden", 2016, 2018, [[p, p] for p in PURPOSES], "3", "9902", u)
    for year in YEARS:
        terms = Agreement(year, signed_on=D(year, 1, 20), pots=[["stimulus", Amount.kronor(950_000_000).ore]],
                          earmarks=[], report_due=D(year + 1, 2, 15), payer="SKL", report_to="Socialstyrelsen",
                          population_date=None, ref="")
        app.sign_agreement(G, terms, recorded_by=u)
        app.allocate(G, year, "stimulus", apportion(Amount.kronor(950_000_000), POPULATION), "by-population", u)
    for code in POPULATION:
        app.authorise(G, code, f"Director {code}", "hsd", D(2015, 1, 1), None, u)

    # a booking asks up to 4 000 kronor at 80 bookings a decision, proportionally less at more
    # (so that a decision's bookings fit it: 160 a decision gives about 2 million events)
    most = max(100_00 + 1, 4_000_00 * 80 // max(bookings, 80))
    weights = list(POPULATION.values())
    codes = list(POPULATION)
    years_of = {(r, y): app.region_year(G, r, y) for r in codes for y in YEARS}
    voucher_no = 0
    planned: list[tuple] = []  # trickle: (booked on, year, öre asked, reversed?, which decision)
    held: list[Decision] = []
    today = app.today()  # the recording day the aggregates' date rules compare with
    for n in range(decisions):
        region = rng.choices(codes, weights)[0]
        first = rng.choice(YEARS)
        span = [y for y in YEARS if y >= first][: rng.choice((1, 1, 2, 3))]
        schedule = {}
        for y in span:
            room = years_of[(region, y)].available.ore
            amount = min(room, rng.randrange(50_000_00, 400_000_00))
            if amount > 0:
                schedule[y] = Amount(amount)
        if not schedule:
            continue
        decided_on = D(first - 1, rng.randrange(1, 13), rng.randrange(1, 28))
        d = Decision.decide(G, f"D{n:06d}", region, DecisionTerms(f"Director {region}", decided_on, f"Area {n % 40}",
                            f"Activity {n}", rng.choice(PURPOSES), schedule, "", ""), u, today=today)
        touched = []
        for y, amount in schedule.items():
            ry = years_of[(region, y)]
            ry.set_commitment(d.decision_id, d.purpose, amount, decided_on, u)
            touched.append(ry)
        if trickle:
            app.save(d, *touched)
            for _ in range(bookings):
                y = rng.choice(list(schedule))
                planned.append((D(y, rng.randrange(1, 13), rng.randrange(1, 28)), y, rng.randrange(100_00, most),
                                rng.random() < 0.01, len(held)))
            held.append(d)
        else:
            vouchers = []
            for _ in range(bookings):
                y = rng.choice(list(schedule))
                room = d.remaining_for(y).ore
                if room <= 0:
                    continue
                voucher_no += 1
                v = f"V{voucher_no:08d}"
                d.spend(v, y, Amount(min(room, rng.randrange(100_00, most))),
                        D(y, rng.randrange(1, 13), rng.randrange(1, 28)), "9902", "", u, today=today)
                vouchers.append(Voucher(grant_id=G, voucher=v, decision_id=d.decision_id, recorded_by=u))
                if rng.random() < 0.01:
                    d.reverse(v, D(y, 12, 28), "wrong account", u, today=today)
            app.save(d, *touched, *vouchers)
        if n % 500 == 0:
            print(f"  generated {n} decisions, {app.last_position()} events", file=sys.stderr)
    if not trickle:
        return
    planned.sort(key=lambda p: p[0])  # the books, day by day
    for day_no, (day, group) in enumerate(itertools.groupby(planned, key=lambda p: p[0])):
        touched_now, vouchers = {}, []
        for _, y, ore, wrong, which in group:
            d = held[which]
            room = d.remaining_for(y).ore
            if room <= 0:
                continue
            voucher_no += 1
            v = f"V{voucher_no:08d}"
            d.spend(v, y, Amount(min(room, ore)), day, "9902", "", u, today=today)
            vouchers.append(Voucher(grant_id=G, voucher=v, decision_id=d.decision_id, recorded_by=u))
            if wrong:
                d.reverse(v, day, "wrong account", u, today=today)
            touched_now[id(d)] = d
        app.save(*touched_now.values(), *vouchers)
        if day_no % 100 == 0:
            print(f"  trickled the bookings up to {day}, {app.last_position()} events", file=sys.stderr)


def timed(fn, runs: int = 1):
    """The best of ``runs`` timings of ``fn`` (the machine's noise only ever adds time), each
    cold: with no kept state decoded yet in the process, as a command starts."""
    best = None
    for _ in range(runs):
        DECODED.clear()
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="/tmp/grants-national.sqlite")
    parser.add_argument("--decisions", type=int, default=6000)
    parser.add_argument("--bookings", type=int, default=80, help="bookings per decision")
    parser.add_argument("--fresh", action="store_true", help="delete the store first")
    parser.add_argument("--rebuild-runs", type=int, default=2, help="rebuilds timed (the best counts)")
    parser.add_argument("--trickle", action="store_true",
                        help="generate the bookings as they arrive, day by day across decisions")
    parser.add_argument("--full", action="store_true",
                        help="also time the full fold of the prefix, and check the fast audit equals it")
    args = parser.parse_args()
    if args.fresh and os.path.exists(args.db):
        os.remove(args.db)
    app = GrantLedger(env=store_env(args.db))
    if not app.last_position():
        seconds, _ = timed(lambda: generate(app, args.decisions, args.bookings, trickle=args.trickle))
        print(f"generated {app.last_position()} events in {seconds:.1f} s")
    events = app.last_position()

    baseline, _ = timed(lambda: sum(1 for _ in app.read()), runs=2)
    models = ReadModels(args.db)
    rebuild, _ = timed(lambda: models.rebuild(app), runs=args.rebuild_runs)
    now_balance, rows = timed(lambda: (models.catch_up(app), models.balance_rows(G, None, None))[1], runs=3)

    def now_compliance(region):
        return timed(lambda: compliance_rows(models.view_for(G, region, 2018), G, D(2019, 3, 1), region, 2018),
                     runs=3)[0]

    cut = events * 9 // 10
    moment = app.mapper.to_domain_event(app.recorder.select_notifications(start=events * 3 // 4, limit=1)[0]).timestamp

    def fast(region, **when):
        return lambda: audit_year(models, app, G, 2018, region, when.get("position"), when.get("as_of"),
                                  D(2019, 3, 1))

    def full_fold():
        digest = Digest()
        view = fold(digested(upto(entries_of(app), position=cut), digest), keep_entries=True)
        return {region: audit(view, digest.value, G, 2018, region, None, D(2019, 3, 1)) for region in ("23", "01")}

    measures = [
        ("baseline: read and decode every event", baseline),
        ("rebuild all read models (aim <= 2 x)", rebuild),
        ("now: balance, all regions (persisted)", now_balance),
        ("now: compliance, Jämtland 2018 (persisted)", now_compliance("23")),
        ("now: compliance, Stockholm 2018 (persisted)", now_compliance("01")),
    ]
    # mid-year: where the first booking dated in July 2018 was recorded (with --trickle, the
    # middle of the log, with every decision of the year changed after it)
    (mid,) = models._run("SELECT MIN(position) FROM grants_rm_history WHERE grant_id = ? AND year = 2018 "
                         "AND type = 'spent' AND effective >= '2018-07-01'", (G,)).fetchone()
    for label, region, when in [
        (f"as-of audit, Stockholm 2018, cut mid-year at position {mid}", "01", {"position": int(mid)}),
        ("as-of audit, Jämtland 2018, by position", "23", {"position": cut}),
        ("as-of audit, Jämtland 2018, by time", "23", {"as_of": moment}),
        ("as-of audit, Stockholm 2018, by position", "01", {"position": cut}),
        ("as-of audit, Stockholm 2018, by time", "01", {"as_of": moment}),
    ]:
        seconds, report = timed(fast(region, **when), runs=3)
        measures.append((label + f" ({len(report['events'])} lines)", seconds))
    if args.full:
        seconds, folded = timed(full_fold)
        for region in ("23", "01"):
            assert folded[region] == fast(region, position=cut)(), f"the fast audit of {region} differs from the full fold"
        measures.append(("as-of audits, Jämtland and Stockholm 2018, full fold (reference)", seconds))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nstore: {args.db}: {events} events, {len(rows)} region-years; audits cut at position "
          f"{cut} or at {moment.isoformat()}")
    print(f"{'measure':66} {'seconds':>9} {'x baseline':>11}")
    for name, value in measures:
        print(f"{name:66} {value:9.3f} {value / baseline:11.3f}")
        if name.startswith("rebuild"):
            judged("national", name, value, value / baseline, "<= 2 x baseline", value <= 2 * baseline)
        elif name.startswith(("now:", "as-of audit,")):
            judged("national", f"{name}{' (trickled)' if args.trickle else ''}", value, value / baseline,
                   "< 0.5 s", value < 0.5)
    print(f"peak memory: {peak:.0f} MiB")
    models.close()
    app.close()


if __name__ == "__main__":
    main()
