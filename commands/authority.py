"""`grants deauthorise` and `grants authorisations` (authority that can end, and is
visible), and `grants object` (the accounting object a region books a grant on)."""

from __future__ import annotations

import click

from commands import params as p
from commands.options import CONTEXT, done, time_options, with_grant
from commands.session import Session, pass_session
from ledger.values import Region

AUTHORISATION_COLUMNS = [
    ("region", "region"), ("region_name", "name"), ("person", "person"), ("role", "role"),
    ("from", "from"), ("until", "until"), ("recorded_on", "recorded on"),
]


@click.command(context_settings=CONTEXT)
@with_grant
@click.option("--region", required=True, type=p.REGION)
@click.option("--person", required=True, help="The authorised person, as authorised (case and spacing aside).")
@click.option("--from", "ends_from", required=True, type=p.DATE,
              help="The first day the person may no longer decide.")
@pass_session
def deauthorise(s: Session, grant_id: str, region: str, person: str, ends_from) -> None:
    """End a person's authority to decide for a region from a day on.

    Their decisions, amendments and revocations dated on or after --from are refused
    (those recorded earlier stay, and compliance names any dated from then on). Sending
    it again, or a later day, records nothing; a person never authorised for the region
    is refused.

    \b
    Example:
      grants deauthorise professionsmiljarden --region Jämtland --person "Anna Berg" --from 2019-01-01
    """
    recorded = s.app.deauthorise(grant_id, region, person.strip(), ends_from, s.user)
    done(recorded, f"{' '.join(person.split())} may not decide for {Region(region)} "
                    f"from {ends_from.isoformat()}")


@click.command(context_settings=CONTEXT)
@with_grant
@click.option("--region", type=p.REGION, default=None, help="Only this region.")
@time_options
@pass_session
def authorisations(s: Session, grant_id: str, region: str | None, as_of, position: int | None) -> None:
    """Who may decide for each region: person, role, from, until (the effective end:
    the earlier of --until and the day before a deauthorisation) and the day each
    authorisation was recorded.

    \b
    Example:
      grants authorisations professionsmiljarden --region Jämtland
      grants --format csv authorisations professionsmiljarden
    """
    rows = s.answer(s.read.authorisations(grant_id, region, position=position, as_of=as_of), grant_id)
    s.out(rows, AUTHORISATION_COLUMNS, "(no authorisations recorded)")


@click.command("object", context_settings=CONTEXT)
@with_grant
@click.option("--region", required=True, type=p.REGION)
@click.option("--object", "object_code", required=True, type=p.IdType("accounting object"),
              help="The object the region books the grant's costs on in its books.")
@pass_session
def region_object(s: Session, grant_id: str, region: str, object_code: str) -> None:
    """Record the accounting object a region books GRANT on, when it is not the grant's own
    (`grant define --accounting-object`).

    `spend` books on it when --object is left out, compliance flags bookings on any
    other object, and `sie import` takes the grant's cost rows on it. Sending it again
    records nothing.

    \b
    Example:
      grants object professionsmiljarden --region Västerbotten --object 7710
    """
    recorded = s.app.set_region_object(grant_id, region, object_code, s.user)
    done(recorded, f"{Region(region)} books {grant_id} on object {object_code}")

