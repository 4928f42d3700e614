"""The fields of a kept aggregate state, each checked as it is read: types, ranges, region
codes, dates and times, pairs (see :mod:`ledger.states`, which builds the aggregates from
them). Needing no aggregate class, it also reads what an as-of balance asks of a kept
decision — its region and spent per year — without building the decision."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any, TypeVar

from ledger.errors import Corrupt
from ledger.values import Region

T = TypeVar("T")

LIMIT = 64 * 1024 * 1024  # bytes of one state: far beyond any real aggregate
BIG = 10**17
_REGIONS = frozenset(r.code for r in Region.all())


class _Bad(Exception):
    pass


def _want(ok: bool, what: str) -> None:
    if not ok:
        raise _Bad(what)


def _int(v: Any, what: str, low: int = -BIG, high: int = BIG) -> int:
    _want(type(v) is int and low <= v <= high, f"{what} is not a whole number in range")
    return v


def _str(v: Any, what: str) -> str:
    _want(type(v) is str and "\x00" not in v, f"{what} is not text")
    return v


def _opt(v: Any, read: Callable[[Any, str], Any], what: str) -> Any:
    return None if v is None else read(v, what)


def _day(v: Any, what: str) -> datetime.date:
    _want(type(v) is str and len(v) == 10, f"{what} is not a date")
    try:
        return datetime.date.fromisoformat(v)
    except ValueError:
        raise _Bad(f"{what} is not a date") from None


def _moment(v: Any, what: str) -> datetime.datetime:
    _want(type(v) is str and len(v) <= 40, f"{what} is not a time")
    try:
        t = datetime.datetime.fromisoformat(v)
    except ValueError:
        raise _Bad(f"{what} is not a time") from None
    _want(t.tzinfo is not None, f"{what} has no offset")
    return t


def _year(v: Any, what: str) -> int:
    return _int(v, what, 1900, 2200)


def _region(v: Any, what: str) -> str:
    _want(type(v) is str and v in _REGIONS, f"{what} is not a region code")
    return v


def _obj(v: Any, keys: set[str], what: str) -> dict:
    _want(type(v) is dict and v.keys() == keys, f"{what} does not have its fields")
    return v


def _list(v: Any, what: str) -> list:
    _want(type(v) is list, f"{what} is not a list")
    return v


def _pairs(v: Any, key: Callable[[Any, str], Any], value: Callable[[Any, str], Any], what: str) -> dict:
    out = {}
    for p in _list(v, what):
        _want(type(p) is list and len(p) == 2, f"{what} holds something not a pair")
        k = key(p[0], what)
        _want(k not in out, f"{what} repeats a key")
        out[k] = value(p[1], what)
    return out


def _iso(d: datetime.date | None) -> str | None:
    return None if d is None else d.isoformat()


def _money(v: Any, what: str) -> int:
    return _int(v, what, 0)


def read_state(data: Any, what: str, read: Callable[[dict], T]) -> T:
    """``read`` of a kept state's JSON object: anything not a sensible JSON object, or that
    ``read`` finds wrong, is Corrupt (the read models were altered)."""
    try:
        if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) > LIMIT:
            raise _Bad("it is not a state of a sensible size")
        state = json.loads(bytes(data).decode("utf-8"))
        _want(type(state) is dict, "it is not an object")
        return read(state)
    except (_Bad, ValueError, RecursionError, UnicodeDecodeError, KeyError, TypeError) as e:
        reason = str(e) if isinstance(e, _Bad) else type(e).__name__
        raise Corrupt(f"the read models were altered: a kept state of a {what} is not valid ({reason}); "
                      "grants rebuild makes them anew from the events") from None


def decision_spent(data: bytes) -> tuple[str, dict[int, int]]:
    """A kept decision state's region and what the decision had spent in each year (öre),
    read without building the decision — all an as-of balance needs of it: the JSON parsed
    and these two fields checked as ``ledger.states.load`` checks them (its bookings are
    neither checked nor built). Anything not so is Corrupt, as for ``load``."""
    def read(state: dict) -> tuple[str, dict[int, int]]:
        _want("region" in state and "spent_by_year" in state, "it is not a decision's")
        return _region(state["region"], "region"), _pairs(state["spent_by_year"], _year, _money, "spent_by_year")
    return read_state(data, "Decision", read)
