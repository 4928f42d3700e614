"""The Voucher aggregate: a one-event index that makes voucher ids unique within a
region's bookings of a grant, and lets `reverse` find a booking by its voucher.

A region's voucher numbers are its own (every ERP numbers its series from 1), so two
regions may both book `2018-A-101-1`. The index key is therefore ``REGION/VOUCHER``
(:func:`index_key`), which the Registered event stores as its ``voucher``; histories
recorded before regions had their own numbering hold keys without a region, which stay
valid and keep their voucher ids taken in every region (:func:`keys_of`).
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.ids import voucher_uuid  # noqa: F401 (re-exported: the id is the index's)


def index_key(region: str, voucher: str) -> str:
    """The index key of a voucher booked in a region: ``23/2018-A-101-1``."""
    return f"{region}/{voucher}"


def keys_of(voucher: str, regions: list[str]) -> list[str]:
    """The keys a voucher may be indexed under: a grant-wide one (histories recorded before
    regions had their own numbering), then one per region."""
    return [voucher] + [index_key(r, voucher) for r in regions]


class Voucher(Aggregate):
    """Index: a voucher id's key (unique within the grant: region/voucher) and the decision
    it is booked on."""

    TOPIC = "grants:Voucher"

    class Created(Aggregate.Created):
        """The library's generic creation event; unused, named so stored topics stay stable."""

        TOPIC = "grants:Voucher.Created"

    @staticmethod
    def create_id(grant_id: str, voucher: str) -> UUID:
        return voucher_uuid(grant_id, voucher)

    @event("Registered", topic="grants:Voucher.Registered/v1")
    def __init__(self, grant_id: str, voucher: str, decision_id: str, recorded_by: str) -> None:
        self.grant_id = grant_id
        self.voucher = voucher
        self.decision_id = decision_id
