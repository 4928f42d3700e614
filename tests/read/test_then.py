"""The as-of answers and the histories read from the read models (the aggregates as they stood
at the cut, the aggregates' own rows) are exactly what folding the whole log's prefix gives:
rows, the notes a cut gives, and the "nothing recorded by then" case."""

from __future__ import annotations

import datetime
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import GrantLedger
from ledger.errors import LedgerError, NotFound
from ledger.persistence import store_env
from ledger.terms import Agreement
from projections.authority import authorisation_rows
from projections.balances import balance_rows
from projections.budget import budget_rows, until_balances, until_commitments
from projections.commitments import commitment_rows
from projections.compliance import compliance_rows
from projections.debts import reclaim_rows, year_end_rows
from projections.fold import entries_of
from projections.history import history_rows
from projections.persisted import ReadModels
from projections.reader import Answer, Reader
from tests.read.test_bounds import REGIONS, YEARS, command, run

import pytest

D = datetime.date(2017, 6, 1)
DAY = datetime.date(2019, 3, 1)
SCOPES = [(None, None), ("23", 2018), ("01", None), (None, 2017)]


def questions(region, year):
    """Each as-of question: how the reader asks it, and what it computes from a folded view."""
    y = year or 2018
    return {
        "balances": (lambda r, **w: r.balances("g", region, year, **w),
                     lambda v: balance_rows(v, "g", region, year)),
        "balances until": (lambda r, **w: r.balances("g", region, year, until=D, **w),
                           lambda v: until_balances(balance_rows(v, "g", region, year), v, "g", D)),
        "commitments": (lambda r, **w: r.commitments("g", region, year, **w),
                        lambda v: commitment_rows(v, "g", region, year)),
        "commitments until": (lambda r, **w: r.commitments("g", region, year, until=D, **w),
                              lambda v: until_commitments(commitment_rows(v, "g", region, year), v, "g", D)),
        "compliance": (lambda r, **w: r.compliance("g", DAY, region, year, **w),
                       lambda v: compliance_rows(v, "g", DAY, region, year)),
        "budget": (lambda r, **w: r.budget("g", y, region, "purpose", "quarter", **w),
                   lambda v: budget_rows(v, "g", y, region, "purpose", "quarter", None)),
        "reclaims": (lambda r, **w: r.reclaims("g", DAY, region, year, **w),
                     lambda v: reclaim_rows(v, "g", DAY, region, year)),
        "year end": (lambda r, **w: r.year_end("g", y, region, **w),
                     lambda v: year_end_rows(v, "g", region, y)),
        "authorisations": (lambda r, **w: r.authorisations("g", region, **w),
                           lambda v: authorisation_rows(v, "g", region)),
    }


def folded(reader: Reader, then, position=None, as_of=None) -> Answer:
    """What the fold of the whole prefix answers (``Reader.ask`` before the read models did)."""
    view, cut = reader.view(position, as_of)
    notes = tuple(cut.notes())
    if "g" not in view.grants:
        return Answer([], notes, empty_then=True, position=view.position)
    return Answer(then(view), notes)


def recorded(tmp: str, script, db: str | None = None) -> tuple[GrantLedger, Reader, str]:
    db = db or f"{tmp}/ledger.sqlite"
    app = GrantLedger(env=store_env(db))
    app.define_grant("g", "Grant", 2017, 2018, [["it", "it"]], "", "9902", "t")
    for year in YEARS:
        app.sign_agreement("g", Agreement(year, signed_on=D, pots=[[f"p{i}", 10**12] for i in range(20)],
                           earmarks=[], report_due=datetime.date(year + 1, 2, 15), payer="",
                           report_to="", population_date=None, ref=""), recorded_by="t")
    for region in REGIONS:
        app.authorise("g", region, "Director", "hsd", None, None, "t")
    decisions: list[str] = []
    vouchers: list[str] = []
    for step in script:
        try:
            run(app, step, decisions, vouchers)
        except LedgerError:
            pass
    reader = Reader(app, db)
    # kept states every 2nd version and checkpoints every 3 positions: cuts land between both
    reader._models = ReadModels(db, checkpoint=3, snapshot=2)
    reader._closing.callback(reader._models.close)
    reader._models.catch_up(app)
    return app, reader, db


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(command, min_size=3, max_size=9), data=st.data())
def test_as_of_answers_equal_the_fold_of_the_prefix(script, data):
    """At random positions (the log's start, inside commands, past its end) and moments (before
    anything, between events), every as-of question gives the fold's rows, notes, emptiness and
    position."""
    with tempfile.TemporaryDirectory() as tmp:
        app, reader, _ = recorded(tmp, script)
        try:
            head = app.last_position()
            stamps = [e.recorded_at for e in entries_of(app)]
            positions = data.draw(st.lists(st.integers(0, head + 3), min_size=3, max_size=6), label="positions")
            moments = data.draw(st.lists(st.sampled_from(range(len(stamps))), min_size=1, max_size=3), label="at")
            limits = [{"position": p} for p in [0, *positions]]
            limits += [{"as_of": stamps[i] - datetime.timedelta(microseconds=1)} for i in [0, *moments]]
            limits += [{"as_of": stamps[i]} for i in moments]
            limits.append({"position": head, "as_of": stamps[len(stamps) // 2]})
            for limit in limits:
                for region, year in SCOPES:
                    for name, (ask, then) in questions(region, year).items():
                        expected = folded(reader, then, **limit)
                        got = ask(reader, **limit)
                        assert got == expected, (name, region, year, limit)
            assert reader.balances("g", position=0).empty_then
            with pytest.raises(NotFound):
                reader.balances("nope", position=head)
        finally:
            reader.close()
            app.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(command, min_size=3, max_size=12))
def test_history_of_a_decision_or_region_equals_the_fold(script):
    """`history --decision` and `--region` (and both) read from the aggregates' own rows list
    exactly the events, summaries and positions the fold of the whole log lists."""
    with tempfile.TemporaryDirectory() as tmp:
        app, reader, _ = recorded(tmp, script)
        try:
            full, _ = reader.view(keep_entries=True)
            decisions = sorted(d for g, d in full.decisions if g == "g")
            for region in [None, *REGIONS, "24"]:
                if region is not None:
                    assert reader.history("g", region).rows == history_rows(full, "g", region)
                for decision in decisions:
                    assert reader.history("g", region, decision).rows == history_rows(full, "g", region, decision)
            assert reader.history("g").rows == history_rows(full, "g")
            with pytest.raises(NotFound):
                reader.history("g", decision_id="D-none")
            with pytest.raises(NotFound):
                reader.history("nope", region="23")
        finally:
            reader.close()
            app.close()


SCRIPT = [("allocate", {"01", "23"}, 2017, 4_000), ("allocate", {"23"}, 2018, 3_000),
          ("decide", "23", {2017, 2018}, 500), ("spend", 0, 2017, 100), ("spend", 0, 2018, 20),
          ("amend", 0, {2017, 2018}, 300), ("decide", "01", {2017}, 200), ("spend", 1, 2017, 50),
          ("reverse", 0), ("revoke", 1), ("frame", "23", 2018, 100)]


def test_as_of_answers_and_histories_equal_the_fold_on_both_stores(store, tmp_path):
    """The same on SQLite and PostgreSQL (whose rows come back as other types): every position
    of a fixed history, and the history of each decision and region."""
    app, reader, _ = recorded(str(tmp_path), SCRIPT, store)
    try:
        head = app.last_position()
        for position in range(0, head + 2):
            for region, year in SCOPES:
                for name, (ask, then) in questions(region, year).items():
                    assert ask(reader, position=position) == folded(reader, then, position=position), \
                        (name, region, year, position)
        full, _ = reader.view(keep_entries=True)
        assert len(full.decisions) == 2
        for g, decision in full.decisions:
            assert reader.history(g, decision_id=decision).rows == history_rows(full, g, None, decision)
        for region in ("01", "23"):
            assert reader.history("g", region).rows == history_rows(full, "g", region)
        assert any(r["type"] == "voucher-registered" for r in reader.history("g", "23").rows)
        assert any(r["type"] == "reversed" for r in reader.history("g", "23").rows)
    finally:
        reader.close()
        app.close()
