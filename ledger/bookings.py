"""A decision's bookings: the Booking value and how a decision holds them, as a dict of
Bookings or, loaded from a kept state, as packed arrays (see ``ledger.states``), which
its later events extend without unpacking the others."""

from __future__ import annotations

import datetime

import attrs

from ledger.errors import NotFound
from ledger.values import Amount


@attrs.frozen
class Booking:
    """A cost booked against the decision for one year, on an accounting object."""

    voucher: str
    year: int
    amount: int
    booked_on: datetime.date
    object: str
    text: str
    reversed_on: datetime.date | None = None
    reversal_reason: str = ""

    def same_booking(self, other: Booking) -> bool:
        keys = ("voucher", "year", "amount", "booked_on", "object", "text")
        return all(getattr(self, k) == getattr(other, k) for k in keys)

    @property
    def is_reversed(self) -> bool:
        return self.reversed_on is not None


def _pack(b: Booking) -> tuple:
    return (b.voucher, b.year, b.amount, b.booked_on.toordinal(), b.object, b.text,
            None if b.reversed_on is None else b.reversed_on.toordinal(), b.reversal_reason)


def _unpack(t: tuple) -> Booking:
    return Booking(t[0], t[1], t[2], datetime.date.fromordinal(t[3]), t[4], t[5],
                   None if t[6] is None else datetime.date.fromordinal(t[6]), t[7])


class PackedBookings:
    """Mixed into Decision (which names itself by ``decision_id``): its bookings, by voucher."""

    @property
    def bookings(self) -> dict[str, Booking]:
        """Every booking, by voucher (unpacked on first use after a kept state is loaded:
        the read models keep bookings as plain arrays, see ``ledger.states``)."""
        bookings = self._bookings
        if bookings is None:  # the packed arrays stay (never read again once unpacked): a state
            # the read models share between a server's threads may be unpacked by two at once
            bookings = self._bookings = {t[0]: _unpack(t) for t in self._packed}
        return bookings

    @bookings.setter
    def bookings(self, value: dict[str, Booking]) -> None:
        self._bookings = value
        self._packed = None
        self._vouchers: set[str] | None = None  # the packed bookings' vouchers, once asked
        self._owned = False  # whether the packed list is this decision's own to change

    # A kept state's bookings stay packed as its later events are applied (a fast as-of
    # answer applies a few events to hundreds of decisions): these change the packed list,
    # copied first (a kept state's list may be shared by readers), and never unpack it.

    def has_voucher(self, voucher: str) -> bool:
        """Whether a booking with this voucher is on the decision."""
        if self._bookings is not None:
            return voucher in self._bookings
        if self._vouchers is None:
            self._vouchers = {t[0] for t in self._packed}
        return voucher in self._vouchers

    def vouchers(self) -> list[str]:
        """The vouchers of every booking on the decision (without unpacking them)."""
        if self._bookings is not None:
            return list(self._bookings)
        return [t[0] for t in self._packed]

    def booking_or_none(self, voucher: str) -> Booking | None:
        """The booking with this voucher, if any (without unpacking the others)."""
        if self._bookings is not None:
            return self._bookings.get(voucher)
        if not self.has_voucher(voucher):
            return None
        return next(_unpack(t) for t in self._packed if t[0] == voucher)

    def _own_packed(self) -> list:
        if not self._owned:
            self._packed, self._owned = list(self._packed), True
        return self._packed

    def _add(self, booking: Booking) -> None:
        if self._bookings is not None:
            self._bookings[booking.voucher] = booking
            return
        self._own_packed().append(_pack(booking))
        if self._vouchers is not None:
            self._vouchers.add(booking.voucher)

    def _replace(self, booking: Booking) -> None:
        if self._bookings is not None:
            self._bookings[booking.voucher] = booking
            return
        packed = self._own_packed()
        packed[next(i for i, t in enumerate(packed) if t[0] == booking.voucher)] = _pack(booking)

    def live_bookings_off(self, year: int, object: str) -> list[Booking]:
        """The year's unreversed bookings on another accounting object than ``object``."""
        if self._bookings is None:
            return [_unpack(t) for t in self._packed if t[1] == year and t[6] is None and t[4] != object]
        return [b for b in self._bookings.values()
                if b.year == year and not b.is_reversed and b.object != object]

    def carried_over(self, year: int) -> Amount:
        """What of the year's money its live bookings spent in a later year (carried over)."""
        if self._bookings is None:
            first = datetime.date(year + 1, 1, 1).toordinal()
            return Amount(sum(t[2] for t in self._packed if t[1] == year and t[6] is None and t[3] >= first))
        return Amount(sum(b.amount for b in self._bookings.values()
                          if b.year == year and not b.is_reversed and b.booked_on.year > year))

    def booking(self, voucher: str) -> Booking:
        found = self.booking_or_none(voucher)
        if found is None:
            raise NotFound(f"no booking with voucher {voucher} on decision {self.decision_id}")
        return found
