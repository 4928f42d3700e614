"""The recording day: the day, in Sweden, on which something is recorded.

The date rules (nothing dated after the day it is recorded) and the late-recording flags
compare a fact's own date with the day it was recorded. That day is the recording moment's
date in Europe/Stockholm, where the regions keep their books. Should the system lack the
time-zone database, it is the date at UTC+1 (Swedish standard time): at most an hour off in
summer, so a recording between 00:00 and 01:00 summer time may count as the day before.
"""

from __future__ import annotations

import datetime

from ledger.errors import Refused

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZONE: datetime.tzinfo = ZoneInfo("Europe/Stockholm")
    except ZoneInfoNotFoundError:  # pragma: no cover - a system without tzdata
        ZONE = datetime.timezone(datetime.timedelta(hours=1), "CET")
except ImportError:  # pragma: no cover
    ZONE = datetime.timezone(datetime.timedelta(hours=1), "CET")

# An authorisation whose --from, or a decision whose date, lies more than this many days
# before the day it was recorded is flagged by `compliance` and `audit` (docs/auditing.md).
LATE_AFTER_DAYS = 30


def now() -> datetime.datetime:
    """The current moment, with its offset (the ledger's default clock)."""
    return datetime.datetime.now(datetime.timezone.utc)


def recorded_day(moment: datetime.datetime) -> datetime.date:
    """The day in Sweden of a recording moment (a time with an offset)."""
    return moment.astimezone(ZONE).date()


def days_late(dated: datetime.date | None, recorded_on: datetime.date | None) -> int:
    """How many days after its own date something was recorded (0 when not before)."""
    if dated is None or recorded_on is None:
        return 0
    return max(0, (recorded_on - dated).days)


def is_late(dated: datetime.date | None, recorded_on: datetime.date | None) -> bool:
    """Recorded more than LATE_AFTER_DAYS days after its own date."""
    return days_late(dated, recorded_on) > LATE_AFTER_DAYS


def not_after_today(dated: datetime.date, today: datetime.date, what: str) -> None:
    """The date rule: nothing is dated after ``today``, the day it is recorded."""
    if dated > today:
        raise Refused(f"{what} {dated.isoformat()}, after the day it is recorded ({today.isoformat()})")
