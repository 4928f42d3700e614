"""The web view's addresses, built in one place (every link a page prints comes from here),
and the filters that write a value in a cell (money in the Swedish form, as the tables of
the command line print it)."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import quote, urlencode

from ledger.values import Amount


def _q(text: str) -> str:
    return quote(str(text), safe="")


def _query(path: str, **params: Any) -> str:
    given = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(given)}" if given else path


def home() -> str:
    return "/"


def grant(grant_id: str) -> str:
    return f"/g/{_q(grant_id)}"


def overview(grant_id: str, year: int, **params: Any) -> str:
    return _query(f"/g/{_q(grant_id)}/{int(year)}", **params)


def region_year(grant_id: str, year: int, region: str, **params: Any) -> str:
    return _query(f"/g/{_q(grant_id)}/{int(year)}/r/{_q(region)}", **params)


def decision(grant_id: str, region: str, decision_id: str, **params: Any) -> str:
    return _query(f"/g/{_q(grant_id)}/r/{_q(region)}/d/{_q(decision_id)}", **params)


def audit(grant_id: str, year: int, **params: Any) -> str:
    return _query(f"/g/{_q(grant_id)}/{int(year)}/audit", **params)


def money(value: Any) -> str:
    """An amount as the tables print it (``2 228 598``, ``654 674,66``); nothing as a dash."""
    if value is None:
        return "–"
    return value.pretty() if isinstance(value, Amount) else str(value)


def cell(value: Any) -> str:
    """Any value in a cell: money, a date, a moment (UTC), yes/no, a list."""
    if value is None:
        return "–"
    if isinstance(value, Amount):
        return value.pretty()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


def is_number(value: Any) -> bool:
    return isinstance(value, (Amount, int)) and not isinstance(value, bool)
