"""The region's side: frames, requisitions, authority, decisions, bookings, reservations,
repayments, the report, closing and reopening a year.
"""

from __future__ import annotations



import click

from commands import params as p
from ledger.terms import DecisionTerms, ReportContent
from ledger.values import Amount, Region
from commands.group import cli
from commands.options import CONTEXT
from commands.session import Session, pass_session
from commands.options import done, with_grant, with_region_year


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--on", type=p.DATE, default=None, help="When the frame was set.")
@click.option("--ref", default="", help="Optional reference, unique within the grant's region-year; "
                                        "the same ref with another frame is refused.")
@pass_session
def frame(s: Session, grant_id: str, region: str, year: int, amount: Amount, on, ref: str) -> None:
    """Set a region's planning frame for a year not yet allocated.

    Decisions for that year are checked against the frame until the allocation
    arrives; an allocation below what was committed shows as a shortfall. Setting
    the frame the year already has records nothing.

    \b
    Example:
      grants frame professionsmiljarden --region Jämtland --year 2018 --amount 12000000 \\
        --on 2016-03-01 --ref RS-2016-031
    """
    recorded = s.app.set_frame(grant_id, region, year, amount, on, s.user, ref=ref.strip())
    done(recorded, f"{Region(region)} {year} planning frame {amount.pretty()}")


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--pot", required=True, type=p.CodeType("pot"))
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--on", required=True, type=p.DATE)
@click.option("--ref", required=True, help="Your reference, unique within the grant's region-year (e.g. a voucher or case number); the same ref and content again records nothing.")
@pass_session
def requisition(s: Session, grant_id: str, region: str, year: int, pot: str, amount: Amount,
                on, ref: str) -> None:
    """Requisition (part of) a region's allocation of one pot; never beyond it.

    Sending it again with the same --ref records nothing, so a retry is safe.

    \b
    Example:
      grants requisition professionsmiljarden --region 23 --year 2018 --pot stimulus \\
        --amount 8357305 --on 2018-03-01 --ref REK-2018-1
    """
    recorded = s.app.requisition(grant_id, region, year, pot, amount, on, ref.strip(), s.user)
    done(recorded, f"{Region(region)} {year} requisitioned {amount.pretty()} from pot {pot}, ref {ref.strip()}")


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--region", required=True, type=p.REGION)
@click.option("--person", required=True, help="The health-care director's name.")
@click.option("--role", default="hälso- och sjukvårdsdirektör", show_default=True)
@click.option("--from", "valid_from", type=p.DATE, default=None, help="First day of the authority.")
@click.option("--until", "valid_until", type=p.DATE, default=None, help="Last day of the authority.")
@pass_session
def authorise(s: Session, grant_id: str, region: str, person: str, role: str, valid_from,
              valid_until) -> None:
    """Authorise a person to take the region's decisions on GRANT.

    Only an authorised person's decisions, amendments and revocations are accepted;
    `grants deauthorise` ends the authority, `grants authorisations` lists it.

    \b
    Example:
      grants authorise professionsmiljarden --region Jämtland --person "Anna Berg" --from 2016-01-01
    """
    recorded = s.app.authorise(grant_id, region, person.strip(), role.strip(), valid_from,
                               valid_until, s.user)
    done(recorded, f"{person.strip()} may decide for {Region(region)}")


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--region", required=True, type=p.REGION)
@click.option("--decision", "decision_id", required=True, type=p.IdType("decision id"))
@click.option("--decided-by", required=True, help="The authorised person who decided.")
@click.option("--on", required=True, type=p.DATE, help="The decision's date.")
@click.option("--area", required=True, help="Business area (verksamhetsområde).")
@click.option("--activity", required=True, help="The activity that gets money.")
@click.option("--purpose", required=True, type=p.CodeType("purpose"), help="One of the grant's purposes.")
@click.option("--amount", "amounts", required=True, multiple=True, type=p.YEAR_AMOUNT,
              help="YEAR=AMOUNT, one per year of the schedule (repeatable).")
@click.option("--continuation", default="", help="How the work continues after the grant ends.")
@click.option("--ref", default="", help="The decision's reference (diarienummer).")
@pass_session
def decide(s: Session, grant_id: str, region: str, decision_id: str, decided_by: str, on,
           area: str, activity: str, purpose: str, amounts, continuation: str, ref: str) -> None:
    """Record a decision that grants money to an activity, for one or more years.

    Refused beyond a year's available money, while a shortfall is outstanding, in a
    closed year, by a person not authorised on --on (the refusal names their
    authorisations and dates), or dated after today (the recording day in Sweden).
    The decider is stored as authorised ("anna berg" decides as "Anna Berg").
    Sending the same decision again records nothing; the same id with other content
    is refused.

    \b
    Example:
      grants decide professionsmiljarden --region 23 --decision JH-2016-07 \\
        --decided-by "Anna Berg" --on 2016-05-10 --area "Hud, infektion, medicin" \\
        --activity "Mobilt närvårdsteam" --purpose competence-use \\
        --amount 2017=2500000 --amount 2018=2500000
    """
    schedule = p.schedule_of(amounts)
    terms = DecisionTerms(decided_by.strip(), on, area.strip(), activity.strip(), purpose, schedule,
                          continuation.strip(), ref.strip())
    reserved = {y: s.app.region_year(grant_id, region, y).reserved_for(purpose) for y in schedule}
    recorded = s.app.decide(grant_id, decision_id, region, terms, s.user)
    drawn = {y: r - s.app.region_year(grant_id, region, y).reserved_for(purpose) for y, r in reserved.items()}
    plan = ", ".join(f"{y}: {a.pretty()}" + (f", {drawn[y].pretty()} of it from the money reserved for {purpose}"
                                             if recorded and drawn[y] else "")
                     for y, a in sorted(schedule.items()))
    done(recorded, f"decision {decision_id} for {Region(region)} ({plan})")


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--decision", "decision_id", required=True, type=p.IdType("decision id"))
@click.option("--amount", "amounts", required=True, multiple=True, type=p.YEAR_AMOUNT,
              help="YEAR=AMOUNT: the whole new schedule (repeatable); years left out become 0.")
@click.option("--decided-by", required=True)
@click.option("--on", required=True, type=p.DATE)
@click.option("--reason", required=True)
@pass_session
def amend(s: Session, grant_id: str, decision_id: str, amounts, decided_by: str, on,
          reason: str) -> None:
    """Replace a decision's schedule with a new one.

    A year may not fall below what is already booked on it; increases are checked
    like a new decision. Refused if dated after today or before the decision's last
    change, or by a person not authorised on --on.

    \b
    Example:
      grants amend professionsmiljarden --decision JH-2016-07 --amount 2017=2500000 \\
        --amount 2018=2000000 --decided-by "Anna Berg" --on 2017-09-01 --reason "smaller team"
    """
    schedule = p.schedule_of(amounts)
    recorded = s.app.amend(grant_id, decision_id, schedule, decided_by.strip(), on, reason.strip(),
                           s.user)
    plan = ", ".join(f"{y}: {a.pretty()}" for y, a in sorted(schedule.items()))
    done(recorded, f"decision {decision_id} amended ({plan})")


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--decision", "decision_id", required=True, type=p.IdType("decision id"))
@click.option("--decided-by", required=True)
@click.option("--on", required=True, type=p.DATE)
@click.option("--reason", required=True)
@pass_session
def revoke(s: Session, grant_id: str, decision_id: str, decided_by: str, on, reason: str) -> None:
    """Revoke a decision: its unspent rest is released, what is booked stays committed.

    Refused if dated after today or before the decision's last change, or by a person
    not authorised on --on. Revoking a revoked decision again with the same reason
    records nothing; with another reason it is refused.

    \b
    Example:
      grants revoke professionsmiljarden --decision JH-2016-07 --decided-by "Anna Berg" \\
        --on 2018-06-01 --reason "activity stopped"
    """
    recorded = s.app.revoke(grant_id, decision_id, decided_by.strip(), on, reason.strip(), s.user)
    done(recorded, f"decision {decision_id} revoked")


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--decision", "decision_id", required=True, type=p.IdType("decision id"))
@click.option("--year", required=True, type=p.YEAR, help="The decision's year the cost belongs to.")
@click.option("--amount", required=True, type=p.SIGNED_AMOUNT,
              help="The cost; a negative amount is a credit (it lowers what is spent in --year).")
@click.option("--booked-on", required=True, type=p.DATE)
@click.option("--object", "object_code", default="",
              help="The accounting object booked on, e.g. 9902 (default: the one the region books the grant "
                   "on, see 'grants object').")
@click.option("--voucher", required=True, type=p.IdType("voucher"),
              help="Voucher id, unique within the region's bookings of the grant.")
@click.option("--text", default="", help="What the cost was.")
@pass_session
def spend(s: Session, grant_id: str, decision_id: str, year: int, amount: Amount, booked_on,
          object_code: str, voucher: str, text: str) -> None:
    """Book a cost against a decision for one year, or with a negative --amount a
    credit (a refund, a corrected invoice) that lowers what the decision has spent.

    Refused beyond the decision's amount for that year, a credit below what is
    already spent in it (spent never goes below zero), and unless --booked-on lies in
    --year, on or after the decision's date and not after today (`--year 2018
    --booked-on 2016-01-05` is refused). The same voucher sent again with the same
    content records nothing; with other content it is refused.

    \b
    Example:
      grants spend professionsmiljarden --decision JH-2016-07 --year 2018 --amount 125000 \\
        --booked-on 2018-03-31 --object 9902 --voucher V-2018-0412
    """
    recorded = s.app.spend(grant_id, decision_id, year, amount, booked_on, object_code.strip(),
                           voucher, text.strip(), s.user)
    what = f"{amount.pretty()} booked" if amount.ore > 0 else f"{(-amount).pretty()} credited"
    done(recorded, f"{what} on decision {decision_id} for {year}, voucher {voucher}")


@cli.command(context_settings=CONTEXT)
@with_grant
@click.option("--voucher", required=True, type=p.IdType("voucher"))
@click.option("--on", required=True, type=p.DATE)
@click.option("--reason", required=True)
@click.option("--region", type=p.REGION, default=None,
              help="The region whose booking it is, when more than one region has this voucher id.")
@pass_session
def reverse(s: Session, grant_id: str, voucher: str, on, reason: str, region: str | None) -> None:
    """Reverse a wrong booking (it is never deleted); --on may not be after today.

    Voucher ids are unique within a region's bookings of the grant (each region numbers
    its own vouchers); when two regions have booked the same id, --region says which.

    \b
    Example:
      grants reverse professionsmiljarden --voucher V-2018-0412 --on 2018-04-02 --reason "wrong object"
    """
    recorded = s.app.reverse(grant_id, voucher, on, reason.strip(), s.user, region)
    done(recorded, f"voucher {voucher} reversed")


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--purpose", required=True, type=p.CodeType("purpose"))
@click.option("--on", required=True, type=p.DATE)
@click.option("--ref", required=True, help="Your reference, unique within the grant's region-year (e.g. a voucher or case number); the same ref and content again records nothing.")
@pass_session
def reserve(s: Session, grant_id: str, region: str, year: int, amount: Amount, purpose: str,
            on, ref: str) -> None:
    """Set part of a year's available money aside for a purpose.

    Sending it again with the same --ref records nothing, so a retry is safe.

    \b
    Example:
      grants reserve professionsmiljarden --region 23 --year 2018 --amount 2228598 \\
        --purpose nurse-specialist-education --on 2018-04-06 --ref RES-2018-1
    """
    recorded = s.app.reserve(grant_id, region, year, amount, purpose, on, ref.strip(), s.user)
    done(recorded, f"{Region(region)} {year}: {amount.pretty()} reserved for {purpose}, ref {ref.strip()}")


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--amount", required=True, type=p.AMOUNT)
@click.option("--on", required=True, type=p.DATE)
@click.option("--ref", required=True, help="Your reference, unique within the grant's region-year (e.g. a voucher or case number); the same ref and content again records nothing.")
@click.option("--pot", type=p.CodeType("pot"), default=None,
              help="The pot repaid to (default: the first pot not earmarked).")
@click.option("--reclaim", "reclaim_ref", default=None,
              help="Settle this reclaim (its ref) instead: principal first, then interest.")
@pass_session
def repay(s: Session, grant_id: str, region: str, year: int, amount: Amount, on, ref: str,
          pot: str | None, reclaim_ref: str | None) -> None:
    """Return uncommitted money to the paying authority; never beyond what is available.

    With --reclaim REF it settles a reclaim instead (the reclaimed money already
    left what the region keeps): its principal first, then the interest accrued by
    --on, never more than is owed that day; the region pays it whatever is
    available.

    Sending it again with the same --ref records nothing, so a retry is safe.

    \b
    Examples:
      grants repay professionsmiljarden --region 23 --year 2018 --amount 100000 --on 2019-03-01 \\
        --ref ÅB-2019-4
      grants repay professionsmiljarden --region 23 --year 2017 --amount 250000 --on 2018-09-01 \\
        --reclaim KAMK-2018-117 --ref ÅB-2018-9
    """
    if reclaim_ref is not None:
        if pot is not None:
            raise click.UsageError("--pot goes with a repayment of unused money, not with --reclaim")
        recorded = s.app.settle(grant_id, region, year, reclaim_ref.strip(), amount, on, ref.strip(), s.user)
        done(recorded, f"{Region(region)} {year}: {amount.pretty()} repaid against reclaim "
                       f"{reclaim_ref.strip()}, ref {ref.strip()}")
        return
    recorded = s.app.repay(grant_id, region, year, amount, on, ref.strip(), s.user, pot=pot)
    done(recorded, f"{Region(region)} {year}: {amount.pretty()} repaid, ref {ref.strip()}")


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--filed-on", required=True, type=p.DATE)
@click.option("--covers", multiple=True, type=p.CodeType("purpose"),
              help="A purpose the report covers (repeatable).")
@click.option("--patient-units/--no-patient-units", default=None,
              help="Does it state how patient-near units were involved?")
@click.option("--employee-reps/--no-employee-reps", default=None,
              help="Does it state how employee representatives were involved?")
@click.option("--measures", multiple=True, type=p.MEASURES,
              help="PURPOSE=TEXT: the measures taken for a purpose the report covers (repeatable).")
@click.option("--patient-units-involvement", default="",
              help="How patient-near units were involved (implies --patient-units).")
@click.option("--employee-reps-involvement", default="",
              help="How employee representatives were involved (implies --employee-reps).")
@click.option("--continuation", default="", help="How the work continues after the grant.")
@click.option("--responsible", default="", metavar="NAME", help="Who is responsible for the follow-up.")
@click.option("--to", default=None, help="Recipient (default: the agreement's).")
@click.option("--ref", default="")
@pass_session
def report(s: Session, grant_id: str, region: str, year: int, filed_on, covers, patient_units,
           employee_reps, measures, patient_units_involvement: str, employee_reps_involvement: str,
           continuation: str, responsible: str, to: str | None, ref: str) -> None:
    """File a region's yearly follow-up report; --filed-on may not be after today.

    Its content says per covered purpose the measures taken, how patient-near units and
    employee representatives were involved, how the work continues and who is
    responsible for the follow-up; compliance checks what the agreement's --report-asks
    asks for. Measures may name only purposes the report covers. The same report again
    records nothing.

    \b
    Example:
      grants report professionsmiljarden --region 23 --year 2018 --filed-on 2019-02-10 \\
        --covers it-admin --covers competence-use --patient-units --employee-reps
      grants report professionsmiljarden --region 23 --year 2018 --filed-on 2019-02-10 \\
        --covers it-admin --measures it-admin="New scheduling system" \\
        --patient-units-involvement "Ward managers in the steering group" \\
        --employee-reps-involvement "Unions consulted monthly" \\
        --continuation "Funded by the region from 2019" --responsible "Anna Berg"
    """
    app = s.app
    content = ReportContent(list(measures), patient_units_involvement, employee_reps_involvement,
                            continuation, responsible)
    models = s.read.models()
    recorded = app.report(grant_id, region, year, filed_on, list(covers), patient_units,
                          employee_reps, to.strip() if to else None, ref.strip(), s.user,
                          sealer=models, content=content)
    done(recorded, f"{Region(region)} {year} report filed {filed_on.isoformat()}")


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--on", required=True, type=p.DATE)
@pass_session
def close(s: Session, grant_id: str, region: str, year: int, on) -> None:
    """Close a region's year: nothing new is accepted until it is reopened.

    Closing a closed year records nothing.

    \b
    Example:
      grants close professionsmiljarden --region 23 --year 2018 --on 2019-03-31
    """
    recorded = s.app.close_year(grant_id, region, year, on, s.user)
    done(recorded, f"{Region(region)} {year} closed")


@cli.command(context_settings=CONTEXT)
@with_region_year
@click.option("--on", required=True, type=p.DATE)
@click.option("--reason", required=True)
@pass_session
def reopen(s: Session, grant_id: str, region: str, year: int, on, reason: str) -> None:
    """Reopen a closed year, with the reason recorded.

    Reopening an open year records nothing.

    \b
    Example:
      grants reopen professionsmiljarden --region 23 --year 2018 --on 2019-04-15 \\
        --reason "late invoice from supplier"
    """
    recorded = s.app.reopen_year(grant_id, region, year, on, reason.strip(), s.user)
    done(recorded, f"{Region(region)} {year} reopened")
