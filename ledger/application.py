"""The application service: one method per recording command.

Each method loads the aggregates it needs, asks them to act (they check the rules),
and saves every touched aggregate in one atomic write. A write that collides with a
concurrent writer is retried from a fresh load (:func:`ledger.persistence.retried`).
How events are stored and read back is :mod:`ledger.persistence`'s; nothing here knows
about the command line.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar
from uuid import UUID

import attrs
from eventsourcing.application import AggregateNotFoundError

from ledger import clock, rules
from ledger.apportion import apportion
from ledger.books import Booked, Entry, book_all
from ledger.region_year import RegionYear, region_year_uuid
from ledger.terms import Agreement, DecisionTerms, ReportContent
from ledger.decision import Decision, decision_uuid
from ledger.voucher import Voucher, index_key
from ledger.vouchers import VoucherLookups
from ledger.reclaiming import Reclaiming
from ledger.errors import Duplicate, NotFound, did_you_mean, unknown_grant_message  # noqa: F401 (re-exported)
from ledger.grant import Grant, grant_uuid
from ledger.persistence import StoredLedger, open_store, retried
from ledger.values import Amount

A = TypeVar("A")


class Sealer(Protocol):
    """What a filed report is sealed with: the read side's figures for the region-year, the
    position they are as of and the digest of the history up to it (see
    ``projections.persisted.ReadModels.seal``). The application asks; it never imports the
    read side."""

    def seal(self, app: GrantLedger, grant_id: str, region: str, year: int
             ) -> tuple[dict[str, Amount], int, str]: ...


class Directory(Protocol):
    """The names the ledger knows, for a "did you mean" on an unknown one: ``kind`` is
    "grant" or "decision" (of ``grant_id``). The read side answers (see
    ``projections.lookup``); it must never fail, only know nothing."""

    def known(self, kind: str, grant_id: str | None = None) -> list[str]: ...


def open_ledger(target: str, must_exist: bool = False) -> GrantLedger:
    """Open the ledger at an SQLite path or PostgreSQL URL (see :func:`open_store`)."""
    return open_store(GrantLedger, target, must_exist)


class GrantLedger(VoucherLookups, Reclaiming, StoredLedger):
    """The grant ledger: records grant events, enforcing every rule through its aggregates."""

    name = "grants"
    # the current moment; tests replace it. Its day in Sweden is the recording day the date
    # rules compare with (see ledger.clock)
    clock: Callable[[], datetime.datetime] = staticmethod(clock.now)

    def today(self) -> datetime.date:
        """The recording day: nothing recorded now may be dated after it."""
        return clock.recorded_day(self.clock())

    # who suggests the closest known names when a grant or decision is unknown (None: nobody)
    directory: Directory | None = None

    def _guess(self, word: str, kind: str, grant_id: str | None = None) -> str:
        """"did you mean ...?" from the directory's names, or "" (never an error of its own)."""
        try:
            return did_you_mean(word, self.directory.known(kind, grant_id)) if self.directory else ""
        except Exception:  # noqa: BLE001 (a suggestion is a courtesy: the error stays the one raised)
            return ""

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self._get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def grant(self, grant_id: str) -> Grant:
        try:
            return self._get(grant_uuid(grant_id))
        except AggregateNotFoundError:
            raise NotFound(unknown_grant_message(grant_id, self._guess(grant_id, "grant"))) from None

    def region_year(self, grant_id: str, region: str, year: int, recorded_by: str = "") -> RegionYear:
        """The region's year, new (not yet saved) when nothing was recorded for it yet."""
        try:
            return self._get(region_year_uuid(grant_id, region, year))
        except AggregateNotFoundError:
            return RegionYear(grant_id=grant_id, region=region, year=year, recorded_by=recorded_by)

    def decision(self, grant_id: str, decision_id: str, suggest: bool = True) -> Decision:
        """The decision; unknown, NotFound naming the closest known ids (unless not ``suggest``:
        a batch that reports many unknown ids at once)."""
        try:
            return self._get(decision_uuid(grant_id, decision_id))
        except AggregateNotFoundError:
            guess = self._guess(decision_id, "decision", grant_id) if suggest else ""
            raise NotFound(f"unknown decision {decision_id!r} in {grant_id}"
                           + (f" ({guess})" if guess else "")) from None

    # ------------------------------------------------------------------ the grant

    @retried
    def define_grant(
        self, grant_id: str, name: str, first_year: int, last_year: int,
        purposes: list[list[str]], category: str, accounting_object: str, recorded_by: str,
    ) -> bool:
        """Define a grant; the same definition again records nothing."""
        if self._exists(grant_uuid(grant_id)):
            grant = self.grant(grant_id)
            if grant.same_definition(name, first_year, last_year, purposes, category, accounting_object):
                return False
            raise Duplicate(f"grant {grant_id!r} is already defined with other content")
        self.save(
            Grant.define(grant_id, name, first_year, last_year, purposes, category,
                         accounting_object, recorded_by)
        )
        return True

    @retried
    def sign_agreement(self, grant_id: str, terms: Agreement, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        recorded = grant.sign_agreement(terms, recorded_by)
        self.save(grant)
        return recorded

    @retried
    def set_region_object(self, grant_id: str, region: str, object: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        if not grant.set_region_object(region, object, recorded_by):
            return False
        self.save(grant)
        return True

    @retried
    def authorise(self, grant_id: str, region: str, person: str, role: str,
                  valid_from: datetime.date | None, valid_until: datetime.date | None,
                  recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        recorded = grant.authorise(region, person, role, valid_from, valid_until, recorded_by)
        self.save(grant)
        return recorded

    @retried
    def deauthorise(self, grant_id: str, region: str, person: str, ends_from: datetime.date,
                    recorded_by: str) -> bool:
        """End a person's authority for a region from a day on; nothing to end records nothing."""
        grant = self.grant(grant_id)
        recorded = grant.deauthorise(region, person, ends_from, recorded_by)
        self.save(grant)
        return recorded

    # ------------------------------------------------------------------ funds

    @retried
    def allocate(self, grant_id: str, year: int, pot: str, shares: dict[str, Amount],
                 source: str, recorded_by: str) -> int:
        """Allocate shares of a pot to regions, all in one atomic write; returns how many were new."""
        grant = self.grant(grant_id)
        grant.check_pot(year, pot)
        touched = []
        for region, amount in shares.items():
            region_year = self.region_year(grant_id, region, year, recorded_by)
            if region_year.allocate(pot, amount, source, recorded_by):
                touched.append(region_year)
        grant.allocate(year, pot, {ry.region: Amount(ry.allocations[pot]) for ry in touched}, recorded_by)
        self.save(grant, *touched)
        return len(touched)

    def apportion(self, grant_id: str, year: int, pot: str, amount: Amount | None,
                  populations: dict[str, int]) -> dict[str, Amount]:
        """Shares of the pot (or of ``amount``) by population; records nothing."""
        agreement = self.grant(grant_id).check_pot(year, pot)
        return apportion(amount if amount is not None else agreement.pot_amount(pot), populations)

    @retried
    def set_frame(self, grant_id: str, region: str, year: int, amount: Amount,
                  on: datetime.date | None, recorded_by: str, ref: str = "") -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.set_frame(amount, on, recorded_by, ref):
            return False
        self.save(region_year)
        return True

    @retried
    def requisition(self, grant_id: str, region: str, year: int, pot: str, amount: Amount,
                    on: datetime.date, ref: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if ref not in region_year.refs:  # a retry records nothing, whatever the deadline
            rules.may_requisition(grant, year, pot, on)
        if not region_year.requisition(pot, amount, on, ref, recorded_by):
            return False
        self.save(region_year)
        return True

    @retried
    def reserve(self, grant_id: str, region: str, year: int, amount: Amount, purpose: str,
                on: datetime.date, ref: str, recorded_by: str) -> bool:
        rules.may_reserve(self.grant(grant_id), year, purpose)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.reserve(purpose, amount, on, ref, recorded_by):
            return False
        self.save(region_year)
        return True

    @retried
    def pay(self, grant_id: str, region: str, year: int, pot: str, amount: Amount, on: datetime.date,
            ref: str, recorded_by: str) -> bool:
        """Record a payment of the payer's against the region's requisitions of a pot."""
        self.grant(grant_id).check_pot(year, pot)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.pay(pot, amount, on, ref, recorded_by):
            return False
        self.save(region_year)
        return True

    @retried
    def repay(self, grant_id: str, region: str, year: int, amount: Amount, on: datetime.date,
              ref: str, recorded_by: str, pot: str | None = None) -> bool:
        grant = self.grant(grant_id)
        agreement = grant.agreement(year)
        if pot is None:
            open_pots = [p for p in agreement.pots if p not in agreement.earmarks]
            pot = (open_pots or list(agreement.pots))[0]
        grant.check_pot(year, pot)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.repay(pot, amount, on, ref, recorded_by):
            return False
        self.save(region_year)
        return True

    # ------------------------------------------------------------------ decisions

    def _commit_schedule(self, grant_id: str, decision: Decision, years: set[int],
                         on: datetime.date, recorded_by: str) -> list[RegionYear]:
        """Bring each year's commitment in line with the decision; the years check the rules."""
        touched = []
        for year in sorted(years):
            region_year = self.region_year(grant_id, decision.region, year, recorded_by)
            if region_year.set_commitment(decision.decision_id, decision.purpose,
                                          decision.committed_for(year), on, recorded_by):
                touched.append(region_year)
        return touched

    @retried
    def decide(self, grant_id: str, decision_id: str, region: str, terms: DecisionTerms,
               recorded_by: str) -> bool:
        """Record a decision and its commitments; an identical retry records nothing."""
        grant = self.grant(grant_id)
        if self._exists(decision_uuid(grant_id, decision_id)):
            existing = self.decision(grant_id, decision_id)
            named = grant.decider_name(region, terms.decided_by, terms.decided_on)
            if existing.same_decision(region, attrs.evolve(terms, decided_by=named)):
                return False
            raise Duplicate(f"decision {decision_id} already exists in {grant_id} with other content")
        decided_by = rules.may_decide(grant, region, terms.decided_by, terms.decided_on, terms.purpose,
                                      terms.schedule)
        decision = Decision.decide(grant_id, decision_id, region, attrs.evolve(terms, decided_by=decided_by),
                                   recorded_by, today=self.today())
        touched = self._commit_schedule(grant_id, decision, set(terms.schedule), terms.decided_on, recorded_by)
        self.save(decision, *touched)
        return True

    @retried
    def amend(self, grant_id: str, decision_id: str, schedule: dict[int, Amount], decided_by: str,
              on: datetime.date, reason: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        decision = self.decision(grant_id, decision_id)
        decided_by = rules.may_change(grant, decision, decided_by, on, schedule)
        old_years = set(decision.schedule)
        if not decision.amend(schedule, decided_by, on, reason, recorded_by, today=self.today()):
            return False
        touched = self._commit_schedule(grant_id, decision, old_years | set(schedule), on, recorded_by)
        self.save(decision, *touched)
        return True

    @retried
    def revoke(self, grant_id: str, decision_id: str, decided_by: str, on: datetime.date,
               reason: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        decision = self.decision(grant_id, decision_id)
        decided_by = rules.may_change(grant, decision, decided_by, on)
        if not decision.revoke(decided_by, on, reason, recorded_by, today=self.today()):
            return False
        touched = self._commit_schedule(grant_id, decision, set(decision.years), on, recorded_by)
        self.save(decision, *touched)
        return True

    # ------------------------------------------------------------------ bookings

    @retried
    def spend(self, grant_id: str, decision_id: str, year: int, amount: Amount,
              booked_on: datetime.date, object: str, voucher: str, text: str,
              recorded_by: str) -> bool:
        """Book a cost (or, negative, a credit) on a decision, on ``object`` or else the object
        the decision's region books the grant on; the same voucher with the same content
        records nothing."""
        grant = self.grant(grant_id)
        decision = self.decision(grant_id, decision_id)
        taken = self.voucher_taken(grant_id, decision.region, voucher)
        if taken is not None and taken != decision_id:
            raise Duplicate(f"voucher {voucher} is already booked on decision {taken}")
        object = object or grant.object_for(decision.region)
        if not decision.has_voucher(voucher):
            rules.may_book(self.region_year(grant_id, decision.region, year, recorded_by), "book costs")
        if not decision.spend(voucher, year, amount, booked_on, object, text, recorded_by,
                              today=self.today(), carry_over=rules.carries_over(grant, year)):
            return False
        index = Voucher(grant_id=grant_id, voucher=index_key(decision.region, voucher), decision_id=decision_id,
                        recorded_by=recorded_by)
        self.save(decision, index)
        return True

    @retried
    def book_all(self, grant_id: str, region: str, entries: Sequence[Entry], recorded_by: str,
                 record: bool = True) -> Booked:
        """Book many costs and credits in one atomic write, or none (see :mod:`ledger.books`)."""
        return book_all(self, grant_id, region, entries, recorded_by, record)

    @retried
    def reverse(self, grant_id: str, voucher: str, on: datetime.date, reason: str,
                recorded_by: str, region: str | None = None) -> bool:
        self.grant(grant_id)
        decision = self.decision_of_voucher(grant_id, voucher, region)
        booking = decision.booking(voucher)
        if not booking.is_reversed:
            rules.may_book(self.region_year(grant_id, decision.region, booking.year, recorded_by),
                           "reverse a booking")
        if not decision.reverse(voucher, on, reason, recorded_by, today=self.today()):
            return False
        touched = self._commit_schedule(grant_id, decision, {booking.year}, on, recorded_by)
        self.save(decision, *touched)
        return True

    # ------------------------------------------------------------------ report and close

    @retried
    def report(self, grant_id: str, region: str, year: int, filed_on: datetime.date,
               covers: list[str], patient_units: bool | None, employee_reps: bool | None,
               to: str | None, ref: str, recorded_by: str,
               sealer: Sealer | None = None, content: ReportContent | None = None) -> bool:
        """File the year's report (with its ``content``: measures, involvement, continuation,
        responsible), sealed by ``sealer`` (the read side) with the figures it reports and the
        history's position and digest, taken just before the write (again on a retry, so a
        seal is never older than the state it is filed on)."""
        agreement = rules.may_report(self.grant(grant_id), year, covers)
        if to is None:
            to = agreement.report_to
        region_year = self.region_year(grant_id, region, year, recorded_by)
        figures, position, digest = sealer.seal(self, grant_id, region, year) if sealer else ({}, 0, "")
        recorded = region_year.file_report(filed_on, to, covers, patient_units, employee_reps,
                                           ref, recorded_by, figures, position, digest,
                                           today=self.today(), content=content)
        if recorded:
            self.save(region_year)
        return recorded

    @retried
    def close_year(self, grant_id: str, region: str, year: int, on: datetime.date,
              recorded_by: str) -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.close(on, recorded_by):
            return False
        self.save(region_year)
        return True

    @retried
    def reopen_year(self, grant_id: str, region: str, year: int, on: datetime.date, reason: str,
               recorded_by: str) -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.reopen(on, reason, recorded_by):
            return False
        self.save(region_year)
        return True
