"""Where one command's atomic write begins and ends, told from the stored events alone.

A command may write several events in one transaction: `allocate` a Grant's
PotAllocated, then each region-year's Opened (when new) and Allocated; `decide`,
`amend`, `revoke` and `reverse` a Decision event, then region-years' CommitmentSet
(each new region-year's Opened first); `spend` a Decision's Spent and the Voucher's
Registered; and a command's first event for a new region-year is its Opened, followed
by the event the command records. A replay cut inside such a write would show half a command (half an
allocation; a decision without its commitments, which no reconciliation survives).

No stored field says where a command ends, but the events say it: a *follower* event
(a region-year's Allocated or CommitmentSet, a voucher's Registered, and a region-year's
Opened whose next event is one of those), and the event right after its own
region-year's Opened, belong to the command of the event before them; every other
event begins a command. :func:`whole_commands` cuts a replay there,
as of the START of the command the cut fell inside, for a position and for a moment
alike, and :class:`Cut` says what it did, for a note to the reader.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import attrs

R = TypeVar("R")

# the kinds of event (topic without its version) that never begin a command
FOLLOWERS = frozenset({"grants:RegionYear.Allocated", "grants:RegionYear.CommitmentSet",
                       "grants:Voucher.Registered"})
OPENED = "grants:RegionYear.Opened"


def kind_of(topic: str) -> str:
    """An event's kind: its topic without the version (``…/v1`` and a later ``…/v2`` alike)."""
    return topic.rsplit("/", 1)[0]


def follows(topic: str, aggregate: Any, next_topic: str | None = None, next_aggregate: Any = None,
            previous_topic: str | None = None, previous_aggregate: Any = None) -> bool:
    """Whether an event belongs to the command of the event before it (see the module):
    it is a follower, or an Opened whose next event is one, or the event right after its
    own aggregate's Opened (a region-year is never saved with its Opened alone: `frame`
    writes Opened and PlanningFrameSet, `close` Opened and YearClosed)."""
    kind = kind_of(topic)
    if kind in FOLLOWERS:
        return True
    if previous_topic is not None and previous_aggregate == aggregate and kind_of(previous_topic) == OPENED:
        return True
    return (kind == OPENED and next_topic is not None and next_aggregate == aggregate
            and kind_of(next_topic) in FOLLOWERS)


@attrs.define
class Cut:
    """What a replay limited by a position or a moment answered, and why.

    ``answered`` is the last position replayed (0: nothing); ``split`` the first and
    last positions of the command the limit fell inside (answered as of its start);
    ``beyond`` the log's last position when a position past it was asked.
    """

    position: int | None = None
    as_of: datetime.datetime | None = None
    answered: int = 0
    split: tuple[int, int] | None = None
    beyond: int | None = None
    by: str = ""  # which limit split a command: "position" or "moment"

    def notes(self) -> list[str]:
        """One line per thing the reader should know about the answer (for stderr)."""
        out = []
        if self.split is not None:
            first, last = self.split
            limit = (f"position {self.position}" if self.by == "position"
                     else f"the moment {self.as_of.isoformat() if self.as_of else '-'}")
            out.append(f"{limit} falls inside one command's atomic write (positions {first}-{last}); "
                       f"answered as of the start of that command: positions 1-{self.answered}")
        if self.beyond is not None:
            out.append(f"position {self.position} is beyond the log, which ends at position {self.beyond}; "
                       f"answered as of its end")
        return out


def whole_commands(records: Iterable[R], describe: Callable[[R], tuple[int, str, Any, datetime.datetime]],
                   position: int | None = None, as_of: datetime.datetime | None = None,
                   cut: Cut | None = None) -> Iterator[R]:
    """The records of the commands wholly within the first ``position`` positions and
    recorded by ``as_of``, in log order, up to the first command that is not.

    ``describe(record)`` gives its (position, topic, aggregate id, recording time).
    The records should run from a command boundary; they are read one past each limit,
    and to the end of a command the limit falls inside (to say which positions it
    spans). ``cut`` (if given, its ``answered`` the position the records start after)
    is filled in: the position answered, the command split,
    the log's end when ``position`` lies beyond it.
    """
    cut = cut if cut is not None else Cut(position, as_of)
    cut.position, cut.as_of = position, as_of
    pending: list[R] = []  # the command being read, not yet known to be whole
    stopped = False  # a record beyond the limits was met inside the pending command
    last = cut.answered  # the position the records start after
    it = iter(records)
    record = next(it, None)
    described = describe(record) if record is not None else None
    before: tuple | None = None
    while record is not None:
        following = next(it, None)
        after = describe(following) if following is not None else None
        at, topic, aggregate, stamp = described
        if not follows(topic, aggregate, after[1] if after else None, after[2] if after else None,
                       before[1] if before else None, before[2] if before else None):
            if stopped:  # the split command has ended
                break
            yield from pending  # the command before this one is whole
            if pending:
                cut.answered = describe(pending[-1])[0]
            pending = []
            if not _within(at, stamp, position, as_of):
                return  # the limit falls between two commands
        elif not stopped and not _within(at, stamp, position, as_of):
            stopped = True
            cut.by = "position" if position is not None and at > position else "moment"
        pending.append(record)
        last = at
        record, before, described = following, described, after
    if stopped:
        cut.split = (describe(pending[0])[0], describe(pending[-1])[0])
        return
    yield from pending
    if pending:
        cut.answered = describe(pending[-1])[0]
    if position is not None and position > last:
        cut.beyond = last


def _within(at: int, stamp: datetime.datetime, position: int | None, as_of: datetime.datetime | None) -> bool:
    return (position is None or at <= position) and (as_of is None or stamp <= as_of)


def is_boundary(records: list[R], describe: Callable[[R], tuple[int, str, Any, datetime.datetime]]) -> bool:
    """Whether a replay may stop after the first of ``records`` (the log's record at that
    position, and the next two): true when the second begins a command, or there is none."""
    if len(records) < 2:
        return True
    previous, this = describe(records[0]), describe(records[1])
    after = describe(records[2]) if len(records) > 2 else None
    return not follows(this[1], this[2], after[1] if after else None, after[2] if after else None,
                       previous[1], previous[2])
