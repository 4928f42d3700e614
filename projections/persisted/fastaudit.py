"""A year's audit from the read models: the same answer as folding the whole prefix, fast."""

from __future__ import annotations

from typing import TYPE_CHECKING


import datetime


from projections.bounds import Cut, is_boundary, whole_commands
from projections.digest import Digest
from projections.persisted.store import _row_bounds, _rows_from, _stamp

if TYPE_CHECKING:  # annotations only: the package's class is made of these modules; the
    # application and the audit's fold are not needed to find a cut (an as-of balance)
    from ledger.application import GrantLedger
    from projections.persisted import ReadModels


def audit_year(models: ReadModels, app: GrantLedger, grant_id: str, year: int, region: str | None,
               position: int | None, as_of: datetime.datetime | None, on: datetime.date,
               cut: Cut | None = None) -> dict:
    """The same audit as folding the whole prefix (``projections.audit.audit``), fast.

    The digest starts from the nearest checkpoint that is a command boundary and hashes
    only the events after it. The replay stops where the fold's does: in whole commands
    (``projections.bounds.whole_commands``; ``cut`` says where and why). The aggregates a
    year's audit needs (the grant, the year's region-years and the decisions that ever
    had money in the year) are taken as they stood at the cut: as they stand now when
    unchanged since, else from their last kept state before it plus their own events up
    to it. The lines it lists are read from the persisted history.
    """
    cut = cut if cut is not None else Cut()
    reached, value, last_stamp = cut_log(models, app, position, as_of, cut, digest=True)
    from projections.audit import audit
    from projections.fold import LedgerView

    view = LedgerView(position=reached)
    for aggregate in models.states_at(app, models.year_heads(grant_id, year, region), reached):
        view.hold(aggregate)
    return audit(view, value, grant_id, year, region, as_of, on, last_stamp,
                 models.year_events(grant_id, year, region, reached))


def cut_log(models: ReadModels, app: GrantLedger, position: int | None, as_of: datetime.datetime | None,
            cut: Cut, digest: bool = False) -> tuple[int, str, datetime.datetime | None]:
    """Where the fold of the log's prefix up to ``position``/``as_of`` stops, in whole commands
    (``cut`` says where and why, as the fold's does), read from the nearest checkpoint that is a
    command boundary (at most one checkpoint's span of events, plus the command a limit splits):
    the position answered, the digest there (with ``digest``; else the checkpoint's) and the
    recording time of the last event answered (with ``digest``)."""
    models.catch_up(app)
    head = models.position()
    limit = head if position is None else min(position, head)
    start, value = models.checkpoint_before(position=limit, as_of=as_of)
    while start and not is_boundary(models._stored(start, 3), _row_bounds):
        start, value = models.checkpoint_before(position=start - 1, as_of=as_of)
    chain = Digest()
    chain.value = value
    reached, last_stamp = start, None
    cut.answered = start
    if position is not None or as_of is not None:
        rows = whole_commands(_rows_from(models, start + 1, head), _row_bounds, position, as_of, cut)
    else:
        rows = _rows_from(models, start + 1, head)
    for position_, originator_id, version, topic, state in rows:
        if digest:
            chain.add_stored(topic, originator_id, version, state)
            last_stamp = _stamp(state, position_)
        reached = position_
    cut.answered = reached
    if digest and last_stamp is None and reached:
        last_stamp = _stamp(models._stored(reached, 1)[0][4], reached)
    return reached, chain.value, last_stamp
