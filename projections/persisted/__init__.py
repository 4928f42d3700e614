"""Persisted read models: balances, commitments, and the aggregates compliance reads.

They live in the same database as the events (SQLite file or PostgreSQL schema), in
tables of their own, and are brought up to date incrementally: each catch-up reads the
events after the position it last processed, applies them with the same aggregate code
the fold uses, and writes the changed rows *and the new position in one transaction*.
A crash between two catch-ups loses nothing and applies nothing twice; two processes
catching up at once are serialised by a lock on the tracking row. "Now" queries read
these tables; as-of queries fold the events (``projections.fold``). ``rebuild`` clears
the tables and catches up from position 0.
"""

from __future__ import annotations

from projections.persisted.catchup import CatchUp
from projections.persisted.reading import Reading


class ReadModels(CatchUp, Reading):
    """The persisted read models of one ledger: catch-up (:mod:`.catchup`) and reading
    (:mod:`.reading`) over one connection (:mod:`.base`)."""


from projections.persisted.schema import NAME, TABLES  # noqa: E402


def __getattr__(name: str) -> object:
    """``audit_year`` and ``cut_log``, imported on first use (they fold: a query for "now"
    does without them)."""
    if name in ("audit_year", "cut_log"):
        from projections.persisted import fastaudit

        return getattr(fastaudit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["NAME", "TABLES", "ReadModels", "audit_year", "cut_log"]
