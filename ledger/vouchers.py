"""Finding bookings by voucher: the voucher index's keys asked of the store.

A voucher id is unique within a region's bookings of a grant (see :mod:`ledger.voucher`
for the ``REGION/VOUCHER`` key and the grant-wide keys of older histories). These lookups
are mixed into :class:`ledger.application.GrantLedger`, which provides ``_get``,
``decision`` and the recorder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from ledger.errors import NotFound, Refused
from ledger.library import existing, is_postgres, is_sql, recorder_table, run_on_recorder
from ledger.values import Region
from ledger.voucher import keys_of, voucher_uuid


class VoucherLookups:
    """Which decision a voucher is booked on, one at a time or many at once."""

    def decision_of_voucher(self: Any, grant_id: str, voucher: str, region: str | None = None) -> Any:
        """The decision a voucher is booked on: in ``region``, or the one region that has it."""
        regions = [region] if region else [r.code for r in Region.all()]
        found = dict(self._indexed(grant_id, keys_of(voucher, regions)))
        if not found:
            where = f" for {Region(region)}" if region else ""
            raise NotFound(f"unknown voucher {voucher!r} in {grant_id}{where}")
        if len(found) > 1:
            raise Refused(f"voucher {voucher} is booked in several regions ("
                          f"{', '.join(k.split('/')[0] for k in found if '/' in k)}): say which with --region")
        return self.decision(grant_id, next(iter(found.values())))

    def vouchers_taken(self: Any, grant_id: str, region: str, vouchers: Sequence[str]) -> dict[str, str]:
        """Of these vouchers, those already booked in the region (or grant-wide), with their
        decision: one query per 500, then a load of each one taken."""
        if not is_sql(self.recorder):  # the in-memory store the state machine runs on: one by one
            return {v: d for v in vouchers if (d := self.voucher_taken(grant_id, region, v)) is not None}
        keys = {voucher_uuid(grant_id, k): v for v in vouchers for k in keys_of(v, [region])}
        taken: dict[str, str] = {}
        for found in existing(run_on_recorder(self.recorder), is_postgres(self), list(keys),
                              table=recorder_table(self.recorder)):
            taken.setdefault(keys[found], self._get(found).decision_id)
        return taken

    def voucher_taken(self: Any, grant_id: str, region: str, voucher: str) -> str | None:
        """The decision a voucher is already booked on in the region (or grant-wide), if any."""
        for _, decision_id in self._indexed(grant_id, keys_of(voucher, [region])):
            return decision_id
        return None

    def _indexed(self: Any, grant_id: str, keys: list[str]) -> list[tuple[str, str]]:
        """Of these index keys, those taken, in the order given, with their decision: one query
        for which exist (on SQL stores), then a load of each one that does."""
        ids = {key: voucher_uuid(grant_id, key) for key in keys}
        if is_sql(self.recorder):
            taken = existing(run_on_recorder(self.recorder), is_postgres(self), list(ids.values()),
                             table=recorder_table(self.recorder))
            return [(key, self._get(i).decision_id) for key, i in ids.items() if i in taken]
        found = []
        for key, i in ids.items():
            try:
                found.append((key, self._get(i).decision_id))
            except AggregateNotFoundError:
                continue
        return found
