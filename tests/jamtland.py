"""The one Jämtland 2018 builder: the worked example's facts, stated once, recorded through
either driver (the application service, or the command line as typed).

Professionsmiljarden, its 2018 agreement (stimulus 651 000 000, nurse education
300 000 000 earmarked for nurse specialist education, report due 2019-02-15 to
Socialstyrelsen), Region Jämtland Härjedalen's allocations (8 357 305 + 3 851 293), its
authorised director and, on the command line, the ten decisions of 2016–2017 that
commit 9 980 000 of 2018 money (commands/data/jamtland-2018-decisions.csv).
"""

from __future__ import annotations

import csv

from ledger.application import GrantLedger
from tests.drivers import DATA, D, Grants, kr
from ledger.terms import Agreement

G = "professionsmiljarden"  # the grant's id on the command line
PURPOSES = [["it-admin", "IT support"], ["competence-use", "Smarter use"],
            ["competence-supply", "Competence supply"],
            ["nurse-specialist-education", "Nurse specialist education"]]
POTS_2018 = [["stimulus", kr(651_000_000)], ["nurse-education", kr(300_000_000)]]
EARMARKS_2018 = [["nurse-education", "nurse-specialist-education"]]
ALLOCATED_2018 = {"stimulus": kr(8_357_305), "nurse-education": kr(3_851_293)}
SIGNED_ON, REPORT_DUE, POPULATION_DATE = D(2018, 1, 25), D(2019, 2, 15), D(2017, 11, 1)
AUTHORISED_FROM = D(2016, 1, 1)


def setup_jamtland(ledger: GrantLedger, user: str = "tester") -> None:
    """Through the application: the grant (id "pm"), the 2018 agreement, Jämtland's
    allocations and its director ("Director"); no decisions."""
    ledger.define_grant("pm", "Professionsmiljarden", 2016, 2018, PURPOSES, "3", "9902", user)
    terms = Agreement(2018, signed_on=SIGNED_ON, pots=[[n, a.ore] for n, a in POTS_2018], earmarks=EARMARKS_2018,
                      report_due=REPORT_DUE, payer="SKL", report_to="Socialstyrelsen",
                      population_date=POPULATION_DATE, ref="")
    ledger.sign_agreement("pm", terms, recorded_by=user)
    for pot, amount in ALLOCATED_2018.items():
        ledger.allocate("pm", 2018, pot, {"23": amount}, "entered", user)
    ledger.authorise("pm", "23", "Director", "hsd", AUTHORISED_FROM, None, user)


def define(grants: Grants) -> None:
    """On the command line: the grant and its 2018 agreement, typed as a user would."""
    grants("grant", "define", G, "--name", "Professionsmiljarden", "--years", "2016-2018",
           *[a for code, text in PURPOSES for a in ("--purpose", f"{code}={text}")],
           "--category", "3", "--accounting-object", "9902")
    grants("agreement", "sign", G, "--year", "2018", "--signed-on", SIGNED_ON.isoformat(),
           "--pot", "stimulus=651 000 000", "--pot", "nurse-education=300000000 kr",
           "--earmark", "nurse-education=nurse-specialist-education", "--report-due", REPORT_DUE.isoformat(),
           "--report-to", "Socialstyrelsen", "--payer", "SKL", "--population-date", POPULATION_DATE.isoformat())


def jamtland(grants: Grants) -> None:
    """On the command line: `define`, Jämtland's allocations, its director "Anna Berg" and the
    ten decisions that commit 9 980 000 of 2018 (amounts typed in the forms users type)."""
    define(grants)
    grants("allocate", G, "--year", "2018", "--pot", "stimulus", "--region", "Jämtland",
           "--amount", "8 357 305")
    grants("allocate", G, "--year", "2018", "--pot", "nurse-education", "--region", "23",
           "--amount", "3851293,00")
    grants("authorise", G, "--region", "Region Jämtland Härjedalen", "--person", "Anna Berg",
           "--from", AUTHORISED_FROM.isoformat())
    with open(DATA / "jamtland-2018-decisions.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            grants("decide", G, "--region", "jamtland", "--decision", row["decision"],
                   "--decided-by", "Anna Berg", "--on", row["decided_on"],
                   "--area", row["business_area"], "--activity", row["activities"],
                   "--purpose", row["purpose"], "--amount", f"2018={row['amount']}")


def history_with_a_sealed_report(grants: Grants) -> None:
    """On the command line: `jamtland`, then a reservation, a booking reversed, an amendment,
    a filed (sealed) report and a booking after it: a history every transfer and tamper test uses."""
    jamtland(grants)
    grants("reserve", G, "--region", "23", "--year", "2018", "--amount", "2228598",
           "--purpose", "nurse-specialist-education", "--on", "2018-04-06", "--ref", "RES-1")
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "1000",
           "--booked-on", "2018-06-01", "--object", "9902", "--voucher", "V1")
    grants("reverse", G, "--voucher", "V1", "--on", "2018-06-02", "--reason", "wrong")
    grants("amend", G, "--decision", "JH-PM-02", "--amount", "2018=200000", "--decided-by",
           "Anna Berg", "--on", "2018-06-01", "--reason", "smaller")
    grants("report", G, "--region", "23", "--year", "2018", "--filed-on", "2019-02-14",
           "--covers", "it-admin", "--patient-units", "--employee-reps")
    grants("spend", G, "--decision", "JH-PM-01", "--year", "2018", "--amount", "5000",
           "--booked-on", "2018-12-30", "--object", "9902", "--voucher", "V2")
