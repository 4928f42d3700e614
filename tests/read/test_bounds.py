"""A replay cut by --position or --as-of answers in whole commands, never half an atomic write."""

from __future__ import annotations

import datetime
import json
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application import GrantLedger

from ledger.persistence import store_env
from ledger.errors import LedgerError
from ledger.values import Amount
from projections.audit import Digest, audit, digested, upto
from projections.balances import balance_rows
from projections.bounds import Cut
from projections.commitments import commitment_rows
from projections.fold import entries_of, fold
from projections.persisted import ReadModels, audit_year
from tests.drivers import DATA
from tests.jamtland import G, jamtland
from ledger.terms import Agreement, DecisionTerms

D = datetime.date(2017, 6, 1)
REGIONS = ["01", "03", "23", "25"]
YEARS = [2017, 2018]

command = st.one_of(
    st.tuples(st.just("allocate"), st.sets(st.sampled_from(REGIONS), min_size=1), st.sampled_from(YEARS),
              st.integers(1, 5_000)),
    st.tuples(st.just("frame"), st.sampled_from(REGIONS), st.sampled_from(YEARS), st.integers(1, 5_000)),
    st.tuples(st.just("decide"), st.sampled_from(REGIONS), st.sets(st.sampled_from(YEARS), min_size=1),
              st.integers(1, 2_000)),
    st.tuples(st.just("amend"), st.integers(0, 9), st.sets(st.sampled_from(YEARS), min_size=1),
              st.integers(0, 2_000)),
    st.tuples(st.just("revoke"), st.integers(0, 9)),
    st.tuples(st.just("spend"), st.integers(0, 9), st.sampled_from(YEARS), st.integers(1, 500)),
    st.tuples(st.just("reverse"), st.integers(0, 9)),
)


def pick(items: list[str], i: int) -> str:
    return items[i % len(items)]


def run(app: GrantLedger, step: tuple, decisions: list[str], vouchers: list[str]) -> None:
    """One command of the script; a refused one records nothing (and is still a boundary)."""
    kind, *args = step
    n = len(decisions) + len(vouchers)
    if kind == "allocate":
        regions, year, kronor = args
        app.allocate("g", year, f"p{n}", {r: Amount.kronor(kronor) for r in sorted(regions)}, "entered", "t")
    elif kind == "frame":
        region, year, kronor = args
        app.set_frame("g", region, year, Amount.kronor(kronor), D, "t")
    elif kind == "decide":
        region, years, kronor = args
        app.decide("g", f"D{n}", region, DecisionTerms("Director", D, "a", "b", "it",
                   {y: Amount.kronor(kronor) for y in sorted(years)}, "", ""), "t")
        decisions.append(f"D{n}")
    elif kind == "amend" and decisions:
        i, years, kronor = args
        app.amend("g", pick(decisions, i), {y: Amount.kronor(kronor) for y in sorted(years)}, "Director",
                  D, "r", "t")
    elif kind == "revoke" and decisions:
        app.revoke("g", pick(decisions, args[0]), "Director", D, "r", "t")
    elif kind == "spend" and decisions:
        i, year, kronor = args
        app.spend("g", pick(decisions, i), year, Amount.kronor(kronor), D, "9902", f"V{n}", "", "t")
        vouchers.append(f"V{n}")
    elif kind == "reverse" and vouchers:
        app.reverse("g", pick(vouchers, args[0]), D, "r", "t")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(command, min_size=2, max_size=6))
def test_every_position_answers_as_of_a_command_boundary(script):
    """At every --position (and every moment) of a scripted history, the fold and the fast audit
    answer as of the last command boundary at or before it, the audit's year reconciles, and a
    position past the log names the log's end."""
    with tempfile.TemporaryDirectory() as tmp:
        db = f"{tmp}/ledger.sqlite"
        app = GrantLedger(env=store_env(db))
        models = ReadModels(db, checkpoint=3, snapshot=2)  # checkpoints fall inside commands
        try:
            app.define_grant("g", "Grant", 2017, 2018, [["it", "it"]], "", "9902", "t")
            for year in YEARS:
                app.sign_agreement("g", Agreement(year, signed_on=D, pots=[[f"p{i}", 10**12] for i in range(20)],
                                   earmarks=[], report_due=datetime.date(year + 1, 2, 15), payer="",
                                   report_to="", population_date=None, ref=""), recorded_by="t")
            for region in REGIONS:
                app.authorise("g", region, "Director", "hsd", None, None, "t")
            boundaries = {0, *range(1, app.last_position() + 1)}
            decisions: list[str] = []
            vouchers: list[str] = []
            for step in script:
                try:
                    run(app, step, decisions, vouchers)
                except LedgerError:
                    pass
                boundaries.add(app.last_position())
            head = app.last_position()
            entries = list(entries_of(app))
            for position in range(0, head + 3):
                expected = max(b for b in boundaries if b <= position)
                cut = Cut()
                view = fold(upto(entries_of(app), position, cut=cut))
                assert view.position == cut.answered == expected
                assert (cut.split is not None) == (position < head and position not in boundaries)
                assert cut.beyond == (head if position > head else None)
                whole = fold(e for e in entries if e.position <= expected)
                assert balance_rows(view, "g") == balance_rows(whole, "g")
                assert commitment_rows(view, "g") == commitment_rows(whole, "g")
                year = YEARS[position % 2]
                fast_cut = Cut()
                fast = audit_year(models, app, "g", year, None, position, None, D, fast_cut)
                assert fast["position"] == fast_cut.answered == expected
                assert (fast_cut.split, fast_cut.beyond) == (cut.split, cut.beyond)
                assert fast["reconciled"], fast["reconciliation"]
                digest = Digest()
                full = fold(digested(upto(entries_of(app), position), digest), keep_entries=True)
                assert fast == audit(full, digest.value, "g", year, None, None, D)
            for entry in entries[7:]:
                moment = entry.recorded_at - datetime.timedelta(microseconds=1)
                view = fold(upto(entries_of(app), as_of=moment))
                assert view.position in boundaries
                assert all(e.recorded_at <= moment for e in entries if e.position <= view.position)
                fast = audit_year(models, app, "g", YEARS[entry.position % 2], None, None, moment, D)
                assert fast["position"] == view.position and fast["reconciled"]
        finally:
            models.close()
            app.close()


def allocated_to_all(grants) -> int:
    """Jämtland's example, then the 2016 table to all 21 regions in one command; its first position."""
    jamtland(grants)
    grants("agreement", "sign", G, "--year", "2016", "--signed-on", "2016-01-28",
           "--pot", "stimulus=1000000000", "--report-due", "2017-03-31")
    first = grants.events() + 1
    grants("allocate", G, "--year", "2016", "--pot", "stimulus", "--table", str(DATA / "allocation-2016.csv"))
    return first


def test_a_position_inside_an_allocation_answers_before_it_and_says_so(grants):
    """--position inside `allocate`'s write shows none of it (never half the regions), with a note
    on stderr naming the command's positions; stdout stays clean JSON."""
    first = allocated_to_all(grants)
    last = grants.events()
    assert last == first + 42  # PotAllocated, then Opened and Allocated for each of 21 regions
    for position in (first, first + 1, first + 20, last - 1):
        r = grants("balance", G, "--year", "2016", "--position", str(position), fmt="json")
        assert json.loads(r.stdout) == []
        assert r.stderr == (f"note: position {position} falls inside one command's atomic write "
                            f"(positions {first}-{last}); answered as of the start of that command: "
                            f"positions 1-{first - 1}\n")
        audit = json.loads(grants("audit", G, "--year", "2016", "--position", str(position), fmt="json").stdout)
        assert audit["position"] == first - 1 and audit["balances"] == [] and audit["reconciled"]
    r = grants("balance", G, "--year", "2016", "--position", str(last), fmt="json")
    assert len(json.loads(r.stdout)) == 21 and r.stderr == ""


def test_a_position_beyond_the_log_says_where_the_log_ends(grants):
    """--position past the last event answers as of the end, with a note naming the last position."""
    jamtland(grants)
    last = grants.events()
    r = grants("balance", G, "--position", str(last + 100), fmt="json")
    assert json.loads(r.stdout) == grants.json("balance", G)
    assert r.stderr == (f"note: position {last + 100} is beyond the log, which ends at position {last}; "
                        "answered as of its end\n")
    r = grants("audit", G, "--year", "2018", "--position", str(last + 100))
    assert f"positions 1-{last}," in r.stdout and f"ends at position {last}" in r.stderr
    assert grants("compliance", G, "--position", str(last)).stderr == ""


def test_before_the_first_recording_nothing_was_recorded(grants):
    """--as-of or --position before the grant existed answers with no rows and exit 0; a grant
    that does not exist now is still unknown (exit 1)."""
    jamtland(grants)
    for command in ("balance", "commitments", "compliance"):
        for limit in (["--as-of", "2001-01-01"], ["--position", "0"]):
            r = grants(command, G, *limit)
            assert r.stdout == "(nothing recorded by then)\n"
            assert r.stderr == f"note: nothing of {G} was recorded by then (as of position 0)\n"
            assert grants.json(command, G, *limit) == []
            assert "unknown grant 'nope'" in grants(command, "nope", *limit, code=1).stderr
    r = grants("audit", G, "--year", "2018", "--as-of", "2001-01-01")
    assert r.stdout.rstrip().endswith("(nothing recorded by then)") and "adds up" not in r.stdout
    audit = grants.json("audit", G, "--year", "2018", "--position", "0")
    assert (audit["recorded"], audit["position"], audit["events"], audit["balances"]) == (False, 0, [], [])
    assert "unknown grant 'nope'" in grants("audit", "nope", "--year", "2018", "--position", "0", code=1).stderr
