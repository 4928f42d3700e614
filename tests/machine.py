"""The state machine: random command sequences against a small, independent reference
model of domain.md's rules (``tests/model.py``). ``tests/rules/test_balance_rules_hold.py``
runs it; the read side's tests extend it (read models, kept states).

The state machine drives the application service (on the in-memory store) with
allocations, frames, multi-year decisions, amendments, revocations, bookings,
reversals, reservations, repayments, requisitions, closing and reopening. For each
step the model says whether the ledger must accept or refuse; the ledger must agree.
After every step the identities of domain.md must hold for every region-year, the
figures must equal the model's, and replaying the stored events must give the same
state as the aggregates the application loads.
"""

from __future__ import annotations

import datetime

import attrs

import pytest

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from ledger.application import GrantLedger
from ledger.errors import Duplicate, LedgerError
from ledger.values import Amount
from projections.audit import reconcile
from projections.balances import balance_rows
from projections.commitments import commitment_rows
from projections.fold import entries_of, fold

from tests.model import (DECIDED, POTS, PURPOSES, REGIONS, YEARS, D, DecisionModel, YearModel,
                         commitments_may_move, move_commitments)
from tests.strategies import amounts
from ledger.terms import Agreement, DecisionTerms


class LedgerMachine(RuleBasedStateMachine):
    """Drives GrantLedger and a reference model side by side."""

    decision_ids = Bundle("decision_ids")
    voucher_ids = Bundle("voucher_ids")

    @initialize(data=st.data())
    def start(self, data) -> None:
        self.app = self.make_app()
        self.app.define_grant("g", "Grant", 2016, 2018, [[p, p] for p in PURPOSES], "", "9902", "t")
        for year in YEARS:
            self.app.sign_agreement(
                "g", Agreement(year, signed_on=D, pots=[["stim", 10**9], ["nse", 10**9]],
                earmarks=[["nse", "nse"]], report_due=datetime.date(year + 1, 2, 15), payer="",
                report_to="", population_date=None, ref=""), recorded_by="t")
        for region in REGIONS:
            self.app.authorise("g", region, "Director", "hsd", None, None, "t")
        self.years = {(r, y): YearModel() for r in REGIONS for y in YEARS}
        self.decisions: dict[str, DecisionModel] = {}
        self.vouchers: dict[str, tuple[str, int, int, bool]] = {}
        self.counter = 0
        self.deadlines: dict[int, datetime.date] = {}  # year -> the agreement's --requisition-by
        # Most years start with money: an allocation of the stimulus pot, or a planning frame.
        for (region, year), ym in self.years.items():
            start = data.draw(st.sampled_from(["allocation", "allocation", "frame", "nothing"]))
            amount = data.draw(st.integers(min_value=1_000_00, max_value=20_000_00))
            if start == "allocation":
                self.app.allocate("g", year, "stim", {region: Amount(amount)}, "entered", "t")
                ym.alloc["stim"] = amount
            elif start == "frame":
                self.app.set_frame("g", region, year, Amount(amount), D, "t")
                ym.frame = amount

    def make_app(self) -> GrantLedger:
        return GrantLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})

    # ------------------------------------------------------------------ helpers

    def expect(self, allowed: bool, action, unchanged: bool = False) -> bool:
        """Run the action; the ledger must accept exactly when the model allows, and record
        nothing (return False, the log as it was) when the model says the wanted state holds."""
        before = self.app.last_position()
        try:
            recorded = action()
        except LedgerError as e:
            assert not allowed and not unchanged, f"ledger refused what the model allows: {e}"
            return False
        if unchanged:
            assert recorded is False and self.app.last_position() == before, "ledger recorded a repeat"
            return False
        assert allowed, "ledger accepted what the model refuses"
        return True

    def new_ref(self) -> str:
        """A ref not used before (retry_money sends used ones again)."""
        self.counter += 1
        return f"R{self.counter}"

    def near(self, data, target: int) -> int:
        """An amount at, one öre either side of, or anywhere near a boundary."""
        choice = data.draw(st.sampled_from(["at", "above", "below", "any", "part", "part"]))
        value = {"at": target, "above": target + 1, "below": target - 1,
                 "part": target // 3}.get(choice)
        if value is None:
            value = data.draw(amounts)
        return max(1, value)

    def change_commitments(self, region: str, purpose: str, new: dict[int, int],
                           old: dict[int, int]) -> bool:
        """Whether the model allows moving a decision's yearly commitments from old to new."""
        return commitments_may_move(self.years, region, purpose, new, old)

    def apply_commitments(self, did: str, region: str, purpose: str, new: dict[int, int]) -> None:
        move_commitments(self.years, did, region, purpose, new)

    # ------------------------------------------------------------------ the state's facts

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS), pot=st.sampled_from(POTS),
          amount=amounts)
    def allocate(self, region, year, pot, amount):
        ym = self.years[(region, year)]
        allowed = not ym.closed and (pot not in ym.alloc or ym.alloc[pot] == amount)
        if self.expect(allowed, lambda: self.app.allocate("g", year, pot, {region: Amount(amount)}, "entered", "t")):
            ym.alloc[pot] = amount

    # ------------------------------------------------------------------ the region's facts

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS), data=st.data())
    def set_frame(self, region, year, data):
        ym = self.years[(region, year)]
        needed = sum(ym.commit.values()) + sum(ym.reserved.values())
        amount = self.near(data, needed)
        allowed = not ym.closed and not ym.alloc and amount >= needed
        if self.expect(allowed, lambda: self.app.set_frame("g", region, year, Amount(amount), D, "t"),
                       unchanged=ym.frame == amount):
            ym.frame = amount

    @rule(year=st.sampled_from(YEARS), lapse=st.booleans())
    def amend_requisition_deadline(self, year, lapse):
        """The agreement is amended to a --requisition-by before the requisitions' day (the
        money lapses: requisitions are refused) or after it; the same terms again are unchanged."""
        current = self.app.grant("g").agreement(year)
        deadline = D - datetime.timedelta(days=1) if lapse else D + datetime.timedelta(days=30)
        if current.requisition_by == deadline:
            again = attrs.evolve(current, signed_on=current.amended_on or current.signed_on)
            assert self.app.sign_agreement("g", again, "t") is False
            return
        signed = (current.amended_on or current.signed_on) + datetime.timedelta(days=1)
        assert self.app.sign_agreement("g", attrs.evolve(current, signed_on=signed, requisition_by=deadline), "t")
        self.deadlines[year] = deadline

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS), pot=st.sampled_from(POTS),
          data=st.data())
    def requisition(self, region, year, pot, data):
        ym = self.years[(region, year)]
        room = ym.pot_alloc(pot) - ym.pot_req(pot)
        amount = self.near(data, room)
        lapsed = self.deadlines.get(year) is not None and D > self.deadlines[year]
        allowed = not ym.closed and pot in ym.alloc and amount <= room and not lapsed
        ref = self.new_ref()
        if self.expect(allowed, lambda: self.app.requisition("g", region, year, pot, Amount(amount), D, ref, "t")):
            ym.reqs[pot] = ym.reqs.get(pot, 0) + amount
            ym.refs[ref] = ("requisition", pot, amount)

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS), pot=st.sampled_from(POTS),
          data=st.data())
    def pay(self, region, year, pot, data):
        ym = self.years[(region, year)]
        room = ym.pot_req(pot) - ym.paid.get(pot, 0)  # paid <= requisitioned (<= allocated), per pot
        amount = self.near(data, room)
        allowed = not ym.closed and pot in ym.alloc and amount <= room
        ref = self.new_ref()
        if self.expect(allowed, lambda: self.app.pay("g", region, year, pot, Amount(amount), D, ref, "t")):
            ym.paid[pot] = ym.paid.get(pot, 0) + amount
            ym.refs[ref] = ("pay", pot, amount)

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS),
          purpose=st.sampled_from(PURPOSES), data=st.data())
    def reserve(self, region, year, purpose, data):
        ym = self.years[(region, year)]
        amount = self.near(data, ym.headroom())
        ref = self.new_ref()
        if self.expect(ym.can_raise(amount),
                       lambda: self.app.reserve("g", region, year, Amount(amount), purpose, D, ref, "t")):
            ym.reserved[purpose] = ym.reserved.get(purpose, 0) + amount
            ym.refs[ref] = ("reserve", purpose, amount)

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS), data=st.data())
    def repay(self, region, year, data):
        ym = self.years[(region, year)]
        amount = self.near(data, max(0, ym.headroom()))
        allowed = (not ym.closed and "stim" in ym.alloc and amount <= ym.pot_alloc("stim")
                   and amount <= max(0, ym.headroom()))
        ref = self.new_ref()
        if self.expect(allowed, lambda: self.app.repay("g", region, year, Amount(amount), D, ref, "t", pot="stim")):
            ym.repaid["stim"] = ym.repaid.get("stim", 0) + amount
            ym.refs[ref] = ("repay", "stim", amount)

    # ------------------------------------------------------------------ the state's reclaims

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS), data=st.data())
    def reclaim(self, region, year, data):
        """A reclaim takes up to what the region keeps, whatever is available, even in a closed year."""
        ym = self.years[(region, year)]
        keeps = ym.allocated() - ym.kept_back()
        amount = self.near(data, keeps)
        allowed = bool(ym.alloc) and amount <= keeps
        ref = self.new_ref()
        if self.expect(allowed, lambda: self.app.reclaim("g", region, year, Amount(amount), D, "unused", ref, "t")):
            ym.debts[ref] = [amount, 0, 0]
            ym.refs[ref] = ("reclaim", "unused", amount)

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS), data=st.data(),
          waive=st.booleans())
    def settle_or_waive(self, region, year, data, waive):
        """A repayment or a waiver against a reclaim: never more than is owed."""
        ym = self.years[(region, year)]
        if not ym.debts:
            return
        reclaim = data.draw(st.sampled_from(sorted(ym.debts)))
        debt = ym.debts[reclaim]
        owed = debt[0] - debt[1] - debt[2]
        amount = self.near(data, owed)
        ref = self.new_ref()
        if waive:
            action = lambda: self.app.waive("g", region, year, reclaim, Amount(amount), D, "why", ref, "t")  # noqa: E731
        else:
            action = lambda: self.app.settle("g", region, year, reclaim, Amount(amount), D, ref, "t")  # noqa: E731
        if self.expect(amount <= owed, action):
            debt[2 if waive else 1] += amount
            ym.refs[ref] = ("waive" if waive else "settle", reclaim, amount)

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS), data=st.data())
    def retry_money(self, region, year, data):
        """A money command sent again with a ref already used: the same content records
        nothing, whatever happened since (even in a closed year); other content is refused."""
        ym = self.years[(region, year)]
        if not ym.refs:
            return
        ref = data.draw(st.sampled_from(sorted(ym.refs)))
        kind, what, amount = ym.refs[ref]
        other = data.draw(st.sampled_from([None, "amount", "kind"]))
        if other == "amount":
            amount += 1
        elif other == "kind":  # the same ref for another kind of fact
            kind, what = {"requisition": ("repay", "stim"), "repay": ("reserve", "nse"),
                          "reserve": ("requisition", "stim"), "pay": ("requisition", "stim"),
                          "reclaim": ("pay", "stim"), "settle": ("reclaim", "unused"),
                          "waive": ("settle", what)}[kind]
        send = {
            "requisition": lambda: self.app.requisition("g", region, year, what, Amount(amount), D, ref, "t"),
            "reserve": lambda: self.app.reserve("g", region, year, Amount(amount), what, D, ref, "t"),
            "repay": lambda: self.app.repay("g", region, year, Amount(amount), D, ref, "t", pot=what),
            "pay": lambda: self.app.pay("g", region, year, what, Amount(amount), D, ref, "t"),
            "reclaim": lambda: self.app.reclaim("g", region, year, Amount(amount), D, what, ref, "t"),
            "settle": lambda: self.app.settle("g", region, year, what, Amount(amount), D, ref, "t"),
            "waive": lambda: self.app.waive("g", region, year, what, Amount(amount), D, "why", ref, "t"),
        }[kind]
        if other is None:
            self.expect(True, send, unchanged=True)
        else:
            with pytest.raises(Duplicate, match=f"ref '{ref}' is already used"):
                send()

    @rule(target=decision_ids, region=st.sampled_from(REGIONS), purpose=st.sampled_from(PURPOSES),
          years=st.sets(st.sampled_from(YEARS), min_size=1), data=st.data())
    def decide(self, region, purpose, years, data):
        schedule = {y: self.near(data, self.years[(region, y)].headroom()) for y in sorted(years)}
        self.counter += 1
        did = f"D{self.counter}"
        allowed = self.change_commitments(region, purpose, schedule, {})
        if self.expect(allowed, lambda: self.app.decide(
                "g", did, region, DecisionTerms("Director", DECIDED, "Area", "Act", purpose,
                {y: Amount(a) for y, a in schedule.items()}, "", ""), "t")):
            self.decisions[did] = DecisionModel(region, purpose, schedule)
            self.apply_commitments(did, region, purpose, schedule)
            # an identical retry is accepted and records nothing
            before = self.app.last_position()
            assert self.app.decide("g", did, region, DecisionTerms("Director", DECIDED, "Area", "Act", purpose,
                                   {y: Amount(a) for y, a in schedule.items()}, "", ""), "t") is False
            assert self.app.last_position() == before
            return did
        return multiple()

    @rule(did=decision_ids, data=st.data())
    def amend(self, did, data):
        dm = self.decisions[did]
        booked = {y for y, spent in dm.spent.items() if spent}
        years = data.draw(st.sets(st.sampled_from(YEARS), min_size=1))
        if data.draw(st.booleans()):
            years |= booked  # usually keep the booked years, so the boundary below is reached
        new = {}
        for y in sorted(years):
            spent, granted = dm.spent.get(y, 0), dm.schedule.get(y, 0)
            new[y] = max(0, data.draw(st.sampled_from(
                [spent, spent - 1, spent + 1, granted, granted + 100, 0])
                | amounts))
        self.try_amend(did, new)

    def try_amend(self, did: str, new: dict[int, int]) -> None:
        dm = self.decisions[did]
        if not dm.revoked and new == dm.last_amendment:
            # the same amendment again is a safe retry: accepted, nothing recorded
            before = self.app.last_position()
            assert self.app.amend("g", did, {y: Amount(a) for y, a in new.items()}, "Director", D,
                                  "change", "t") is False
            assert self.app.last_position() == before
            return
        allowed = (not dm.revoked
                   and all(new.get(y, 0) >= s for y, s in dm.spent.items())
                   and self.change_commitments(dm.region, dm.purpose, new,
                                               {y: dm.committed(y) for y in YEARS}))
        if self.expect(allowed, lambda: self.app.amend(
                "g", did, {y: Amount(a) for y, a in new.items()}, "Director", D, "change", "t")):
            dm.schedule = {y: a for y, a in new.items()}
            dm.last_amendment = dict(new)
            self.apply_commitments(did, dm.region, dm.purpose, {y: dm.committed(y) for y in YEARS})

    @rule(did=decision_ids, data=st.data())
    def book_then_amend_to_the_booked_amount(self, did, data):
        """Book part of a year, then amend that year to one öre either side of what is booked."""
        dm = self.decisions[did]
        years = sorted(y for y, a in dm.schedule.items() if a > dm.spent.get(y, 0))
        if not years:
            return
        year = data.draw(st.sampled_from(years))
        room = dm.schedule[year] - dm.spent.get(year, 0)
        self.try_spend(did, year, data.draw(st.integers(min_value=1, max_value=room)))
        new = dict(dm.schedule)
        new[year] = dm.spent.get(year, 0) + data.draw(st.sampled_from([-1, 0, 1]))
        self.try_amend(did, {y: max(0, a) for y, a in new.items()})

    @rule(did=decision_ids, data=st.data())
    def revoke(self, did, data):
        dm = self.decisions[did]
        after = {y: dm.spent.get(y, 0) for y in YEARS}
        allowed = not dm.revoked and self.change_commitments(
            dm.region, dm.purpose, after, {y: dm.committed(y) for y in YEARS})
        if self.expect(allowed, lambda: self.app.revoke("g", did, "Director", D, "stop", "t"),
                       unchanged=dm.revoked):
            dm.revoked = True
            self.apply_commitments(did, dm.region, dm.purpose, after)

    @rule(target=voucher_ids, did=decision_ids, data=st.data())
    def spend(self, did, data):
        dm = self.decisions[did]
        year = data.draw(st.sampled_from(sorted(dm.schedule)) | st.sampled_from(YEARS))
        room = dm.schedule.get(year, 0) - dm.spent.get(year, 0)
        return self.try_spend(did, year, self.near(data, room)) or multiple()

    @rule(target=voucher_ids, did=decision_ids, data=st.data())
    def credit(self, did, data):
        dm = self.decisions[did]
        year = data.draw(st.sampled_from(sorted(dm.schedule)) | st.sampled_from(YEARS))
        return self.try_spend(did, year, -self.near(data, dm.spent.get(year, 0))) or multiple()

    def try_spend(self, did: str, year: int, amount: int) -> str | None:
        """A cost, or with a negative amount a credit: spent stays within 0 and the year's amount."""
        dm = self.decisions[did]
        room = dm.schedule.get(year, 0) - dm.spent.get(year, 0)
        self.counter += 1
        voucher = f"V{self.counter}"
        allowed = (not dm.revoked and dm.schedule.get(year, 0) > 0 and amount <= room
                   and dm.spent.get(year, 0) + amount >= 0 and not self.years[(dm.region, year)].closed)
        if self.expect(allowed, lambda: self.app.spend("g", did, year, Amount(amount), datetime.date(year, 6, 1), "9902",
                                                voucher, "", "t")):
            dm.spent[year] = dm.spent.get(year, 0) + amount
            self.vouchers[voucher] = (did, year, amount, False)
            return voucher
        return None

    @rule(voucher=voucher_ids)
    def reverse(self, voucher):
        did, year, amount, reversed_ = self.vouchers[voucher]
        dm = self.decisions[did]
        ym = self.years[(dm.region, year)]
        after = dm.spent.get(year, 0) - amount  # a reversed credit raises what is spent
        allowed = not reversed_ and not ym.closed and 0 <= after <= dm.committed(year)
        if reversed_:
            return  # a repeat with the same date and reason is a no-op; tested in test_decision
        if self.expect(allowed, lambda: self.app.reverse("g", voucher, D, "wrong", "t")):
            dm.spent[year] -= amount
            self.vouchers[voucher] = (did, year, amount, True)
            if dm.revoked:
                self.apply_commitments(did, dm.region, dm.purpose, {y: dm.committed(y) for y in YEARS})

    @rule(region=st.sampled_from(REGIONS), year=st.sampled_from(YEARS))
    def close_or_reopen(self, region, year):
        ym = self.years[(region, year)]
        if ym.closed:
            assert self.app.reopen_year("g", region, year, D, "again", "t")
            assert self.app.reopen_year("g", region, year, D, "again", "t") is False  # a retry
        else:
            assert self.app.close_year("g", region, year, D, "t")
            assert self.app.close_year("g", region, year, D, "t") is False  # a retry
        ym.closed = not ym.closed

    # ------------------------------------------------------------------ invariants

    @invariant()
    def identities_hold_match_the_model_and_replay(self):
        if not hasattr(self, "app"):
            return
        view = fold(entries_of(self.app))
        self.check_identities(view)
        self.check_replay(view)
        for year in YEARS:
            failing = [c for c in reconcile(view, "g", year, None) if not c["holds"]]
            assert not failing, failing

    def check_identities(self, view) -> None:
        """Every figure ≥ 0, funds + shortfall = committed + reserved + available, and the model's figures."""
        for row in balance_rows(view, "g"):
            ym = self.years[(row["region"], row["year"])]
            figures = [row[k] for k in ("allocated", "requisitioned", "committed", "reserved",
                                         "spent", "available", "shortfall")]
            assert all(not f.is_negative for f in figures), row
            funds = Amount(ym.funds())
            assert funds == (row["allocated"] - row["reclaimed"] + row["waived"] if ym.alloc else Amount(ym.frame or 0))
            assert funds + row["shortfall"] == row["committed"] + row["reserved"] + row["available"]
            assert row["spent"] <= row["committed"]
            assert row["requisitioned"] <= row["allocated"]
            assert row["available"] == Amount(max(0, ym.headroom()))
            assert row["shortfall"] == Amount(max(0, -ym.headroom()))
            assert row["committed"] == Amount(sum(ym.commit.values()))
            assert row["reserved"] == Amount(sum(ym.reserved.values()))
            folded = view.region_years[("g", row["region"], row["year"])]
            assert {p: a for p, a in folded.reservations.items() if a} == {
                p: a for p, a in ym.reserved.items() if a}
            assert row["requisitioned"] == Amount(sum(ym.pot_req(p) for p in POTS))
            assert row["paid"] == Amount(sum(ym.paid.values()))
            assert row["reclaimed"] == Amount(sum(d[0] for d in ym.debts.values()))
            assert row["waived"] == Amount(sum(d[2] for d in ym.debts.values()))
            for ref, debt in folded.debts.items():  # debt + repaid + waived = reclaimed, to the öre
                assert debt.owed + debt.repaid + debt.waived == debt.amount == ym.debts[ref][0]
                assert (debt.repaid, debt.waived) == tuple(ym.debts[ref][1:])
                assert debt.owed >= 0
            assert row["closed"] == ym.closed
        for row in commitment_rows(view, "g"):
            dm = self.decisions[row["decision"]]
            assert row["amount"] == Amount(dm.committed(row["year"]))
            assert row["spent"] == Amount(dm.spent.get(row["year"], 0))
            assert row["spent"] <= row["amount"]

    def check_replay(self, view) -> None:
        """The fold of the stored events equals what the application loads."""
        for key, folded in view.region_years.items():
            loaded = self.app.region_year(*key)
            assert (loaded.version, loaded.commitments, loaded.allocations, loaded.reservations,
                    loaded.requisitions, loaded.repaid_by_pot, loaded.closed, loaded.frame) == (
                folded.version, folded.commitments, folded.allocations, folded.reservations,
                folded.requisitions, folded.repaid_by_pot, folded.closed, folded.frame)
        for (_, did), folded in view.decisions.items():
            loaded = self.app.decision("g", did)
            assert (loaded.version, loaded.schedule, loaded.spent_by_year, loaded.status) == (
                folded.version, folded.schedule, folded.spent_by_year, folded.status)


def machine_test(machine: type[RuleBasedStateMachine], examples: int, steps: int) -> type:
    """A state machine's test case, run ``examples`` times for up to ``steps`` steps each, with
    no deadline (a step writes to a store) and without the slow-data health checks."""
    machine.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    return machine.TestCase
