"""The one fold every read model is computed from.

``fold(entries)`` replays stored events, in recording order, into the very aggregates
that recorded them: the figures (available, shortfall, committed...) are computed by
the aggregates' own code, so a rule is never restated on the read side. The same fold
answers for the whole log ("now"), for any prefix of it (as of a moment, or a
position), and in the tests, which compare it with the application's own state.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs

if TYPE_CHECKING:  # annotations only: a view of kept states needs no aggregate class it does not hold
    from ledger.decision import Decision
    from ledger.grant import Grant
    from ledger.region_year import RegionYear


@attrs.frozen
class Entry:
    """One stored event with its place in the log: what `history` and `audit` list."""

    position: int
    event: Any
    state: bytes | None = attrs.field(default=None, eq=False, repr=False)  # as stored, when read from a store

    @property
    def recorded_at(self) -> datetime.datetime:
        return self.event.timestamp

    @property
    def recorded_by(self) -> str:
        return getattr(self.event, "recorded_by", "")


@attrs.define
class LedgerView:
    """Aggregates rebuilt from events, indexed for the queries."""

    position: int = 0
    by_id: dict[UUID, Any] = attrs.Factory(dict)
    grants: dict[str, Grant] = attrs.Factory(dict)
    region_years: dict[tuple[str, str, int], RegionYear] = attrs.Factory(dict)
    decisions: dict[tuple[str, str], Decision] = attrs.Factory(dict)
    entries: list[Entry] | None = None
    # what each (region, year) had spent, when the view holds no decisions but their sums (an
    # as-of balance: the decisions were read one batch at a time, see ReadModels.view_at)
    spent: dict[tuple[str, int], int] | None = None

    def apply(self, entry: Entry) -> None:
        """Replay one stored event onto the aggregate it belongs to (see ``advance``)."""
        from ledger.events import advance  # the event catalogue: not needed to read kept states
        event = entry.event
        self.adopt(entry, advance(self.by_id.get(event.originator_id), event, entry.position))

    def adopt(self, entry: Entry, aggregate: Any) -> None:
        """Take an aggregate that already holds the entry's event (a replay, or a re-check)."""
        self.hold(aggregate)
        self.position = entry.position
        if self.entries is not None:
            self.entries.append(entry)

    def hold(self, aggregate: Any) -> None:
        """Take an aggregate as it stands at the view's position (the one way into the view;
        the read models load their kept states so)."""
        if aggregate.id not in self.by_id:
            self._index(aggregate)
        self.by_id[aggregate.id] = aggregate

    def _index(self, aggregate: Any) -> None:
        kind = type(aggregate).TOPIC  # each aggregate class's own stable topic (no import of the others)
        if kind == "grants:RegionYear":
            self.region_years[(aggregate.grant_id, aggregate.region, aggregate.year)] = aggregate
        elif kind == "grants:Decision":
            self.decisions[(aggregate.grant_id, aggregate.decision_id)] = aggregate
        elif kind == "grants:Grant":
            self.grants[aggregate.grant_id] = aggregate

    # ------------------------------------------------------------------ lookups

    def grant_decisions(self, grant_id: str, region: str | None = None) -> list[Decision]:
        return [
            d for (g, _), d in self.decisions.items()
            if g == grant_id and (region is None or d.region == region)
        ]

    def decisions_by_region(self, grant_id: str) -> dict[str, list[Decision]]:
        grouped: dict[str, list[Decision]] = {}
        for decision in self.grant_decisions(grant_id):
            grouped.setdefault(decision.region, []).append(decision)
        return grouped

    def years_of(self, grant_id: str, region: str | None = None,
                 year: int | None = None) -> list[RegionYear]:
        """The grant's region-years with anything recorded, in region and year order."""
        return [
            self.region_years[key] for key in sorted(self.region_years)
            if key[0] == grant_id
            and (region is None or key[1] == region)
            and (year is None or key[2] == year)
        ]


def fold(entries: Iterable[Entry], keep_entries: bool = False) -> LedgerView:
    """Replay entries (in recording order) into a view."""
    view = LedgerView(entries=[] if keep_entries else None)
    for entry in entries:
        view.apply(entry)
    return view


def entries_of(app: Any, stop: int | None = None) -> Iterable[Entry]:
    """The application's stored events up to position ``stop`` (None: all), as entries."""
    for notification, event in app.read(stop=stop):
        yield Entry(notification.id, event, notification.state)
