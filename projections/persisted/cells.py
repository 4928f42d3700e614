"""What a read-model row holds: states encoded and decoded, seals and chains, the
balance and commitment tuples, SQL filters."""

from __future__ import annotations


import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ledger.errors import Corrupt
from projections.digest import raw_record

if TYPE_CHECKING:  # annotations only: a balance row is checked without the aggregates
    from ledger.decision import Decision
    from ledger.region_year import RegionYear


_HEAD = "a.id, a.kind, a.grant_id, a.region, a.year, a.years, a.first, a.position, a.state, k.digest"


def _decode_state(kind: str, state: Any) -> Any:
    from ledger import states  # the aggregate classes: imported when a state is first decoded

    return states.load(bytes(state), kind)


def _encode_state(aggregate: Any) -> bytes:
    from ledger import states

    return states.dump(aggregate)


def _head(row: tuple[int, bytes, int, str, bytes]) -> str:
    """The hash of one stored event as read from the event table."""
    return hashlib.sha256(raw_record(row[3], row[1], row[2], row[4])).hexdigest()


def seal_of(*cells: Any) -> str:
    """The hash of a row's cells, as a read model stores them: text, numbers and NULLs by their
    repr (which tells types apart), blobs appended whole."""
    blobs = [bytes(c) for c in cells if isinstance(c, (bytes, memoryview))]
    text = repr(tuple("<blob>" if isinstance(c, (bytes, memoryview)) else c for c in cells))
    h = hashlib.sha256(text.encode("utf-8", "surrogatepass"))
    for blob in blobs:
        h.update(len(blob).to_bytes(8, "big"))
        h.update(blob)
    return h.hexdigest()


def _list_id(grant_id: str, year: int, region: str) -> str:
    return f"list/{grant_id}/{year}/{region}"


def _chain(before: str, lines: Iterable[tuple]) -> str:
    """A listing's chain with more lines: each line's cells (by their repr) hashed onto it, in order."""
    value, sha = bytes.fromhex(before) if before else b"", hashlib.sha256
    for line in lines:
        value = sha(value + repr(tuple(line)).encode("utf-8", "surrogatepass")).digest()
    return value.hex()


def _altered(what: str) -> Corrupt:
    return Corrupt(f"the read models were altered: {what} (grants verify says what else; grants rebuild "
                   "makes them anew from the events)")


def balance_tuple(a: RegionYear) -> tuple:
    """A region-year's balance row, spent apart (it comes from the decisions)."""
    return (a.grant_id, a.region, a.year, a.allocated.ore, a.requisitioned.ore, a.committed.ore,
            a.reserved.ore, 0, a.available.ore, a.shortfall.ore, a.frame, a.repaid.ore, int(a.closed), a.paid.ore,
            a.reclaimed.ore, a.waived.ore)


def balance_id(grant_id: str, region: str, year: int) -> str:
    """The id of a balance row's seal."""
    return f"balance/{grant_id}/{region}/{year}"


def balance_seal(region_year_seal: str, row: tuple) -> str:
    """A balance row's seal (spent apart: ``balance_tuple``'s cells, as stored): its cells
    hashed with its region-year's seal, so the row is bound to the state it was made from —
    a row altered, or a state altered with its own seal, no longer matches — and is
    checked without decoding that state."""
    return seal_of(region_year_seal, *row)


def commitments_id(aggregate_id: str) -> str:
    """The id of the seal of a decision's commitment rows (by the decision's aggregate id)."""
    return f"commitments/{aggregate_id}"


def commitments_seal(decision_seal: str, rows: list[tuple]) -> str:
    """The seal of a decision's commitment rows (``commitment_tuples``' cells, as stored, in
    year order) hashed with the decision's own seal, as a balance row's is with its
    region-year's: rows altered, added or removed, or a state altered with its own seal, no
    longer match, and the rows are checked without decoding the decision's state."""
    return seal_of(decision_seal, *sorted(rows, key=lambda r: r[2]))


def commitment_tuples(d: Decision) -> list[tuple]:
    """A decision's commitment rows, one per year it has money in."""
    return [(d.grant_id, d.decision_id, y, d.region, d.area, d.activity, d.purpose, d.committed_for(y).ore,
             d.spent_for(y).ore, d.remaining_for(y).ore, d.status, d.decided_by, d.decided_on.isoformat())
            for y in d.years]


def _filters(grant_id: str, region: str | None, year: int | None) -> tuple[str, list[Any]]:
    where, params = ["grant_id = ?"], [grant_id]
    if region is not None:
        where.append("region = ?")
        params.append(region)
    if year is not None:
        where.append("year = ?")
        params.append(year)
    return " AND ".join(where), params


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is_hex_id(value: Any) -> bool:
    try:
        return len(bytes.fromhex(value)) == 16
    except (TypeError, ValueError):
        return False


def _years_text(years: Iterable[int]) -> str:
    return "," + ",".join(str(y) for y in sorted(years)) + ","
