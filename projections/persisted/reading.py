"""Reading the read models: seals checked on every row served, kept states and digest
checkpoints for as-of audits, balances, commitments and the views compliance reads."""

from __future__ import annotations


import datetime
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ledger.ids import decision_uuid, grant_uuid
from ledger.values import FIGURES, Amount, Region
from projections.digest import GENESIS, Digest
from projections.persisted.shared import current
from projections.persisted.cells import (_HEAD, _altered, _chain, _chunks, _decode_state, _filters, _list_id, balance_id,
                                         balance_seal, commitments_id, commitments_seal, seal_of)
from projections.persisted.schema import AMOUNTS, NAME
from ledger.library import stamp_of
from projections.persisted.store import StoredRows

if TYPE_CHECKING:  # annotations only: a balance or commitment row is read without the event library
    from ledger.application import GrantLedger
    from projections.fold import LedgerView


class Reading(StoredRows):
    """What queries and audits read (mixed into ReadModels)."""

    # ------------------------------------------------------------------ the history, fast

    def seal(self, app: GrantLedger, grant_id: str, region: str, year: int
             ) -> tuple[dict[str, Amount], int, str]:
        """What a report filed now states: the year's figures, the position they are as of,
        and the digest of the history up to it (all from the caught-up read models)."""
        self.catch_up(app)
        position, value, latest = self._run("SELECT position, digest, latest FROM grants_rm_tracking "
                                            "WHERE name = ?", (NAME,)).fetchone()
        self._rehashed(int(position), value, latest)
        rows = self.balance_rows(grant_id, region, year)
        figures = {name: rows[0][name] if rows else Amount(0) for name in FIGURES}
        return figures, int(position), value

    def witnessed(self) -> dict[int, str]:
        """The digest chain's values the read models computed as they applied the events:
        at every checkpoint and at the last position applied."""
        found = {int(p): d for p, d in self._run("SELECT position, digest FROM grants_rm_checkpoints")}
        position, value = self._run("SELECT position, digest FROM grants_rm_tracking WHERE name = ?",
                                    (NAME,)).fetchone()
        if position:
            found[int(position)] = value
        return found

    def checkpoint_before(self, position: int | None = None, as_of: datetime.datetime | None = None
                          ) -> tuple[int, str]:
        """The last checkpoint at or before a position, or before anything recorded after a moment."""
        where, params = [], []
        if position is not None:
            where.append("position <= ?")
            params.append(position)
        if as_of is not None:
            where.append("latest <= ?")
            params.append(as_of.astimezone(datetime.timezone.utc).isoformat())
        sql = "SELECT position, digest, latest FROM grants_rm_checkpoints"
        if where:
            sql += " WHERE " + " AND ".join(where)
        row = self._run(sql + " ORDER BY position DESC LIMIT 1", params).fetchone()
        if row is None:
            return 0, GENESIS
        self._rehashed(int(row[0]), row[1], row[2])
        return int(row[0]), row[1]

    def _rehashed(self, position: int, value: str, latest: str | None) -> None:
        """A digest the read models keep (a checkpoint's, the tracking row's) must be what hashing
        the events from the checkpoint before it gives: at most one checkpoint's span of events."""
        before = self._run("SELECT position, digest, latest FROM grants_rm_checkpoints WHERE position < ? "
                           "ORDER BY position DESC LIMIT 1", (position,)).fetchone()
        start, digest_value, seen = (int(before[0]), before[1], before[2]) if before else (0, GENESIS, None)
        digest = Digest()
        digest.value = digest_value
        reached = start
        while reached < position:
            rows = self._stored(reached + 1, 2000, stop=position)
            if not rows:
                break
            for row in rows:
                digest.add_stored(row[3], row[1], row[2], row[4])
                stamp = stamp_of(row[4], row[0])
                seen = stamp if seen is None or stamp > seen else seen
            reached = rows[-1][0]
        if digest.value != value or seen != latest:
            raise _altered(f"the digest kept at position {position} is not what the events give")

    def _grant_heads(self, grant_id: str, region: str | None) -> list[tuple]:
        """The rows (checked against their seals, membership included) of the grant and of
        one region's (or every region's) region-years and decisions."""
        where, params = "grant_id = ? AND kind IN ('Grant', 'RegionYear', 'Decision')", [grant_id]
        if region is not None:
            where += " AND (region = ? OR region IS NULL)"
            params.append(region)
        key = (grant_id, region, self.position())  # the questions of one page ask it again and again
        known = getattr(self, "_heads_read", None)
        if known is not None and known[0] == key:
            return known[1]
        rows = self._heads(where.replace("grant_id", "a.grant_id").replace("kind", "a.kind")
                           .replace("region", "a.region"), params)
        self._members(where, params, [r[0] for r in rows])
        self._heads_read = (key, rows)
        return rows

    def year_heads(self, grant_id: str, year: int, region: str | None) -> list[tuple]:
        """The rows (checked against their seals) of the aggregates a year's audit replays: the
        grant, the region-years of the year, and the decisions that ever had money in it."""
        rows = self._grant_heads(grant_id, region)
        return [r for r in rows if r[1] == "Grant" or (r[1] == "RegionYear" and r[4] == year)
                or (r[1] == "Decision" and f",{year}," in (r[5] or ""))]

    def _heads(self, where: str, params: list[Any]) -> list[tuple]:
        """Aggregate rows with their seals, each checked: (id, kind, ..., first, position, state)."""
        rows = self._run(f"SELECT {_HEAD} FROM grants_rm_aggregates a LEFT JOIN grants_rm_seals k "
                         f"ON k.id = a.id WHERE {where} ORDER BY a.first", params).fetchall()
        for row in rows:
            if row[9] != seal_of(*row[:9]):
                raise _altered(f"the row of aggregate {row[0]} does not match its seal")
        return rows

    def _members(self, where: str, params: list[Any], found: Iterable[str]) -> None:
        """The sealed aggregates in a scope must be exactly the rows found there."""
        sealed = {r[0] for r in self._run(f"SELECT id FROM grants_rm_seals WHERE {where}", params)}
        missing, extra = sealed - set(found), set(found) - sealed
        if missing or extra:
            which = sorted(missing or extra)[0]
            raise _altered(f"aggregate {which} is {'missing from' if missing else 'not sealed in'} the read models")

    def load(self, ids: Iterable[str]) -> dict[str, Any]:
        """Aggregates as they stand now (checked against their seals)."""
        found, firsts = {}, {}
        for part in _chunks(list(ids)):
            marks = ", ".join("?" for _ in part)
            rows = self._heads(f"a.id IN ({marks})", part)
            for id_, kind, *_, first, _, state, _ in rows:
                found[id_] = _decode_state(kind, state)
                firsts[id_] = first
            self._members(f"id IN ({marks})", part, found.keys() & set(part))
        self.firsts = firsts
        return found

    def states_at(self, app: GrantLedger, heads: list[tuple], cut: int, shared: bool = True) -> list[Any]:
        """Aggregates (given by their checked rows, see ``year_heads``) as they stood at
        position ``cut`` (those that existed by then).

        One not changed after the cut is taken as it stands now (decoded once per process,
        ``shared.current``; with ``shared`` False decoded here and let go, for a caller that
        reads a batch at a time to keep its memory small); another starts from its last kept
        state at or before the cut (or from nothing) and replays its own events up to the
        cut: at most ``snapshot`` events each.
        """
        states, later = {}, []
        ids = [h[0] for h in heads]
        for head in heads:
            id_, first, position = head[0], head[6], head[7]
            if position <= cut:
                # not changed below: only the later ones are advanced
                states[id_] = current(head) if shared else _decode_state(head[1], head[8])
            elif first is None or first <= cut:  # one first recorded after the cut did not exist then
                later.append(id_)
        for part in _chunks(later):
            marks = ", ".join("?" for _ in part)
            for id_, position, state, seal, kind in self._run(
                    f"SELECT s.id, s.position, s.state, k.digest, a.kind FROM grants_rm_snapshots s "
                    f"JOIN grants_rm_aggregates a ON a.id = s.id "
                    f"LEFT JOIN grants_rm_seals k ON k.id = s.id || '@' || s.position WHERE s.id IN ({marks}) "
                    "AND s.position = (SELECT MAX(t.position) FROM grants_rm_snapshots t WHERE t.id = s.id "
                    "AND t.position <= ?)", [*part, cut]):
                if seal != seal_of(id_, position, state):
                    raise _altered(f"the kept state of aggregate {id_} at position {position} does not match its seal")
                states[id_] = _decode_state(kind, state)
        from eventsourcing.persistence import StoredEvent

        from ledger.events import advance

        oids = {id_: uuid.UUID(id_) for id_ in later}
        rows = self._aggregates_after({oids[i]: states[i].version if i in states else 0 for i in later}, cut)
        for id_ in later:
            aggregate = states.get(id_)
            oid = oids[id_]
            for position, version, topic, state in rows[oid]:
                stored = StoredEvent(originator_id=oid, originator_version=version, topic=topic,
                                     state=bytes(state))
                aggregate = advance(aggregate, app.decode(stored, int(position)), int(position))
            if aggregate is not None:
                states[id_] = aggregate
        return [states[i] for i in ids if i in states]

    def view_at(self, app: GrantLedger, grant_id: str, region: str | None, year: int | None,
                cut: int, spent_only: bool = False) -> LedgerView:
        """What :meth:`view_for` gives, as the aggregates stood at position ``cut`` (see
        :meth:`states_at`): the grant, and the region-years and decisions of one region (or
        all), of one year (or all), that existed by then. With ``spent_only``, instead of the
        decisions the view holds what they had spent by region and year (``LedgerView.spent``:
        all balances need of them)."""
        from projections.fold import LedgerView

        heads = [r for r in self._grant_heads(grant_id, region)
                 if year is None or r[1] == "Grant" or r[4] == year or f",{year}," in (r[5] or "")]
        view = LedgerView(position=cut)
        if spent_only:  # the decisions' sums only, a batch of decisions at a time: memory stays small
            from ledger.state_fields import decision_spent

            decisions = [h for h in heads if h[1] == "Decision"]
            heads = [h for h in heads if h[1] != "Decision"]
            view.spent = {}

            def add(region_code: str, spent: dict[int, int]) -> None:
                for y, amount in spent.items():
                    view.spent[(region_code, y)] = view.spent.get((region_code, y), 0) + amount

            for h in decisions:  # unchanged since the cut: its kept state's sums, the decision not built
                if h[7] <= cut:
                    add(*decision_spent(h[8]))
            changed = [h for h in decisions if h[7] > cut]
            for start in range(0, len(changed), 256):
                for d in self.states_at(app, changed[start:start + 256], cut, shared=False):
                    add(d.region, d.spent_by_year)
        for aggregate in self.states_at(app, heads, cut):
            view.hold(aggregate)
        return view

    def year_events(self, grant_id: str, year: int, region: str | None, cut: int) -> list[dict[str, Any]]:
        """The lines a year's audit lists, up to position ``cut``, in recording order; each list
        (the year's lines of one region, or of every region) is checked against its sealed chain."""
        where, params = "grant_id = ? AND year = ?", [grant_id, year]
        if region is not None:
            where += " AND region IN ('', ?)"
            params.append(region)
        lines = self._run("SELECT region, position, recorded_at, recorded_by, type, effective, summary "
                          f"FROM grants_rm_history WHERE {where} ORDER BY position", params).fetchall()
        by_list: dict[str, list[tuple]] = {}
        for line in lines:
            by_list.setdefault(line[0], []).append(line)
        chains = {where_: _chain("", part) for where_, part in by_list.items()}
        ids = [_list_id(grant_id, year, r) for r in ([""] + ([region] if region else [r.code for r in Region.all()]))]
        marks = ", ".join("?" for _ in ids)
        sealed = {i: d for i, d in self._run(f"SELECT id, digest FROM grants_rm_seals WHERE id IN ({marks})", ids)}
        if sealed != {_list_id(grant_id, year, r): c for r, c in chains.items()}:
            raise _altered(f"the listing of {grant_id} {year} does not match its seal")
        parse_time, parse_day = datetime.datetime.fromisoformat, datetime.date.fromisoformat
        return [
            {"position": int(position), "recorded_at": parse_time(at), "recorded_by": by, "type": kind,
             "effective": None if on is None else parse_day(on), "summary": text, "region": where_ or None}
            for where_, position, at, by, kind, on, text in lines if position <= cut
        ]

    # ------------------------------------------------------------------ reading

    def balance_rows(self, grant_id: str, region: str | None, year: int | None) -> list[dict[str, Any]]:
        """Balance rows, each checked against its region-year's sealed state, and its spent
        against the year's commitments."""
        where, params = _filters(grant_id, region, year)
        stored = [tuple(r) for r in self._run(
            "SELECT grant_id, region, year, allocated, requisitioned, committed, reserved, 0, available, "
            f"shortfall, frame, repaid, closed, paid, reclaimed, waived, spent FROM grants_rm_balances WHERE {where} "
            "ORDER BY region, year", params)]
        scope, scope_params = "a.grant_id = ? AND a.kind = 'RegionYear'", [grant_id]
        if region is not None:
            scope += " AND a.region = ?"
            scope_params.append(region)
        heads = self._heads(scope, scope_params)
        self._members(scope.replace("a.", ""), scope_params, [h[0] for h in heads])
        # each region-year's sealed row, and the seal of its balance row (bound to the row's seal)
        expected = {(h[3], h[4]): h[9] for h in heads if year is None or h[4] == year}
        ids = [balance_id(grant_id, r, y) for r, y in expected]
        sealed = {}
        for part in _chunks(ids):
            marks = ", ".join("?" for _ in part)
            sealed.update(self._run(f"SELECT id, digest FROM grants_rm_seals WHERE id IN ({marks}) "
                                    "AND kind = 'balance'", part).fetchall())
        spent = {(r, y): int(v) for r, y, v in self._run(
            f"SELECT region, year, SUM(spent) FROM grants_rm_commitments WHERE {where} GROUP BY region, year",
            params)}
        for row in stored:
            key = (row[1], row[2])
            seal = expected.pop(key, None)
            if (seal is None or sealed.get(balance_id(grant_id, *key)) != balance_seal(seal, row[:16])
                    or spent.get(key, 0) != row[16]):
                raise _altered(f"the balance row of {grant_id} {key[0]} {key[1]} is not what its region-year "
                               "and commitments give")
        if expected:
            raise _altered(f"the balance row of {grant_id} {' '.join(map(str, next(iter(expected))))} is missing")
        rows = []
        for r in stored:
            region_code, y, *amounts, frame, repaid, closed, paid, reclaimed, waived = r[1:7] + (r[16],) + r[8:16]
            rows.append({
                "grant": grant_id, "region": region_code, "region_name": Region(region_code).name,
                "year": int(y),
                **{k: Amount(int(v)) for k, v in zip(AMOUNTS[:7], amounts)},
                "frame": None if frame is None else Amount(int(frame)),
                "repaid": Amount(int(repaid)), "paid": Amount(int(paid)), "reclaimed": Amount(int(reclaimed)),
                "waived": Amount(int(waived)), "closed": bool(closed),
            })
        return rows

    def commitment_rows(self, grant_id: str, region: str | None, year: int | None) -> list[dict[str, Any]]:
        """Commitment rows, each decision's checked against the seal that binds them to its
        decision's checked row (``cells.commitments_seal``: no state is decoded)."""
        where, params = _filters(grant_id, region, None)  # every year: a decision's rows are sealed together
        every = [tuple(r) for r in self._run(
            "SELECT grant_id, decision, year, region, area, activity, purpose, amount, spent, remaining, status, "
            f"decided_by, decided_on FROM grants_rm_commitments WHERE {where} ORDER BY region, year, decision",
            params)]
        by_decision: dict[str, list[tuple]] = {}
        for row in every:
            by_decision.setdefault(row[1], []).append(row)
        # the decisions in scope: those that ever had money in the year (as view_for holds them)
        heads = {h[0]: h[9] for h in self._grant_heads(grant_id, region)
                 if h[1] == "Decision" and (year is None or f",{year}," in (h[5] or ""))}
        ids = {str(decision_uuid(grant_id, d)): d for d in by_decision}
        sealed = {}
        names = [commitments_id(i) for i in set(heads) | set(ids)]
        for part in _chunks(names):
            marks = ", ".join("?" for _ in part)
            sealed.update(self._run(f"SELECT id, digest FROM grants_rm_seals WHERE id IN ({marks}) "
                                    "AND kind = 'commitments'", part).fetchall())
        for id_ in set(heads) | set(ids):
            decision, seal = ids.get(id_), heads.get(id_)
            rows = by_decision.get(decision, [])
            if seal is None and year is not None and not any(r[2] == year for r in rows):
                continue  # a decision of the region that never had money in the year: not asked for
            if seal is None or sealed.get(commitments_id(id_)) != commitments_seal(seal, rows):
                raise _altered(f"the commitment rows of {grant_id} (decision {decision or id_}) are not what "
                               "the decisions give")
        stored = [r for r in every if year is None or r[2] == year]
        rows = []
        for r in stored:
            _, decision, y, region_code, area, activity, purpose, amount, spent, remaining, status, by, on = r
            rows.append({
                "decision": decision, "region": region_code, "region_name": Region(region_code).name,
                "area": area, "activity": activity, "purpose": purpose, "year": int(y),
                "amount": Amount(int(amount)), "spent": Amount(int(spent)),
                "remaining": Amount(int(remaining)), "status": status, "decided_by": by,
                "decided_on": datetime.date.fromisoformat(on),
            })
        return rows

    def grants(self) -> list[Any]:
        """Every grant's aggregate as it stands now (rows checked against their seals)."""
        heads = self._heads("a.kind = 'Grant'", [])
        self._members("kind = 'Grant'", [], [h[0] for h in heads])
        return [current(h) for h in heads]

    def has_grant(self, grant_id: str) -> bool:
        return self._run("SELECT 1 FROM grants_rm_aggregates WHERE id = ? AND kind = 'Grant'",
                         (str(grant_uuid(grant_id)),)).fetchone() is not None

    def view_for(self, grant_id: str, region: str | None, year: int | None = None) -> LedgerView:
        """A view with the grant, and the region-years and decisions of one region (or all),
        of one year (or all): a year's decisions are those that ever had money in it."""
        from projections.fold import LedgerView

        rows = self._grant_heads(grant_id, region)
        view = LedgerView()
        for row in rows:
            kind, y, years = row[1], row[4], row[5]
            if year is None or kind == "Grant" or y == year or f",{year}," in (years or ""):
                view.hold(current(row))
        return view
