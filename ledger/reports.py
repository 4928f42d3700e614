"""Filing the yearly report (uppföljning): the RegionYear's command and its rules.

A report covers purposes and says whether (and, in its content, how) patient-near units and
employee representatives were involved, per purpose the measures taken, how the work
continues after the grant and who is responsible for the follow-up; it is sealed with the
figures it reported. A report without content is recorded as ``ReportFiled/v1``, as it
always was; one with content as ``ReportFiled/v2``. The events are the RegionYear's own
(``ledger/region_year.py``): an ``@event`` method of a base class would record the base's
event class, not the aggregate's.
"""

from __future__ import annotations

import datetime

from ledger.clock import not_after_today
from ledger.errors import Malformed, Refused
from ledger.funds import Report
from ledger.terms import ReportContent, stored
from ledger.values import Amount


def _involved(flag: bool | None, how: str, option: str) -> bool | None:
    """A flag as the report states it: a text saying how implies yes; a no beside one contradicts it."""
    if not how:
        return flag
    if flag is False:
        raise Malformed(f"--no-{option} contradicts --{option}-involvement (which says how they were involved)")
    return True


class YearReports:
    """The report's command of a region-year (a mixin of :class:`ledger.region_year.RegionYear`,
    whose ``_report_filed`` and ``_report_filed_with_content`` events record it, and whose
    ``reports``, ``label`` and ``check_open`` it reads)."""

    def file_report(
        self,
        filed_on: datetime.date,
        to: str,
        covers: list[str],
        patient_units: bool | None,
        employee_reps: bool | None,
        ref: str,
        recorded_by: str,
        figures: dict[str, Amount] | None = None,
        position: int = 0,
        digest: str = "",
        *,
        today: datetime.date,
        content: ReportContent | None = None,
    ) -> bool:
        """File the yearly report, sealed with its figures; the same report again records nothing.

        A report cannot be dated after ``today``, the day it is recorded. Its measures may
        name only purposes it covers; a text saying how a party was involved implies that
        it was (the flag is true)."""
        self.check_open("file a report")
        not_after_today(filed_on, today, f"the report of {self.label} is dated")
        content = content or ReportContent()
        uncovered = [p for p in content.measures if p not in covers]
        if uncovered:
            raise Refused(f"the report of {self.label} states measures for {', '.join(uncovered)}, "
                          "which it does not cover (add --covers for each)")
        patient_units = _involved(patient_units, content.patient_units_how, "patient-units")
        employee_reps = _involved(employee_reps, content.employee_reps_how, "employee-reps")
        report = Report(filed_on, to, tuple(covers), patient_units, employee_reps, ref, content=content)
        if report in self.reports:
            return False
        fields = dict(
            filed_on=filed_on, to=to, covers=list(covers), patient_units=patient_units,
            employee_reps=employee_reps, ref=ref,
            figures={k: v.ore for k, v in (figures or {}).items()}, position=position,
            digest=digest, recorded_by=recorded_by,
        )
        if content.is_empty:
            self._report_filed(**fields)
        else:
            self._report_filed_with_content(**fields, **stored(content))
        return True
