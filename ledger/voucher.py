"""The Voucher aggregate: a one-event index that makes voucher ids unique within a grant
and lets `reverse` find a booking by its voucher alone."""

from __future__ import annotations

from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from ledger.grant import NAMESPACE


def voucher_uuid(grant_id: str, voucher: str) -> UUID:
    return uuid5(NAMESPACE, f"voucher/{grant_id}/{voucher}")


class Voucher(Aggregate):
    """Index: a voucher id, unique within the grant, and the decision it is booked on."""

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
