"""The Grant aggregate: the grant's definition, its yearly agreements, and who may decide.

Small and rarely written: one definition, one agreement a year, a few authorisations.
Allocations, commitments and bookings live in the smaller RegionYear and Decision
aggregates, so the grant is never a hot spot.
"""

from __future__ import annotations

import datetime
from uuid import UUID

import attrs
from eventsourcing.domain import Aggregate, event

from ledger.clock import recorded_day
from ledger.ids import grant_uuid  # noqa: F401 (re-exported: the id is the grant's)
from ledger.errors import Duplicate, Insufficient, Malformed, NotFound, Refused, Unauthorised, did_you_mean
from ledger.terms import Agreement, Authorisation, from_stored, stored, stored_amendable
from ledger.values import Amount, Region



class Grant(Aggregate):
    """An earmarked state grant: its period, purposes, agreements and authorised deciders."""

    TOPIC = "grants:Grant"

    class Created(Aggregate.Created):
        """The library's generic creation event; unused, named so stored topics stay stable."""

        TOPIC = "grants:Grant.Created"

    @staticmethod
    def create_id(grant_id: str) -> UUID:
        return grant_uuid(grant_id)

    # ------------------------------------------------------------------ definition

    @classmethod
    def define(
        cls,
        grant_id: str,
        name: str,
        first_year: int,
        last_year: int,
        purposes: list[list[str]],
        category: str,
        accounting_object: str,
        recorded_by: str,
    ) -> Grant:
        """Define a grant, refusing an empty name, an inverted period or no purposes."""
        if not name.strip():
            raise Malformed("the grant needs a name (--name)")
        if last_year < first_year:
            raise Malformed(f"the grant's period {first_year}-{last_year} is inverted")
        if not purposes:
            raise Malformed("the grant needs at least one purpose (--purpose CODE=TEXT)")
        codes = [p[0] for p in purposes]
        if len(set(codes)) != len(codes):
            raise Malformed(f"purpose codes repeat: {', '.join(codes)}")
        return cls(
            grant_id=grant_id,
            name=name.strip(),
            first_year=first_year,
            last_year=last_year,
            purposes=[[c, t] for c, t in purposes],
            category=category,
            accounting_object=accounting_object,
            recorded_by=recorded_by,
        )

    @event("Defined", topic="grants:Grant.Defined/v1")
    def __init__(
        self,
        grant_id: str,
        name: str,
        first_year: int,
        last_year: int,
        purposes: list,
        category: str,
        accounting_object: str,
        recorded_by: str,
    ) -> None:
        self.grant_id = grant_id
        self.name = name
        self.first_year = first_year
        self.last_year = last_year
        self.purposes: dict[str, str] = {c: t for c, t in purposes}
        self.category = category
        self.accounting_object = accounting_object
        self.agreements: dict[int, Agreement] = {}
        self.authorisations: list[Authorisation] = []
        self.pot_allocated: dict[tuple[int, str], int] = {}
        self.region_objects: dict[str, str] = {}  # region -> the object it books the grant on

    def same_definition(
        self, name: str, first_year: int, last_year: int, purposes: list[list[str]],
        category: str, accounting_object: str,
    ) -> bool:
        """True when a repeated `define` says exactly what is already defined."""
        return (
            self.name == name.strip()
            and (self.first_year, self.last_year) == (first_year, last_year)
            and self.purposes == {c: t for c, t in purposes}
            and self.category == category
            and self.accounting_object == accounting_object
        )

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)

    # ------------------------------------------------------------------ checks others rely on

    def check_year(self, year: int) -> None:
        if year not in self.years:
            raise Refused(
                f"{self.grant_id} runs {self.first_year}-{self.last_year}; {year} is outside its period"
            )

    def check_purpose(self, purpose: str) -> None:
        if purpose not in self.purposes:
            guess = did_you_mean(purpose, self.purposes)
            raise Refused(
                f"{purpose!r} is not a purpose of {self.grant_id} "
                f"({guess + ' ' if guess else ''}its purposes: {', '.join(self.purposes)})"
            )

    def agreement(self, year: int) -> Agreement:
        try:
            return self.agreements[year]
        except KeyError:
            raise NotFound(f"no agreement is signed for {self.grant_id} {year}") from None

    def check_pot(self, year: int, pot: str) -> Agreement:
        agreement = self.agreement(year)
        if pot not in agreement.pots:
            raise NotFound(
                f"{self.grant_id} {year} has no pot {pot!r} (its pots: {', '.join(agreement.pots)})"
            )
        return agreement

    def is_authorised(self, region: str, person: str, on: datetime.date) -> bool:
        return any(a.region == region and a.covers(person, on) for a in self.authorisations)

    def authorisations_in(self, region: str, person: str | None = None) -> list[Authorisation]:
        """The region's authorisations (only the person's, given one), in recording order."""
        return [a for a in self.authorisations
                if a.region == region and (person is None or a.is_of(person))]

    def decider_name(self, region: str, person: str, on: datetime.date | None = None) -> str:
        """The person's name as authorised for the region, preferring an authorisation that
        covers ``on`` (as typed, trimmed, if never authorised there)."""
        own = self.authorisations_in(region, person)
        for a in own:
            if on is not None and a.covers(person, on):
                return a.person
        return own[0].person if own else " ".join(person.split())

    def check_decider(self, region: str, person: str, on: datetime.date) -> str:
        """Only an authorised health-care director of the region may commit the grant.

        Returns the person's name as authorised (what a decision stores as its decider).
        """
        for a in self.authorisations_in(region, person):
            if a.covers(person, on):
                return a.person
        own = self.authorisations_in(region, person)
        if own:
            which = "; ".join(f"{a.role} {a.dates()}" for a in own)
            why = f" ({own[0].person}'s authorisations for {Region(region)}: {which})"
        else:
            known = [f"{a.person} {a.dates()}" for a in self.authorisations_in(region)]
            why = (f" (authorised for {Region(region)}: {'; '.join(known)})" if known
                   else f" (nobody is authorised for {Region(region)})")
        raise Unauthorised(
            f"{person} is not authorised to decide for {Region(region)} on {on.isoformat()}{why}"
        )

    # ------------------------------------------------------------------ agreements

    def sign_agreement(self, terms: Agreement, recorded_by: str) -> bool:
        """Record the year's agreement; an identical repeat records nothing (returns False).

        Signed again saying the same but for its amendable terms (the report's due date,
        the deadlines, carry-over, what the report must hold), it records an amendment,
        signed on the new ``signed_on``; the same amendment again records nothing.
        """
        year = terms.year
        self.check_year(year)
        if not terms.pots:
            raise Malformed("an agreement needs at least one pot (--pot NAME=AMOUNT)")
        for name, amount in terms.pots.items():
            if amount <= 0:
                raise Malformed(f"pot {name!r} must be a positive amount, not {Amount(amount)}")
        for pot, purpose in terms.earmarks.items():
            if pot not in terms.pots:
                raise Malformed(f"--earmark names pot {pot!r}, which the agreement lacks")
            self.check_purpose(purpose)
        if year in self.agreements:
            return self._amend_agreement(self.agreements[year], terms, recorded_by)
        fields = stored(terms)
        if terms.has_new_terms:
            self._agreement_signed_with_terms(**fields, recorded_by=recorded_by)
        else:  # what the first version held, as it held it (a history stays as it was written)
            for name in Agreement.AMENDABLE[1:]:
                del fields[name]
            self._agreement_signed(**fields, recorded_by=recorded_by)
        return True

    def _amend_agreement(self, current: Agreement, terms: Agreement, recorded_by: str) -> bool:
        year = terms.year
        same_terms = current.amendable() == terms.amendable()
        if same_terms and terms.signed_on in (current.signed_on, current.amended_on) \
                and current.same_but_amendable(terms):
            return False
        if same_terms or not current.same_but_amendable(terms):
            raise Duplicate(
                f"{self.grant_id} {year} already has an agreement signed on "
                f"{current.signed_on.isoformat()} with other content (an amendment may change only "
                "--report-due, --requisition-by, --repay-unused-by, --carry-over and --report-asks)"
            )
        since = current.amended_on or current.signed_on
        if terms.signed_on <= since:
            raise Refused(
                f"an amendment of {self.grant_id}'s {year} agreement is signed after "
                f"{since.isoformat()}, when it was last signed; not on {terms.signed_on.isoformat()}"
            )
        self._agreement_amended(year=year, amended_on=terms.signed_on, **stored_amendable(terms),
                                recorded_by=recorded_by)
        return True

    @event("AgreementSigned", topic="grants:Grant.AgreementSigned/v1")
    def _agreement_signed(
        self, year: int, signed_on: datetime.date, pots: list, earmarks: list,
        report_due: datetime.date, payer: str, report_to: str,
        population_date: datetime.date | None, ref: str, recorded_by: str,
    ) -> None:
        self.agreements[year] = from_stored(Agreement, locals())  # the event's fields that are its terms

    @event("AgreementSignedWithTerms", topic="grants:Grant.AgreementSigned/v2")
    def _agreement_signed_with_terms(
        self, year: int, signed_on: datetime.date, pots: list, earmarks: list,
        report_due: datetime.date, payer: str, report_to: str,
        population_date: datetime.date | None, ref: str, requisition_by: datetime.date | None,
        repay_unused_by: datetime.date | None, carry_over: str, report_asks: list, recorded_by: str,
    ) -> None:
        self.agreements[year] = from_stored(Agreement, locals())

    @event("AgreementAmended", topic="grants:Grant.AgreementAmended/v1")
    def _agreement_amended(
        self, year: int, amended_on: datetime.date, report_due: datetime.date,
        requisition_by: datetime.date | None, repay_unused_by: datetime.date | None,
        carry_over: str, report_asks: list, recorded_by: str,
    ) -> None:
        self.agreements[year] = attrs.evolve(
            self.agreements[year], report_due=report_due, requisition_by=requisition_by,
            repay_unused_by=repay_unused_by, carry_over=carry_over, report_asks=report_asks,
            amended_on=amended_on)

    # ------------------------------------------------------------------ allocations per pot

    def allocated_from(self, year: int, pot: str) -> Amount:
        """How much of a pot has been allocated to regions so far."""
        return Amount(self.pot_allocated.get((year, pot), 0))

    def allocate(self, year: int, pot: str, shares: dict[str, Amount], recorded_by: str) -> None:
        """Record new shares of a pot; all regions' shares together never exceed the pot."""
        agreement = self.check_pot(year, pot)
        if not shares:
            return
        size = agreement.pot_amount(pot)
        after = self.allocated_from(year, pot) + Amount(sum(a.ore for a in shares.values()))
        if after > size:
            raise Insufficient(
                f"allocations from pot {pot!r} of {self.grant_id} {year} would reach {after}, "
                f"beyond the pot's {size} by {after - size}"
            )
        self._pot_allocated(
            year=year, pot=pot, shares=[[r, a.ore] for r, a in sorted(shares.items())],
            recorded_by=recorded_by,
        )

    @event("PotAllocated", topic="grants:Grant.PotAllocated/v1")
    def _pot_allocated(self, year: int, pot: str, shares: list, recorded_by: str) -> None:
        key = (year, pot)
        self.pot_allocated[key] = self.pot_allocated.get(key, 0) + sum(a for _, a in shares)

    # ------------------------------------------------------------------ the regions' accounting objects

    def object_for(self, region: str) -> str:
        """The accounting object a region books the grant on: its own once it set one, else the grant's."""
        return self.region_objects.get(region, self.accounting_object)

    def set_region_object(self, region: str, object: str, recorded_by: str) -> bool:
        """Record the object a region books the grant on; when it already does, nothing is recorded."""
        if not object.strip():
            raise Malformed("a region's accounting object cannot be empty (--object)")
        if self.object_for(region) == object:
            return False
        self._region_object_set(region=region, object=object, recorded_by=recorded_by)
        return True

    @event("RegionObjectSet", topic="grants:Grant.RegionObjectSet/v1")
    def _region_object_set(self, region: str, object: str, recorded_by: str) -> None:
        self.region_objects[region] = object

    # ------------------------------------------------------------------ authorisations

    def authorise(
        self,
        region: str,
        person: str,
        role: str,
        valid_from: datetime.date | None,
        valid_until: datetime.date | None,
        recorded_by: str,
    ) -> bool:
        """Authorise a person to decide for a region; an identical repeat records nothing."""
        if not person.strip():
            raise Malformed("an authorisation needs the person's name (--person)")
        if valid_from and valid_until and valid_until < valid_from:
            raise Malformed(
                f"--until {valid_until.isoformat()} comes before --from {valid_from.isoformat()}"
            )
        candidate = Authorisation(region, person, role, valid_from, valid_until)
        if any(a == candidate and a.ended_from is None for a in self.authorisations):
            return False
        self._authorised(
            region=region, person=person, role=role, valid_from=valid_from,
            valid_until=valid_until, recorded_by=recorded_by,
        )
        return True

    @event("DeciderAuthorised", topic="grants:Grant.DeciderAuthorised/v1")
    def _authorised(
        self, region: str, person: str, role: str, valid_from: datetime.date | None,
        valid_until: datetime.date | None, recorded_by: str, timestamp=None,  # the event's own, not a field
    ) -> None:
        self.authorisations.append(Authorisation(
            region, person, role, valid_from, valid_until,
            recorded_on=None if timestamp is None else recorded_day(timestamp),
        ))

    def deauthorise(self, region: str, person: str, ends_from: datetime.date, recorded_by: str) -> bool:
        """End a person's authority for a region from a day on: their decisions, amendments
        and revocations dated then or later are refused. Nothing to end records nothing."""
        if not person.strip():
            raise Malformed("ending an authorisation needs the person's name (--person)")
        own = self.authorisations_in(region, person)
        if not own:
            known = ", ".join(dict.fromkeys(a.person for a in self.authorisations_in(region)))
            raise NotFound(
                f"{person} has no authorisation for {Region(region)} to end"
                + (f" (authorised there: {known})" if known else " (nobody is authorised there)")
            )
        if not any(a.reaches(ends_from) for a in own):
            return False
        self._deauthorised(region=region, person=own[0].person, ends_from=ends_from,
                           recorded_by=recorded_by)
        return True

    @event("DeciderDeauthorised", topic="grants:Grant.DeciderDeauthorised/v1")
    def _deauthorised(self, region: str, person: str, ends_from: datetime.date, recorded_by: str) -> None:
        self.authorisations = [
            attrs.evolve(a, ended_from=ends_from)
            if a.region == region and a.is_of(person) and a.reaches(ends_from) else a
            for a in self.authorisations
        ]
