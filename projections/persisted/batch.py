"""One catch-up batch: the events applied to the aggregates they change, and the rows
(states, seals, listing, balances, commitments) written in the batch's transaction."""

from __future__ import annotations


import uuid
from typing import Any, TYPE_CHECKING

from eventsourcing.persistence import StoredEvent

from ledger.application import GrantLedger

from ledger.errors import Corrupt
from ledger.events import advance
from ledger.grant import Grant
from ledger.region_year import RegionYear
from ledger.decision import Decision
from projections.audit import reach
from projections.balances import spent_by_year, spent_change
from projections.history import EVENT_TYPES, effective_date, summary
from ledger.ids import region_year_uuid
from projections.persisted.cells import (_chain, _chunks, _encode_state, _list_id, _years_text, balance_id, balance_seal, commitments_id, commitments_seal,
                                         balance_tuple, commitment_tuples, seal_of)

if TYPE_CHECKING:  # annotations only: the package's class is made of these modules
    from projections.persisted import ReadModels


class _Batch:
    """The aggregates and rows one catch-up changes, written together at its end."""

    def __init__(self, models: ReadModels, ids: set[bytes]) -> None:
        self.models = models
        # the aggregates the batch's events belong to (by id bytes), as they stand so far
        self.ids = {i: uuid.UUID(bytes=i) for i in ids}
        loaded = models.load(str(u) for u in self.ids.values())
        self.aggregates: dict[bytes, Any] = {i: loaded.get(str(u)) for i, u in self.ids.items()}
        self.firsts = {i: models.firsts.get(str(u)) for i, u in self.ids.items()}
        self.last: dict[bytes, int] = {}  # aggregate id -> position of its last event
        self.first: dict[bytes, int] = {}  # for aggregates created in the batch: their first event
        self.spent_delta: dict[tuple[str, str, int], int] = {}
        self.snapshots: list[tuple] = []
        self.history: list[tuple] = []

    def apply_stored(self, app: GrantLedger, position: int, originator_id: bytes, version: int,
                     topic: str, state: bytes, stamp: str) -> None:
        """Decode a stored event of one of the batch's aggregates and apply it."""
        stored = StoredEvent(originator_id=self.ids[originator_id], originator_version=version,
                             topic=topic, state=state)
        self.apply(originator_id, app.decode(stored, position), position, stamp)

    def apply(self, key: bytes, event: Any, position: int, stamp: str) -> None:
        before = self.aggregates[key]
        if before is not None and event.originator_version <= before.version:
            raise Corrupt(f"the read models already hold the event at position {position} (version "
                          f"{event.originator_version} of its aggregate): their tracking position was moved "
                          "back; the read models were altered (grants rebuild makes them anew)")
        if before is None:
            self.first[key] = position
        spent_before = spent_by_year(before) if isinstance(before, Decision) else {}
        aggregate = advance(before, event, position)  # changes the aggregate in place
        self.aggregates[key] = aggregate
        self.last[key] = position
        if aggregate.version % self.models.snapshot == 0:
            self.snapshots.append((str(aggregate.id), position, _encode_state(aggregate)))
        if isinstance(aggregate, Decision):
            for year, moved in spent_change(spent_before, aggregate).items():
                k = (aggregate.grant_id, aggregate.region, year)
                self.spent_delta[k] = self.spent_delta.get(k, 0) + moved.ore
        self._listed(event, aggregate, position, stamp)

    def _listed(self, event: Any, aggregate: Any, position: int, stamp: str) -> None:
        """The event's lines in the audits of the years it belongs to (see ``audit.reach``)."""
        region, years = reach(event, aggregate)
        if years is None:  # every year of the grant: only the grant's own events say so
            years = aggregate.years if isinstance(aggregate, Grant) else ()
        if not years:
            return
        kind = EVENT_TYPES[type(event).TOPIC]
        effective = effective_date(event)
        line = (region or "", position, stamp, getattr(event, "recorded_by", ""), kind,
                None if effective is None else effective.isoformat(), summary(event, aggregate, kind))
        for year in years:
            self.history.append((aggregate.grant_id, year, *line))

    def rows(self) -> dict[str, Any]:
        """Everything the batch changed, as rows to write (picklable: a helper process sends them)."""
        heads, balances, decisions = [], [], []
        for key, position in self.last.items():
            a = self.aggregates[key]
            years = None
            if isinstance(a, RegionYear):
                balances.append(balance_tuple(a))
            elif isinstance(a, Decision):
                decisions.append(a)
                years = _years_text(a.years_ever)
            heads.append((str(a.id), type(a).__name__, a.grant_id, getattr(a, "region", None),
                          getattr(a, "year", None), years, self.first.get(key, self.firsts.get(key)), position,
                          _encode_state(a)))
        regions = {str(a.id): (a.grant_id, getattr(a, "region", None)) for a in self.aggregates.values()
                   if a is not None}
        seals = [(h[0], h[1], h[2], h[3], seal_of(*h)) for h in heads]
        # each balance row's own seal, bound to its region-year's: served without decoding the state
        by_id = {s[0]: s[4] for s in seals}
        seals += [(balance_id(b[0], b[1], b[2]), "balance", b[0], b[1],
                   balance_seal(by_id[str(region_year_uuid(b[0], b[1], b[2]))], b)) for b in balances]
        seals += [(f"{i}@{p}", "kept", *regions[i], seal_of(i, p, state)) for i, p, state in self.snapshots]
        commitments = {d.decision_id: commitment_tuples(d) for d in decisions}
        seals += [(commitments_id(str(d.id)), "commitments", d.grant_id, d.region,
                   commitments_seal(by_id[str(d.id)], commitments[d.decision_id])) for d in decisions]
        return {
            "heads": heads, "snapshots": self.snapshots, "seals": seals, "history": self.history, "balances": balances,
            "spent": self.spent_delta,
            "decisions": [(d.grant_id, d.decision_id) for d in decisions],
            "commitments": [t for d in decisions for t in commitments[d.decision_id]],
        }


def _merge(rows: dict[str, Any], more: dict[str, Any]) -> None:
    """Add the rows of another share of the same batch (its aggregates are its own)."""
    for name, value in more.items():
        if name == "spent":
            for key, delta in value.items():
                rows["spent"][key] = rows["spent"].get(key, 0) + delta
        else:
            rows[name].extend(value)


def _list_seals(m: ReadModels, history: list[tuple]) -> list[tuple]:
    """The listings' chains with a batch's new lines (from the caller and its helper) added in order."""
    lists: dict[str, list[tuple]] = {}
    for grant_id, year, region, *line in history:
        lists.setdefault(_list_id(grant_id, year, region), []).append((grant_id, region, tuple(line)))
    chains = {}
    for part in _chunks(list(lists)):
        marks = ", ".join("?" for _ in part)
        chains.update(m._run(f"SELECT id, digest FROM grants_rm_seals WHERE id IN ({marks})", part).fetchall())
    out = []
    for list_id, lines in lists.items():
        ordered = sorted(lines, key=lambda x: x[2][0])
        chain = _chain(chains.get(list_id, ""), ((region, *line) for _, region, line in ordered))
        out.append((list_id, lines[0][0], lines[0][1] or None, chain))
    return out


def _write(m: ReadModels, rows: dict[str, Any]) -> None:
    m._many("INSERT INTO grants_rm_aggregates (id, kind, grant_id, region, year, years, first, position, "
            "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET years = excluded.years, "
            "first = excluded.first, position = excluded.position, state = excluded.state", rows["heads"])
    m._many("INSERT INTO grants_rm_snapshots (id, position, state) VALUES (?, ?, ?)", rows["snapshots"])
    m._many("INSERT INTO grants_rm_seals (id, kind, grant_id, region, digest) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET digest = excluded.digest", rows["seals"])
    m._many("INSERT INTO grants_rm_history (grant_id, year, region, position, recorded_at, recorded_by, "
            "type, effective, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["history"])
    m._many("INSERT INTO grants_rm_seals (id, kind, grant_id, region, digest) VALUES (?, 'list', ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET digest = excluded.digest", _list_seals(m, rows["history"]))
    m._many("INSERT INTO grants_rm_balances (grant_id, region, year, allocated, requisitioned, "
            "committed, reserved, spent, available, shortfall, frame, repaid, closed, paid, reclaimed, waived) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (grant_id, region, year) "
            "DO UPDATE SET allocated = excluded.allocated, requisitioned = excluded.requisitioned, "
            "committed = excluded.committed, reserved = excluded.reserved, "
            "available = excluded.available, shortfall = excluded.shortfall, "
            "frame = excluded.frame, repaid = excluded.repaid, closed = excluded.closed, paid = excluded.paid, "
            "reclaimed = excluded.reclaimed, waived = excluded.waived", rows["balances"])
    m._many("UPDATE grants_rm_balances SET spent = spent + ? WHERE grant_id = ? AND region = ? "
            "AND year = ?", [(d, g, r, y) for (g, r, y), d in rows["spent"].items()])
    m._many("DELETE FROM grants_rm_commitments WHERE grant_id = ? AND decision = ?", rows["decisions"])
    m._many("INSERT INTO grants_rm_commitments (grant_id, decision, year, region, area, activity, "
            "purpose, amount, spent, remaining, status, decided_by, decided_on) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows["commitments"])


# --------------------------------------------------------------------------- a helper process
