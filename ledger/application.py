"""The application service: one method per recording command.

Each method loads the aggregates it needs, asks them to act (they check the rules),
and saves every touched aggregate in one atomic write. A write that collides with a
concurrent writer is retried from a fresh load after a jittered pause, within a time
budget, then reported as :class:`ledger.errors.Conflict`. Nothing here knows about the command line.
"""

from __future__ import annotations

import datetime
import functools
import os
import random
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import (
    JSONTranscoder, Mapper, PersistenceError, RecordConflictError, StoredEvent, Transcoding,
)

from ledger import clock
from ledger.apportion import apportion
from ledger.budget import RegionYear, region_year_uuid
from ledger.decision import Decision, Voucher, decision_uuid, voucher_uuid
from ledger.errors import Conflict, Corrupt, Duplicate, LedgerError, Malformed, NotFound
from ledger.events import CATALOGUE, advance, fault
from ledger.grant import Grant, grant_uuid
from ledger.stores import ServerFacts, SQLiteClaim, check_postgres, claim_sqlite
from ledger.values import Amount

A = TypeVar("A")


class DateAsISO(Transcoding):
    """Stores a :class:`datetime.date` as its ISO string."""

    type = datetime.date
    name = "date_iso"

    def encode(self, obj: datetime.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> datetime.date:
        return datetime.date.fromisoformat(data)


class CheckedMapper(Mapper):
    """Turns stored rows into the ledger's own events only (see :mod:`ledger.events`).

    The library's mapper would import whatever module a stored topic names and accept
    whatever fields the stored JSON holds; this one looks the topic up in the ledger's
    catalogue and checks every field's name and type first. A row that fails is
    :class:`Corrupt` (the caller names its position).
    """

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = CATALOGUE.get(stored_event.topic)
        if cls is None:
            raise Corrupt(f"its topic {str(stored_event.topic)[:60]!r} is not one of the ledger's events")
        try:
            state = self.transcoder.decode(stored_event.state)
        except Exception as e:  # not JSON, not UTF-8, an unknown tag, nesting beyond reason
            raise Corrupt(f"its stored state is not readable ({type(e).__name__})") from None
        if type(state) is not dict:
            raise Corrupt("its stored state is not an object")
        wrong = fault(cls, state)
        if wrong:
            raise Corrupt(f"its fields do not fit {stored_event.topic}: {wrong}")
        if type(stored_event.originator_version) is not int or stored_event.originator_version < 1:
            raise Corrupt("its version is not a positive whole number")
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, UUID):
            try:
                originator_id = UUID(str(originator_id))
            except ValueError:
                raise Corrupt("it names no valid aggregate") from None
        state["originator_id"] = originator_id
        state["originator_version"] = stored_event.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event


def store_env(target: str) -> dict[str, str]:
    """The eventsourcing environment for a store: an SQLite file path or a postgresql:// URL.

    A URL may name a schema (which must exist): ``postgresql://u@h:5432/db?schema=grants``.
    """
    from urllib.parse import parse_qs, unquote, urlsplit

    if target.startswith(("postgresql://", "postgres://")):
        url = urlsplit(target)
        dbname = url.path.lstrip("/")
        if not dbname:
            raise Malformed(f"--db {target!r} names no database (postgresql://user@host:port/dbname)")
        try:
            port = url.port or 5432
        except ValueError:
            raise Malformed(f"--db {target!r} has an invalid port") from None
        schema = parse_qs(url.query).get("schema", [""])[0]
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(port),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "2",
        }
    if "://" in target:
        raise Malformed(f"--db {target!r}: give an SQLite file path or a postgresql:// URL")
    if not target.strip():
        raise Malformed("--db is empty: give an SQLite file path or a postgresql:// URL")
    if ":memory:" in target or "mode=memory" in target:
        raise Malformed(f"--db {target!r} is not a file path (an in-memory database keeps nothing)")
    if target.lower().startswith("file:"):
        target = os.path.join(".", target)  # a file named file:…, not an SQLite URI
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": target}


CONTENTION = ("concurrently updated", "deadlock", "database is locked", "could not serialize",
              "lock timeout", "canceling statement due to lock")


def is_contention(error: BaseException) -> bool:
    """A store error caused by another writer, worth retrying (not a broken store)."""
    return isinstance(error, RecordConflictError) or (
        isinstance(error, PersistenceError) and any(c in str(error).lower() for c in CONTENTION)
    )


def backoff(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential back-off: a random pause up to ``base * 2**attempt`` (at most
    ``cap``), so writers that collided spread out instead of colliding again in step."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt, 30)))


def command(method: Callable[..., A]) -> Callable[..., A]:
    """Run a command; on a concurrent-write conflict, reload and retry after a jittered
    pause, for as long as the ledger's retry budget lasts, then give up (Conflict)."""

    @functools.wraps(method)
    def wrapper(self: GrantLedger, *args: Any, **kwargs: Any) -> A:
        deadline = time.monotonic() + self.retry_budget
        attempt = 0
        while True:
            try:
                return method(self, *args, **kwargs)
            except PersistenceError as e:
                if not is_contention(e):
                    raise
            pause = backoff(attempt, self.retry_base, self.retry_cap)
            attempt += 1
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
        raise Conflict(
            f"another writer kept changing the same data; gave up after {attempt} attempts in "
            f"{self.retry_budget:g} s and recorded nothing"
        )

    return wrapper


def open_ledger(target: str, must_exist: bool = False) -> GrantLedger:
    """Open the ledger at an SQLite path or PostgreSQL URL.

    Nothing is written to a store before it is known to be a ledger (see
    :func:`claim_sqlite` and :func:`check_postgres`): an existing file or schema that
    is not one is refused (Malformed) and left exactly as it was. With ``must_exist``,
    a store that holds no ledger yet is an error rather than a new, empty ledger
    (queries never create one). Opening races with another process that is creating
    the tables are retried like a command's write (see :func:`command`).
    """
    env = store_env(target)
    claim = None
    facts = None
    if env["PERSISTENCE_MODULE"].endswith("sqlite"):
        claim = claim_sqlite(env["SQLITE_DBNAME"], target, must_exist)
    else:
        facts = check_postgres(env, must_exist)
        if facts.has_events:  # a role that may not create tables can still use them
            env["CREATE_TABLE"] = "no"
    attempt = 0
    deadline = time.monotonic() + GrantLedger.retry_budget
    try:
        while True:
            try:
                ledger = GrantLedger(env=env)
                ledger._claim = claim
                ledger.server = facts
                return ledger
            except PersistenceError as e:
                pause = backoff(attempt, GrantLedger.retry_base, GrantLedger.retry_cap)
                attempt += 1
                if not is_contention(e) or time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
    except BaseException:
        if claim is not None:
            claim.release()
        raise


def _strictly(aggregate: Any, events: Iterator[Any]) -> Any:
    """Replay an aggregate's events, each its next version (see :func:`ledger.events.advance`)."""
    for event in events:
        aggregate = advance(aggregate, event, 0)
    return aggregate


class GrantLedger(Application):
    """The grant ledger: records grant events, enforcing every rule through its aggregates."""

    name = "grants"
    # Retrying a write that collided with another writer: pauses drawn by `backoff` from
    # `retry_base` seconds doubling up to `retry_cap`, for at most `retry_budget` seconds.
    retry_budget = 20.0
    retry_base = 0.01
    retry_cap = 0.5
    _claim: SQLiteClaim | None = None
    server: ServerFacts | None = None  # on PostgreSQL: the authenticated role and its rights
    # the current moment; tests replace it. Its day in Sweden is the recording day the date
    # rules compare with (see ledger.clock)
    clock: Callable[[], datetime.datetime] = staticmethod(clock.now)

    def today(self) -> datetime.date:
        """The recording day: nothing recorded now may be dated after it."""
        return clock.recorded_day(self.clock())

    def close(self) -> None:
        """Close the store, then let go of the ledger file (see :class:`SQLiteClaim`)."""
        try:
            super().close()
        finally:
            claim, self._claim = self._claim, None
            if claim is not None:
                claim.release()

    def abandon(self) -> None:
        """The command using this ledger failed: if it created the SQLite file and nothing
        was recorded, the file is removed again when the ledger is closed."""
        if self._claim is not None:
            self._claim.remove_on_release = True

    def construct_mapper(self) -> Mapper:
        return CheckedMapper(transcoder=self.construct_transcoder())

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # ------------------------------------------------------------------ loading

    def _get(self, aggregate_id: UUID) -> Any:
        """An aggregate from its stored events; a history that does not replay is Corrupt."""
        try:
            return self.repository.get(aggregate_id, projector_func=_strictly)
        except (AggregateNotFoundError, LedgerError):
            raise
        except Exception:
            raise self._fault(aggregate_id) from None

    def _fault(self, aggregate_id: UUID) -> Corrupt:
        """Why an aggregate's stored events do not replay, naming the position that fails."""
        table = self.recorder.events_table_name
        postgres = "postgres" in type(self.recorder).__module__
        mark = "%s" if postgres else "?"
        key = aggregate_id if postgres else aggregate_id.hex
        position_column = "notification_id" if postgres else "rowid"
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT {position_column}, originator_version, topic, state FROM {table} "
                           f"WHERE originator_id = {mark} ORDER BY originator_version", (key,))
            rows = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in cursor.fetchall()]
        aggregate = None
        for position, version, topic, state in rows:
            stored = StoredEvent(originator_id=aggregate_id, originator_version=version, topic=topic,
                                 state=bytes(state))
            try:
                aggregate = advance(aggregate, self.decode(stored, position), position)
            except Corrupt as e:
                return e
        return Corrupt(f"the stored events of aggregate {aggregate_id} do not replay; the stored "
                       "history was altered (see grants verify)")

    def _load(self, aggregate_id: UUID, missing: str) -> Any:
        try:
            return self._get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(missing) from None

    def _exists(self, aggregate_id: UUID) -> bool:
        try:
            self._get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def grant(self, grant_id: str) -> Grant:
        return self._load(grant_uuid(grant_id), f"unknown grant {grant_id!r} (define it with 'grants grant define')")

    def region_year(self, grant_id: str, region: str, year: int, recorded_by: str = "") -> RegionYear:
        """The region's year, new (not yet saved) when nothing was recorded for it yet."""
        try:
            return self._get(region_year_uuid(grant_id, region, year))
        except AggregateNotFoundError:
            return RegionYear(grant_id=grant_id, region=region, year=year, recorded_by=recorded_by)

    def decision(self, grant_id: str, decision_id: str) -> Decision:
        return self._load(
            decision_uuid(grant_id, decision_id), f"unknown decision {decision_id!r} in {grant_id}"
        )

    def decision_of_voucher(self, grant_id: str, voucher: str) -> Decision:
        index = self._load(voucher_uuid(grant_id, voucher), f"unknown voucher {voucher!r} in {grant_id}")
        return self.decision(grant_id, index.decision_id)

    # ------------------------------------------------------------------ the grant

    @command
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

    @command
    def sign_agreement(self, grant_id: str, year: int, **fields: Any) -> bool:
        grant = self.grant(grant_id)
        recorded = grant.sign_agreement(year=year, **fields)
        self.save(grant)
        return recorded

    @command
    def authorise(self, grant_id: str, region: str, person: str, role: str,
                  valid_from: datetime.date | None, valid_until: datetime.date | None,
                  recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        recorded = grant.authorise(region, person, role, valid_from, valid_until, recorded_by)
        self.save(grant)
        return recorded

    @command
    def deauthorise(self, grant_id: str, region: str, person: str, ends_from: datetime.date,
                    recorded_by: str) -> bool:
        """End a person's authority for a region from a day on; nothing to end records nothing."""
        grant = self.grant(grant_id)
        recorded = grant.deauthorise(region, person, ends_from, recorded_by)
        self.save(grant)
        return recorded

    # ------------------------------------------------------------------ funds

    @command
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

    @command
    def set_frame(self, grant_id: str, region: str, year: int, amount: Amount,
                  on: datetime.date | None, recorded_by: str, ref: str = "") -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.set_frame(amount, on, recorded_by, ref):
            return False
        self.save(region_year)
        return True

    @command
    def requisition(self, grant_id: str, region: str, year: int, pot: str, amount: Amount,
                    on: datetime.date, ref: str, recorded_by: str) -> bool:
        self.grant(grant_id).check_pot(year, pot)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.requisition(pot, amount, on, ref, recorded_by):
            return False
        self.save(region_year)
        return True

    @command
    def reserve(self, grant_id: str, region: str, year: int, amount: Amount, purpose: str,
                on: datetime.date, ref: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        grant.check_year(year)
        grant.check_purpose(purpose)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.reserve(purpose, amount, on, ref, recorded_by):
            return False
        self.save(region_year)
        return True

    @command
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

    @command
    def decide(self, grant_id: str, decision_id: str, region: str, decided_by: str,
               on: datetime.date, area: str, activity: str, purpose: str,
               schedule: dict[int, Amount], continuation: str, ref: str, recorded_by: str) -> bool:
        """Record a decision and its commitments; an identical retry records nothing."""
        grant = self.grant(grant_id)
        if self._exists(decision_uuid(grant_id, decision_id)):
            existing = self.decision(grant_id, decision_id)
            if existing.same_decision(region, grant.decider_name(region, decided_by, on), on, area,
                                      activity, purpose, schedule, continuation, ref):
                return False
            raise Duplicate(f"decision {decision_id} already exists in {grant_id} with other content")
        grant.check_purpose(purpose)
        for year in schedule:
            grant.check_year(year)
        decided_by = grant.check_decider(region, decided_by, on)
        decision = Decision.decide(grant_id, decision_id, region, decided_by, on, area, activity,
                                   purpose, schedule, continuation, ref, recorded_by,
                                   today=self.today())
        touched = self._commit_schedule(grant_id, decision, set(schedule), on, recorded_by)
        self.save(decision, *touched)
        return True

    @command
    def amend(self, grant_id: str, decision_id: str, schedule: dict[int, Amount], decided_by: str,
              on: datetime.date, reason: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        decision = self.decision(grant_id, decision_id)
        for year in schedule:
            grant.check_year(year)
        decided_by = grant.check_decider(decision.region, decided_by, on)
        old_years = set(decision.schedule)
        if not decision.amend(schedule, decided_by, on, reason, recorded_by, today=self.today()):
            return False
        touched = self._commit_schedule(grant_id, decision, old_years | set(schedule), on, recorded_by)
        self.save(decision, *touched)
        return True

    @command
    def revoke(self, grant_id: str, decision_id: str, decided_by: str, on: datetime.date,
               reason: str, recorded_by: str) -> bool:
        grant = self.grant(grant_id)
        decision = self.decision(grant_id, decision_id)
        decided_by = grant.check_decider(decision.region, decided_by, on)
        if not decision.revoke(decided_by, on, reason, recorded_by, today=self.today()):
            return False
        touched = self._commit_schedule(grant_id, decision, set(decision.years), on, recorded_by)
        self.save(decision, *touched)
        return True

    # ------------------------------------------------------------------ bookings

    @command
    def spend(self, grant_id: str, decision_id: str, year: int, amount: Amount,
              booked_on: datetime.date, object: str, voucher: str, text: str,
              recorded_by: str) -> bool:
        """Book a cost on a decision; the same voucher with the same content records nothing."""
        self.grant(grant_id)
        if self._exists(voucher_uuid(grant_id, voucher)):
            booked_on_decision = self.decision_of_voucher(grant_id, voucher)
            if booked_on_decision.decision_id != decision_id:
                raise Duplicate(
                    f"voucher {voucher} is already booked on decision {booked_on_decision.decision_id}"
                )
        decision = self.decision(grant_id, decision_id)
        if voucher not in decision.bookings:
            self.region_year(grant_id, decision.region, year, recorded_by).check_open("book costs")
        if not decision.spend(voucher, year, amount, booked_on, object, text, recorded_by,
                              today=self.today()):
            return False
        index = Voucher(grant_id=grant_id, voucher=voucher, decision_id=decision_id,
                        recorded_by=recorded_by)
        self.save(decision, index)
        return True

    @command
    def reverse(self, grant_id: str, voucher: str, on: datetime.date, reason: str,
                recorded_by: str) -> bool:
        self.grant(grant_id)
        decision = self.decision_of_voucher(grant_id, voucher)
        booking = decision.booking(voucher)
        if not booking.is_reversed:
            self.region_year(grant_id, decision.region, booking.year, recorded_by).check_open("reverse a booking")
        if not decision.reverse(voucher, on, reason, recorded_by, today=self.today()):
            return False
        touched = self._commit_schedule(grant_id, decision, {booking.year}, on, recorded_by)
        self.save(decision, *touched)
        return True

    # ------------------------------------------------------------------ report and close

    @command
    def report(self, grant_id: str, region: str, year: int, filed_on: datetime.date,
               covers: list[str], patient_units: bool | None, employee_reps: bool | None,
               to: str | None, ref: str, recorded_by: str,
               seal: Callable[[], tuple[dict[str, Amount], int, str]] | None = None) -> bool:
        """File the year's report; ``seal`` gives the figures it reports and the history's
        position and digest (computed by the read side just before the write)."""
        grant = self.grant(grant_id)
        agreement = grant.agreement(year)
        for purpose in covers:
            grant.check_purpose(purpose)
        if to is None:
            to = agreement.report_to
        region_year = self.region_year(grant_id, region, year, recorded_by)
        figures, position, digest = seal() if seal else ({}, 0, "")
        recorded = region_year.file_report(filed_on, to, covers, patient_units, employee_reps,
                                           ref, recorded_by, figures, position, digest,
                                           today=self.today())
        if recorded:
            self.save(region_year)
        return recorded

    @command
    def close_year(self, grant_id: str, region: str, year: int, on: datetime.date,
              recorded_by: str) -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.close(on, recorded_by):
            return False
        self.save(region_year)
        return True

    @command
    def reopen_year(self, grant_id: str, region: str, year: int, on: datetime.date, reason: str,
               recorded_by: str) -> bool:
        self.grant(grant_id).check_year(year)
        region_year = self.region_year(grant_id, region, year, recorded_by)
        if not region_year.reopen(on, reason, recorded_by):
            return False
        self.save(region_year)
        return True

    # ------------------------------------------------------------------ reading the log

    def read(self, stop: int | None = None, batch: int = 5000, start: int = 1,
             topics: tuple[str, ...] = ()) -> Iterator[tuple[Any, Any]]:
        """Every stored event in recording order, as (notification, domain event).

        ``start`` is the first position to include, ``stop`` the last (None: everything);
        ``topics``, when given, keeps only events with those topics.
        """
        while True:
            notifications = self.recorder.select_notifications(
                start=start, limit=batch, stop=stop, topics=topics)
            for notification in notifications:
                yield notification, self.decode(notification, notification.id)
            if len(notifications) < batch:
                return
            start = notifications[-1].id + 1

    def decode(self, stored: Any, position: int) -> Any:
        """A stored event as a domain event; one that cannot be read back is Corrupt."""
        try:
            return self.mapper.to_domain_event(stored)
        except Exception as e:  # undecodable bytes, an unknown topic, a missing field
            detail = str(e) if isinstance(e, Corrupt) else type(e).__name__
            raise Corrupt(f"the stored event at position {position} cannot be read back ({detail}); "
                          "the stored history was altered (see grants verify)") from None

    def last_position(self) -> int:
        return self.recorder.max_notification_id() or 0

