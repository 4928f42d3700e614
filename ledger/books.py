"""Many bookings at once, all or nothing: what a month of the region's books becomes.

An :class:`Entry` is one booking asked for (a cost, or a credit when its amount is
negative) with the voucher id that makes it idempotent; :func:`book_all` checks every
entry against the rules of the aggregates that own them (each decision's
:meth:`~ledger.decision.Decision.spend`, the region-year's open year, the voucher index)
and either refuses the whole batch, naming each offending entry, or saves every new
booking in one atomic write. Entries whose voucher is already booked with the same
content are unchanged, so a file imported again records nothing new.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from ledger import rules
from ledger.decision import Decision
from ledger.errors import LedgerError, NotFound, Refused
from ledger.library import save_in_order
from ledger.values import Amount, Region
from ledger.voucher import Voucher, index_key

if TYPE_CHECKING:
    from ledger.application import GrantLedger


@attrs.frozen
class Entry:
    """One booking asked for: a cost, or with a negative amount a credit. ``problem`` says
    why it cannot be booked before the ledger is asked (no decision maps to it, say)."""

    voucher: str
    decision_id: str
    year: int
    amount: Amount
    booked_on: datetime.date
    object: str
    text: str
    problem: str = ""

    def describe(self) -> str:
        """The entry as a refusal names it: voucher, date, amount."""
        return f"{self.voucher} {self.booked_on.isoformat()} {self.amount.pretty()}"


@attrs.frozen
class Booked:
    """What a batch recorded (or, not recorded, would record)."""

    new: tuple[Entry, ...]
    unchanged: tuple[Entry, ...]


def book_all(app: GrantLedger, grant_id: str, region: str, entries: Sequence[Entry], recorded_by: str,
             record: bool = True) -> Booked:
    """Book every entry on its decision of ``region``, or nothing: any entry that cannot be
    booked refuses the batch (Refused, one detail line per such entry). With ``record``
    false everything is checked and nothing is written (a dry run)."""
    grant = app.grant(grant_id)
    decisions: dict[str, Decision | None] = {}
    open_years: dict[int, LedgerError | None] = {}
    seen: dict[str, Entry] = {}
    new: list[Entry] = []
    unchanged: list[Entry] = []
    refused: list[str] = []
    vouchers: list[Voucher] = []
    today = app.today()
    taken = app.vouchers_taken(grant_id, region, [e.voucher for e in entries])
    for e in entries:
        try:
            if e.problem:
                raise Refused(e.problem)
            if e.voucher in seen:
                raise Refused(f"voucher {e.voucher} comes twice in the batch")
            seen[e.voucher] = e
            decision = _decision(app, grant_id, e.decision_id, decisions)
            if decision.region != region:
                raise Refused(f"decision {e.decision_id} is {Region(decision.region)}'s, not {Region(region)}'s")
            if not decision.has_voucher(e.voucher):
                if e.voucher in taken:
                    raise Refused(f"voucher {e.voucher} is already booked on decision {taken[e.voucher]}")
                _check_open(app, grant_id, region, e.year, open_years)
            if decision.spend(e.voucher, e.year, e.amount, e.booked_on, e.object or grant.object_for(region),
                              e.text, recorded_by, today=today, carry_over=rules.carries_over(grant, e.year)):
                new.append(e)
                vouchers.append(Voucher(grant_id=grant_id, voucher=index_key(region, e.voucher),
                                        decision_id=e.decision_id, recorded_by=recorded_by))
            else:
                unchanged.append(e)
        except (Refused, ValueError) as error:  # Malformed is a ValueError
            refused.append(f"{e.describe()}: {error}")
    if refused:
        raise Refused(f"{len(refused)} of {len(entries)} bookings cannot be recorded, so nothing was recorded",
                      details=refused)
    if record and new:
        save_in_order(app, _in_booking_order(new, decisions, vouchers))
    return Booked(tuple(new), tuple(unchanged))


def _in_booking_order(new: list[Entry], decisions: dict[str, Decision | None], vouchers: list[Voucher]) -> list:
    """The batch's events as N `spend` commands would store them: each booking's event on its
    decision, then its voucher's registration (one atomic write all the same)."""
    pending = {i: list(d.collect_events()) for i, d in decisions.items() if d is not None}
    events = []
    for entry, voucher in zip(new, vouchers):
        events.append(pending[entry.decision_id].pop(0))
        events.extend(voucher.collect_events())
    assert not any(pending.values()), "every pending event is a booking of the batch"
    return events


def _decision(app: GrantLedger, grant_id: str, decision_id: str, loaded: dict[str, Decision | None]) -> Decision:
    if decision_id not in loaded:
        try:
            loaded[decision_id] = app.decision(grant_id, decision_id, suggest=False)
        except NotFound:
            loaded[decision_id] = None
    decision = loaded[decision_id]
    if decision is None:
        raise NotFound(f"unknown decision {decision_id!r} in {grant_id}")
    return decision


def _check_open(app: GrantLedger, grant_id: str, region: str, year: int,
                checked: dict[int, LedgerError | None]) -> None:
    """The year a booking belongs to is not closed (asked once per year of the batch)."""
    if year not in checked:
        try:
            rules.may_book(app.region_year(grant_id, region, year), "book costs")
            checked[year] = None
        except Refused as error:
            checked[year] = error
    if checked[year] is not None:
        raise checked[year]
