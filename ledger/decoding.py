"""Reading a stored event back: the ledger's own mapper, with no application around it.

A store is untrusted input. The event library's mapper would import whatever module a
stored topic names and accept whatever fields the stored JSON holds; :class:`CheckedMapper`
looks the topic up in the ledger's catalogue (:mod:`ledger.events`, which imports an
aggregate's module only for its own topics) and checks every field's name and type first.
Dates are stored as ISO strings (:class:`DateAsISO`). :class:`~ledger.persistence.StoredLedger`
reads with it; so does a query that reads one aggregate's own rows (``show decision``),
through :func:`mapper`, without opening the application (nor importing every aggregate).
"""

from __future__ import annotations

import datetime
import functools
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, StoredEvent,
                                       Transcoding, UUIDAsHex)

from ledger.errors import Corrupt
from ledger.events import CATALOGUE, fault


class DateAsISO(Transcoding):
    """Stores a :class:`datetime.date` as its ISO string."""

    type = datetime.date
    name = "date_iso"

    def encode(self, obj: datetime.date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> datetime.date:
        return datetime.date.fromisoformat(data)


class CheckedMapper(Mapper):
    """Turns stored rows into the ledger's own events only (see :mod:`ledger.events`).

    The library's mapper would import whatever module a stored topic names and accept
    whatever fields the stored JSON holds; this one looks the topic up in the ledger's
    catalogue and checks every field's name and type first. A row that fails is
    :class:`Corrupt` (the caller names its position).
    """

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = CATALOGUE.get(stored_event.topic)
        if cls is None:
            raise Corrupt(f"its topic {str(stored_event.topic)[:60]!r} is not one of the ledger's events")
        try:
            state = self.transcoder.decode(stored_event.state)
        except Exception as e:  # not JSON, not UTF-8, an unknown tag, nesting beyond reason
            raise Corrupt(f"its stored state is not readable ({type(e).__name__})") from None
        if type(state) is not dict:
            raise Corrupt("its stored state is not an object")
        wrong = fault(cls, state)
        if wrong:
            raise Corrupt(f"its fields do not fit {stored_event.topic}: {wrong}")
        if type(stored_event.originator_version) is not int or stored_event.originator_version < 1:
            raise Corrupt("its version is not a positive whole number")
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, UUID):
            try:
                originator_id = UUID(str(originator_id))
            except ValueError:
                raise Corrupt("it names no valid aggregate") from None
        state["originator_id"] = originator_id
        state["originator_version"] = stored_event.originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event


def register_transcodings(transcoder: JSONTranscoder) -> None:
    """The transcodings every ledger stores with: the event library's own (ids, decimals,
    times) and dates as ISO strings (the application registers these, and so does
    :func:`mapper`)."""
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)


@functools.cache
def mapper() -> CheckedMapper:
    """The mapper a ledger reads with, without the application; made once per process."""
    transcoder = JSONTranscoder()
    register_transcodings(transcoder)
    return CheckedMapper(transcoder=transcoder)


def decoded(mapper: Mapper, stored: StoredEvent, position: int) -> Any:
    """A stored event as a domain event; one that cannot be read back is Corrupt."""
    try:
        return mapper.to_domain_event(stored)
    except Exception as e:  # undecodable bytes, an unknown topic, a missing field
        detail = str(e) if isinstance(e, Corrupt) else type(e).__name__
        raise Corrupt(f"the stored event at position {position} cannot be read back ({detail}); "
                      "the stored history was altered (see grants verify)") from None
