"""The read side's one door: every question the command line and the web view ask of a
ledger, for "now" or "as of" a moment or position.

"Now" is answered from the persisted read models, brought up to date with the log first
(a role that may not write them reads them as they are when they are current, or builds
its own aside in a scratch SQLite file when they are behind). "As of" is answered from
the aggregates as they stood at the cut, in whole commands (``projections.bounds``): kept
states and their own events, read from the read models (the same answer as the fold of the
log's prefix, ``view``, which the tests compare it with). Either way an
:class:`Answer` says what a limit did (``notes``) and whether the grant had nothing
recorded by then (``empty_then``), so each caller says it its own way.

It knows no command line and prints nothing; the ledger it reads is opened by the caller.
"""

from __future__ import annotations

import datetime
import importlib
import os
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import attrs

from ledger.errors import NotFound, did_you_mean, unknown_grant_message
from ledger.ids import grant_uuid
from projections.persisted import ReadModels

if TYPE_CHECKING:  # annotations only
    from ledger.application import GrantLedger
    from projections.fold import LedgerView


def _on_call(target: str) -> Callable[..., Any]:
    """The function (or class) ``module:name``, imported when first called: a question the
    read models answer (balances for now) never loads the fold, the aggregates and the
    event library that the others need."""
    module, _, name = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    return call


reclaim_rows, year_end_rows = _on_call("projections.debts:reclaim_rows"), _on_call("projections.debts:year_end_rows")
budget_rows = _on_call("projections.budget:budget_rows")
until_balances = _on_call("projections.budget:until_balances")
until_commitments = _on_call("projections.budget:until_commitments")
filed_vs_now, upto = _on_call("projections.audit:filed_vs_now"), _on_call("projections.audit:upto")
authorisation_rows = _on_call("projections.authority:authorisation_rows")
balance_rows = _on_call("projections.balances:balance_rows")
Cut = _on_call("projections.bounds:Cut")
commitment_rows = _on_call("projections.commitments:commitment_rows")
compliance_rows = _on_call("projections.compliance:compliance_rows")
entries_of, fold = _on_call("projections.fold:entries_of"), _on_call("projections.fold:fold")
history_row, history_rows = _on_call("projections.history:history_row"), _on_call("projections.history:history_rows")
decision_detail = _on_call("projections.catalog:decision_detail")
decision_rows = _on_call("projections.catalog:decision_rows")
grant_detail, grant_rows = _on_call("projections.catalog:grant_detail"), _on_call("projections.catalog:grant_rows")
decision_events = _on_call("projections.lookup:decision_events")
grants_view = _on_call("projections.lookup:grants_view")
kept = _on_call("projections.lookup:kept")
known_names = _on_call("projections.lookup:known_names")
region_year_events = _on_call("projections.lookup:region_year_events")
own_history = _on_call("projections.lookup:own_history")
cut_log = _on_call("projections.persisted.fastaudit:cut_log")
audit_year = _on_call("projections.persisted.fastaudit:audit_year")


@attrs.frozen
class Answer:
    """What a question gave: its rows (or an audit's result), what a --position or --as-of
    limit did, and whether nothing of the grant was recorded by then (at ``position``)."""

    rows: Any
    notes: tuple[str, ...] = ()
    empty_then: bool = False
    position: int | None = None


def unknown_grant(grant_id: str, known: list[str] | tuple[str, ...] = ()) -> NotFound:
    return NotFound(unknown_grant_message(grant_id, did_you_mean(grant_id, known)))


class Reader:
    """Questions about one ledger; ``close`` releases what answering opened."""

    def __init__(self, app: GrantLedger, target: str) -> None:
        self.app = app
        self.target = target
        self._closing = ExitStack()
        self._models: ReadModels | None = None

    def close(self) -> None:
        self._closing.close()

    # ------------------------------------------------------------------ now and then

    def models(self) -> ReadModels:
        """The persisted read models, up to date with the log (opened once)."""
        if self._models is None:
            models = ReadModels(self.target)
            self._closing.callback(models.close)
            if models.writable or models.position() >= models.last_stored():
                models.catch_up(self.app)
            else:  # a read-only role, and the read models are behind: build them aside
                scratch = self._closing.enter_context(tempfile.TemporaryDirectory(prefix="grants-read-"))
                models = ReadModels(self.target, aside=os.path.join(scratch, "read-models.sqlite"))
                self._closing.callback(models.close)
                models.catch_up(self.app, helper=False)
            self._models = models
        return self._models

    def view(self, position: int | None = None, as_of: datetime.datetime | None = None,
             keep_entries: bool = False) -> tuple[LedgerView, Any]:
        """The fold of the log, or of its prefix up to a position or a moment, in whole
        commands; the cut says what the limit did."""
        cut = Cut()
        view = fold(upto(entries_of(self.app), position, as_of, cut), keep_entries=keep_entries)
        return view, cut

    def ask(self, grant_id: str, position: int | None, as_of: datetime.datetime | None,
            now: Callable[[ReadModels], Any], then: Callable[[LedgerView], Any],
            region: str | None = None, year: int | None = None, spent_only: bool = False) -> Answer:
        """``now`` of the read models when no limit is given, else ``then`` of the ledger as it
        stood at the limit, in whole commands.

        ``then`` is given the grant and the region-years and decisions of ``region`` (or all)
        and ``year`` (or all; a year's decisions are those that ever had money in it) as they
        stood at the cut (``then_view``): the same answer as the fold of the whole prefix
        (``view``), read from the persisted read models (with ``spent_only``, what the
        decisions had spent instead of the decisions: enough for balances). As of a moment
        or position before the grant's first recording the answer is empty (no rows,
        ``empty_then``); a grant that does not exist now is unknown (NotFound).
        """
        if position is None and as_of is None:
            models = self.models()
            if not models.has_grant(grant_id):
                raise unknown_grant(grant_id, self.known("grant"))
            return Answer(now(models))
        view, cut = self.then_view(grant_id, region, year, position, as_of, spent_only)
        notes = tuple(cut.notes())
        if grant_id not in view.grants:
            self.app.grant(grant_id)  # NotFound when it is not recorded now either
            return Answer([], notes, empty_then=True, position=view.position)
        return Answer(then(view), notes)

    def then_view(self, grant_id: str, region: str | None, year: int | None, position: int | None,
                  as_of: datetime.datetime | None, spent_only: bool = False) -> tuple[LedgerView, Cut]:
        """The grant's aggregates of one region and year (or all) as they stood at a position or
        moment, in whole commands (``persisted.cut_log``), from the read models' kept states and
        each changed aggregate's own events: what ``view`` folds from the whole prefix, read in
        time bounded by what it holds."""
        models = self.models()
        cut = Cut()
        reached, _, _ = cut_log(models, self.app, position, as_of, cut)
        return models.view_at(self.app, grant_id, region, year, reached, spent_only), cut

    # ------------------------------------------------------------------ the questions

    def balances(self, grant_id: str, region: str | None = None, year: int | None = None, *,
                 position: int | None = None, as_of: datetime.datetime | None = None,
                 until: datetime.date | None = None) -> Answer:
        if until is not None:  # spent by the bookings' own dates
            return self.ask(grant_id, position, as_of,
                            lambda models: until_balances(models.balance_rows(grant_id, region, year),
                                                          models.view_for(grant_id, region, year), grant_id, until),
                            lambda view: until_balances(balance_rows(view, grant_id, region, year), view,
                                                        grant_id, until), region, year)
        return self.ask(grant_id, position, as_of,
                        lambda models: models.balance_rows(grant_id, region, year),
                        lambda view: balance_rows(view, grant_id, region, year), region, year, spent_only=True)

    def commitments(self, grant_id: str, region: str | None = None, year: int | None = None, *,
                    position: int | None = None, as_of: datetime.datetime | None = None,
                    until: datetime.date | None = None) -> Answer:
        if until is not None:  # decisions taken and bookings dated by then
            return self.ask(grant_id, position, as_of,
                            lambda models: until_commitments(models.commitment_rows(grant_id, region, year),
                                                             models.view_for(grant_id, region, year), grant_id,
                                                             until),
                            lambda view: until_commitments(commitment_rows(view, grant_id, region, year), view,
                                                           grant_id, until), region, year)
        return self.ask(grant_id, position, as_of,
                        lambda models: models.commitment_rows(grant_id, region, year),
                        lambda view: commitment_rows(view, grant_id, region, year), region, year)

    def budget(self, grant_id: str, year: int, region: str | None = None, by: str = "decision",
               period: str | None = None, until: datetime.date | None = None, *, position: int | None = None,
               as_of: datetime.datetime | None = None) -> Answer:
        return self.ask(grant_id, position, as_of,
                        lambda models: budget_rows(models.view_for(grant_id, region, year), grant_id, year,
                                                   region, by, period, until),
                        lambda view: budget_rows(view, grant_id, year, region, by, period, until),
                        region, year)

    def compliance(self, grant_id: str, day: datetime.date, region: str | None = None,
                   year: int | None = None, *, position: int | None = None,
                   as_of: datetime.datetime | None = None) -> Answer:
        return self.ask(grant_id, position, as_of,
                        lambda models: compliance_rows(models.view_for(grant_id, region, year), grant_id,
                                                       day, region, year),
                        lambda view: compliance_rows(view, grant_id, day, region, year), region, year)

    def reclaims(self, grant_id: str, day: datetime.date, region: str | None = None,
                 year: int | None = None, *, position: int | None = None,
                 as_of: datetime.datetime | None = None) -> Answer:
        return self.ask(grant_id, position, as_of,
                        lambda models: reclaim_rows(models.view_for(grant_id, region, year), grant_id,
                                                    day, region, year),
                        lambda view: reclaim_rows(view, grant_id, day, region, year), region, year)

    def year_end(self, grant_id: str, year: int, region: str | None = None, *, position: int | None = None,
                 as_of: datetime.datetime | None = None) -> Answer:
        return self.ask(grant_id, position, as_of,
                        lambda models: year_end_rows(models.view_for(grant_id, region, year), grant_id,
                                                     region, year),
                        lambda view: year_end_rows(view, grant_id, region, year), region, year)

    def authorisations(self, grant_id: str, region: str | None = None, *, position: int | None = None,
                       as_of: datetime.datetime | None = None) -> Answer:
        return self.ask(grant_id, position, as_of,
                        lambda models: authorisation_rows(models.view_for(grant_id, region), grant_id, region),
                        lambda view: authorisation_rows(view, grant_id, region), region)

    def audit(self, grant_id: str, year: int, region: str | None, day: datetime.date, *,
              position: int | None = None, as_of: datetime.datetime | None = None) -> Answer:
        """One year's audit (``projections.audit``'s result), from the read models as of the
        cut; ``empty_then`` when nothing of the grant was recorded by then."""
        cut = Cut()
        answer = self.ask(grant_id, None, None,
                          lambda models: audit_year(models, self.app, grant_id, year, region, position,
                                                    as_of, day, cut),
                          lambda view: None)
        result = answer.rows
        return Answer(result, tuple(cut.notes()), empty_then=not result["recorded"], position=result["position"])

    def year_story(self, grant_id: str, year: int, region: str) -> Answer:
        """A region-year's own events (allocations, requisitions, reservations, payments,
        repayments, reclaims, reports, closing; read from its own rows of the log and checked
        against its kept state), its filed reports beside the year now, and its year-end rows:
        what a region-year's page shows of the audit, without listing the whole year.

        "Changed by" (the events after a filing that moved a sealed figure) needs the year's
        whole listing: it is read only when a filed figure has changed."""
        models = self.models()
        if not models.has_grant(grant_id):
            raise unknown_grant(grant_id, self.known("grant"))
        found = region_year_events(models, grant_id, region, year)
        if found is None:
            raise NotFound(f"nothing recorded for {region} in {year} of {grant_id}")
        region_year, entries = found
        events = [{**history_row(e, region_year), "region": region} for e in entries]
        view = models.view_for(grant_id, region, year)
        reports = filed_vs_now(view, [], grant_id, year, region)
        if any(r["changed"] for r in reports):
            listing = models.year_events(grant_id, year, region, models.position())
            reports = filed_vs_now(view, listing, grant_id, year, region)
        return Answer({"events": events, "reports": reports, "year_end": year_end_rows(view, grant_id, region, year)})

    def grant_names(self) -> Answer:
        """Every grant recorded now: its id, name and years only (cheaply, from the read models)."""
        return Answer([{"grant": g.grant_id, "name": g.name, "first_year": g.first_year,
                        "last_year": g.last_year} for g in self.models().grants()])

    def history(self, grant_id: str, region: str | None = None, decision_id: str | None = None) -> Answer:
        """Every event of the grant in recording order (about a region or a decision).

        Of a decision or a region, read from the aggregates' own rows (``lookup.own_history``):
        what the fold of the whole log lists, in time bounded by what is shown. Of the whole
        grant, the fold of the log.
        """
        if region is None and decision_id is None:
            view, _ = self.view(keep_entries=True)
            if grant_id not in view.grants:
                raise unknown_grant(grant_id, list(view.grants))
            return Answer(history_rows(view, grant_id))
        models = self.models()
        if not models.has_grant(grant_id):
            raise unknown_grant(grant_id, self.known("grant"))
        view = own_history(models, grant_id, region, decision_id)
        if view is None:
            raise NotFound(f"unknown decision {decision_id!r} in {grant_id}"
                           + _guess(decision_id, self.known("decision", grant_id)))
        return Answer(history_rows(view, grant_id, region, decision_id))

    # ------------------------------------------------------------------ finding your way (projections.catalog)

    def known(self, kind: str, grant_id: str | None = None) -> list[str]:
        """The grant ids, a grant's decision ids or its purposes (see ``lookup.known_names``)."""
        return known_names(self.app, self.target, kind, grant_id, models=self._models)

    def grants(self) -> Answer:
        """Every grant: name, period, purposes, agreement years, regions with anything recorded."""
        return Answer(grant_rows(grants_view(self.models())))

    def grant(self, grant_id: str) -> Answer:
        """One grant in full (``catalog.grant_detail``)."""
        view = grants_view(self.models())
        if grant_id not in view.grants:
            raise unknown_grant(grant_id, list(view.grants))
        return Answer(grant_detail(view, grant_id))

    def decisions(self, grant_id: str, region: str | None = None, year: int | None = None,
                  purpose: str | None = None, status: str | None = None) -> Answer:
        """The grant's decisions, one row each (of one region, year, purpose or status)."""
        models = self.models()
        grant = kept(models, grant_uuid(grant_id))
        if grant is None:
            raise unknown_grant(grant_id, self.known("grant"))
        if purpose is not None:
            grant.check_purpose(purpose)
        return Answer(decision_rows(models.view_for(grant_id, region, year), grant_id, region, year, purpose, status))

    def decision(self, grant_id: str, decision_id: str) -> Answer:
        """One decision in full, with the positions of the events that recorded it."""
        models = self.models()
        grant = kept(models, grant_uuid(grant_id))
        if grant is None:
            raise unknown_grant(grant_id, self.known("grant"))
        found = decision_events(models, grant_id, decision_id)
        if found is None:
            raise NotFound(f"unknown decision {decision_id!r} in {grant_id}"
                           + _guess(decision_id, self.known("decision", grant_id)))
        return Answer(decision_detail(*found, grant))


def _guess(word: str, known: Any) -> str:
    guess = did_you_mean(word, known)
    return f" ({guess})" if guess else ""
