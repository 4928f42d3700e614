"""Allocation by population: the largest remainder (Hamilton) method, to the whole krona."""

from __future__ import annotations

from ledger.errors import Malformed
from ledger.values import Amount


def apportion(amount: Amount, populations: dict[str, int]) -> dict[str, Amount]:
    """Split ``amount`` between regions in proportion to population, in whole kronor.

    Each region first gets the whole kronor of its exact quota (amount × population /
    total population); the kronor left over go one each to the largest remainders.
    Ties go to the larger population, then the lower county code. The shares always
    sum to ``amount`` exactly, and each share is less than one krona from its quota.
    All arithmetic is on integers, so no rounding error can creep in.
    """
    if amount.ore % 100:
        raise Malformed(f"allocation by population apportions whole kronor; {amount} has öre")
    if amount.is_negative:
        raise Malformed(f"cannot apportion a negative amount ({amount})")
    if not populations:
        raise Malformed("allocation by population needs at least one region")
    for code, people in populations.items():
        if people < 0:
            raise Malformed(f"region {code} has a negative population ({people})")
    kronor = amount.ore // 100
    people_total = sum(populations.values())
    if people_total == 0:
        raise Malformed("allocation by population needs a total population above zero")

    floors: dict[str, int] = {}
    remainders: dict[str, int] = {}
    for code, people in populations.items():
        floors[code], remainders[code] = divmod(kronor * people, people_total)

    left = kronor - sum(floors.values())
    order = sorted(populations, key=lambda c: (-remainders[c], -populations[c], c))
    for code in order[:left]:
        floors[code] += 1
    return {code: Amount.kronor(kr) for code, kr in floors.items()}
