"""Finding things in a ledger: the names it knows (for "did you mean" and shell completion),
every grant with its region-years, one aggregate as the read models keep it, and one
decision's or region-year's own events with their positions in the log.

The names are a courtesy and never fail (an empty list when anything goes wrong); what the
queries show (``grants_view``, ``kept``, ``decision_events``) is checked as every read-model
row is: against its seal, and a decision's kept state against its own events.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import attrs
from ledger.ids import decision_uuid, grant_uuid, region_year_uuid, voucher_uuid
from ledger import states
from projections.fold import Entry, LedgerView
from projections.persisted import ReadModels
from projections.persisted.cells import _altered
from projections.persisted.shared import current

if TYPE_CHECKING:  # annotations only: reading kept states needs no event library
    from ledger.application import GrantLedger

# the events that name a new grant or decision, read from the log past the read models
NAMING_TOPICS = {"grant": ("grants:Grant.Defined/v1",), "decision": ("grants:Decision.Decided/v1",)}


def known_names(app: GrantLedger, target: str, kind: str, grant_id: str | None = None,
                models: ReadModels | None = None) -> list[str]:
    """The grant ids, a grant's decision ids, or its purposes ("grant", "decision",
    "purpose"), sorted: from the read models as they stand (never brought up to date here,
    so nothing is written) and the events recorded after them. [] on any error."""
    opened = None
    try:
        if kind == "purpose":
            return sorted(app.grant(grant_id).purposes) if grant_id else []
        if kind not in NAMING_TOPICS or (kind == "decision" and not grant_id):
            return []
        names: set[str] = set()
        after = 0
        try:
            if models is None:
                models = opened = ReadModels(target, create=False)
            if kind == "grant":
                sql, params = "SELECT grant_id FROM grants_rm_aggregates WHERE kind = 'Grant'", ()
            else:
                sql, params = "SELECT DISTINCT decision FROM grants_rm_commitments WHERE grant_id = ?", (grant_id,)
            found = {str(n) for (n,) in models._run(sql, params).fetchall()}
            names, after = found, models.position()
        except Exception:  # noqa: BLE001 (no read models here yet: the events say it all)
            names, after = set(), 0
        for _, event in app.read(start=after + 1, topics=NAMING_TOPICS[kind]):
            if kind == "grant":
                names.add(event.grant_id)
            elif event.grant_id == grant_id:
                names.add(event.decision_id)
        return sorted(names)
    except Exception:  # noqa: BLE001 (a suggestion or a completion is a courtesy: never an error)
        return []
    finally:
        if opened is not None:
            opened.close()


@attrs.define
class LedgerNames:
    """The application's :class:`~ledger.application.Directory`: what the ledger at
    ``target`` knows, read as :func:`known_names` says (read only: a refused command
    changes nothing, the read models included)."""

    app: GrantLedger
    target: str

    def known(self, kind: str, grant_id: str | None = None) -> list[str]:
        return known_names(self.app, self.target, kind, grant_id)


@attrs.frozen
class Grants:
    """Every grant as the read models keep it, and which region-years of each have anything
    recorded (their keys, (grant, region, year): what `list grants` and `show grant` show
    of them)."""

    grants: dict[str, Any]
    region_years: frozenset[tuple[str, str, int]]


def grants_view(models: ReadModels) -> Grants:
    """Every grant and the key of every region-year of every grant, as the read models keep
    them (each row checked against its seal, and the rows against the sealed set; a
    region-year's key is its row's sealed cells, so its state is not decoded)."""
    where = "kind IN ('Grant', 'RegionYear')"
    rows = models._heads("a." + where, [])
    models._members(where, [], [r[0] for r in rows])
    grants = {}
    for row in rows:
        if row[1] == "Grant":
            grant = current(row)
            grants[grant.grant_id] = grant
    keys = frozenset((str(r[2]), str(r[3]), int(r[4])) for r in rows if r[1] == "RegionYear")
    return Grants(grants, keys)


def kept(models: ReadModels, aggregate_id: uuid.UUID) -> Any | None:
    """One aggregate as the read models keep it now (checked against its seal), or None."""
    return models.load([str(aggregate_id)]).get(str(aggregate_id))


def own_events(models: ReadModels, oid: uuid.UUID, what: str) -> tuple[Any, list[Entry]] | None:
    """An aggregate as the read models keep it and its own events, in order, up to the kept
    state's version (None when there is no such aggregate; a catch-up by another process
    meanwhile changes nothing). Its events, replayed, must give exactly the state kept, or
    the read models were altered (``what`` names it in that message)."""
    from eventsourcing.persistence import StoredEvent

    from ledger.decoding import decoded, mapper
    from ledger.events import advance

    aggregate = kept(models, oid)
    if aggregate is None:
        return None
    entries, replayed = [], None
    for position, version, topic, state in models._aggregate_rows(oid, 0, None):
        if version > aggregate.version:
            break
        stored = StoredEvent(originator_id=oid, originator_version=version, topic=topic, state=bytes(state))
        event = decoded(mapper(), stored, int(position))
        replayed = advance(replayed, event, int(position))
        entries.append(Entry(int(position), event))
    if replayed is None or states.dump(replayed) != states.dump(aggregate):
        raise _altered(f"the kept state of {what} is not what its events give")
    return aggregate, entries


def decision_events(models: ReadModels, grant_id: str, decision_id: str
                    ) -> tuple[Any, list[Entry]] | None:
    """A decision as the read models keep it and its own events (see ``own_events``)."""
    return own_events(models, decision_uuid(grant_id, decision_id), f"decision {decision_id}")


def region_year_events(models: ReadModels, grant_id: str, region: str, year: int
                       ) -> tuple[Any, list[Entry]] | None:
    """A region-year as the read models keep it and its own events (see ``own_events``)."""
    return own_events(models, region_year_uuid(grant_id, region, year), f"region-year {region} {year}")


def own_history(models: ReadModels, grant_id: str, region: str | None,
                decision_id: str | None) -> LedgerView | None:
    """A view holding, with their entries in recording order, the events that `history` of a
    decision or of a region can show (a superset; ``history.history_rows`` picks them as from
    the fold of the whole log), read from those aggregates' own rows rather than the log:

    - of a decision: its own events (replayed and checked against its kept state, see
      :func:`decision_events`), its region's region-years' commitments naming it, and the
      voucher index's registrations of its bookings;
    - of a region: the grant's events, and every event of the region's region-years and
      decisions and of its decisions' vouchers.

    The aggregates are held as the read models keep them now (checked against their seals;
    a history's summaries read only what never changes). Each aggregate's events must run
    1, 2, 3... up to its kept version, or the read models or the log were altered. None when
    the decision does not exist.
    """
    from eventsourcing.persistence import StoredEvent

    from ledger.decoding import decoded, mapper
    from ledger.events import advance
    from ledger.voucher import Voucher, keys_of
    from projections.persisted.cells import _decode_state

    cut = models.position()
    view = LedgerView(entries=[])
    if decision_id is not None:
        found = decision_events(models, grant_id, decision_id)
        if found is None:
            return None
        decision, entries = found
        view.hold(decision)
        view.entries.extend(entries)
        grant = kept(models, grant_uuid(grant_id))
        years = range(grant.first_year, grant.last_year + 1) if grant is not None else ()
        held = models.load([str(region_year_uuid(grant_id, decision.region, y)) for y in years])
        decisions = [decision]
    else:
        held = {h[0]: _decode_state(h[1], h[8]) for h in models._grant_heads(grant_id, region)}
        decisions = []
    for aggregate in held.values():
        view.hold(aggregate)
        if hasattr(aggregate, "decision_id"):
            decisions.append(aggregate)
    rows = models._aggregates_rows([uuid.UUID(i) for i in held], cut)
    if decision_id is not None:  # of the region-years, only the commitments naming the decision
        needle = decision_id.encode() if decision_id.isascii() else b""
        rows = [r for r in rows if r[3].startswith(_COMMITMENT) and needle in r[4]]
    else:
        _versions_run(rows, held)
    for position, oid_bytes, version, topic, state in rows:
        oid = uuid.UUID(bytes=oid_bytes)
        event = decoded(mapper(), StoredEvent(originator_id=oid, originator_version=version, topic=topic,
                                       state=bytes(state)), position)
        if event.originator_id != oid or not isinstance(event, type(held[str(oid)]).Event):
            raise _altered(f"the stored event at position {position} is not one of its aggregate's")
        view.entries.append(Entry(position, event))
    voucher_ids = {voucher_uuid(grant_id, key) for d in decisions for v in d.vouchers()
                   for key in keys_of(v, [d.region])}
    for position, oid_bytes, version, topic, state in models._aggregates_rows(sorted(voucher_ids), cut):
        oid = uuid.UUID(bytes=oid_bytes)
        event = decoded(mapper(), StoredEvent(originator_id=oid, originator_version=version, topic=topic,
                                       state=bytes(state)), position)
        if not isinstance(event, Voucher.Registered) or version != 1:
            raise _altered(f"the stored event at position {position} is not a voucher's registration")
        view.hold(advance(None, event, position))
        view.entries.append(Entry(position, event))
    view.entries.sort(key=lambda e: e.position)
    view.position = cut
    return view


_COMMITMENT = "grants:RegionYear.CommitmentSet/"


def _versions_run(rows: list[tuple], held: dict[str, Any]) -> None:
    """Each aggregate's rows must be its versions 1, 2, 3... up to the version kept."""
    seen: dict[bytes, int] = {}
    for position, oid, version, *_ in rows:
        if version != seen.get(oid, 0) + 1:
            raise _altered(f"the stored event at position {position} is not its aggregate's next version")
        seen[oid] = version
    for id_, aggregate in held.items():
        if seen.get(uuid.UUID(id_).bytes, 0) != aggregate.version:
            raise _altered(f"the kept state of aggregate {id_} is not what its events give")
