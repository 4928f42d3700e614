"""Aggregate ids: uuid5s of natural keys (``decision/<grant>/<id>``), so "is this id taken?"
is a key lookup and two writers creating the same id collide in the store.

A module of its own, without the aggregates: the read side asks for ids by name (a query
for "now" reads rows keyed by them) without importing the aggregate classes and their
events. Each aggregate's module re-exports its own.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1d2a7e-3b0c-4c55-9a53-0f6a1c3e2b10")


@lru_cache(maxsize=4096)  # a command (and the next) asks for the same ids again and again
def grant_uuid(grant_id: str) -> UUID:
    return uuid5(NAMESPACE, f"grant/{grant_id}")


@lru_cache(maxsize=4096)  # a command (and the next) asks for the same ids again and again
def decision_uuid(grant_id: str, decision_id: str) -> UUID:
    return uuid5(NAMESPACE, f"decision/{grant_id}/{decision_id}")


@lru_cache(maxsize=4096)  # a command (and the next) asks for the same ids again and again
def region_year_uuid(grant_id: str, region: str, year: int) -> UUID:
    return uuid5(NAMESPACE, f"region-year/{grant_id}/{region}/{year}")


@lru_cache(maxsize=4096)  # a command (and the next) asks for the same ids again and again
def voucher_uuid(grant_id: str, key: str) -> UUID:
    return uuid5(NAMESPACE, f"voucher/{grant_id}/{key}")
