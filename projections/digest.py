"""The digest: a SHA-256 chain over the stored events in recording order (see
``projections.audit``). A module of its own, without the aggregates: the read models keep
and check it from the event table's bytes, without decoding an event.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.errors import Corrupt

GENESIS = "sha256:" + hashlib.sha256(b"grants").hexdigest()


def raw_record(topic: str, originator_id: bytes, version: int, state: bytes) -> bytes:
    """What the digest covers of one event: its topic, aggregate (its id's 16 bytes), version
    and stored state (which holds its recording time, recorder and every field)."""
    return b"".join((topic.encode(), b"\n", originator_id, version.to_bytes(8, "big"), state))


class Digest:
    """A running hash chain over events in recording order."""

    def __init__(self) -> None:
        self._chain = bytes.fromhex(GENESIS[7:])
        self.count = 0

    @property
    def value(self) -> str:
        return "sha256:" + self._chain.hex()

    @value.setter
    def value(self, value: str) -> None:
        """Continue a chain from a value kept earlier (by the read models: untrusted, so checked)."""
        text = value.removeprefix("sha256:") if isinstance(value, str) else ""
        if not (isinstance(value, str) and value.startswith("sha256:") and len(text) == 64
                and all(c in "0123456789abcdef" for c in text)):
            raise Corrupt("the read models were altered: a digest they keep is not a digest (grants rebuild "
                          "makes them anew from the events)")
        self._chain = bytes.fromhex(text)

    def add(self, entry: Any) -> str:
        """Add a replayed event (a ``projections.fold.Entry``)."""
        from projections.audit import canonical  # the event's stored bytes: needs the ledger's mapper

        self.add_raw(canonical(entry))
        return self.value

    def add_raw(self, record: bytes) -> None:
        self._chain = hashlib.sha256(self._chain + record).digest()
        self.count += 1

    def add_stored(self, topic: str, originator_id: bytes, version: int, state: bytes) -> None:
        """Add a stored event as read from the event table."""
        self.add_raw(raw_record(topic, originator_id, version, state))
