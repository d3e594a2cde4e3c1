"""One incident's management report as a PDF, in the reader's language and time zone."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer

from reports.exports.incident_report import IncidentReport
from reports.exports.pdf_common import Styles, build_pdf, grid_table, para_text, paragraph, when
from reports.formatting import duration


def report_title(report: IncidentReport) -> str:
    return _("Management report: %(number)s") % {"number": report.incident.number}


def _section(title: str, text: str, styles: Styles, empty: str) -> list[Flowable]:
    return [Paragraph(para_text(title), styles.h2), paragraph(text.strip() or empty, styles.body)]


def _impact_rows(report: IncidentReport) -> list[list[Any]]:
    incident = report.incident
    ended = when(report.downtime_ended_at) if report.downtime_ended_at else _("still going on")
    users = f"{report.affected_users:,}" if report.affected_users is not None else "–"
    return [
        [_("Measure"), _("Value")],
        [_("Downtime"), f"{duration(report.downtime_seconds)} ({when(report.downtime_started_at)} – {ended})"],
        [_("Affected users"), users],
        [_("Affected services"), ", ".join(report.services) or "–"],
        [_("Priority"), str(incident.get_priority_display())],
        [_("Time to acknowledge"), duration(report.time_to_acknowledge)],
        [_("Time to resolve"), duration(report.time_to_resolve)],
        [_("Times reopened"), str(incident.reopen_count)],
    ]


def incident_pdf(report: IncidentReport) -> bytes:
    """The PDF's bytes: summary, impact, highlights, root cause, SLA outcome, recommendations."""
    styles = Styles()
    incident = report.incident
    title = report_title(report)
    facts = [
        f"{incident.title}",
        _("State: %(state)s · Category: %(category)s · Team: %(team)s")
        % {
            "state": incident.get_state_display(),
            "category": incident.get_category_display(),
            "team": incident.team.name if incident.team else "–",
        },
        _("Post-mortem: %(status)s") % {"status": report.postmortem_status_label},
        _("Times in %(zone)s. Generated %(when)s")
        % {"zone": timezone.get_current_timezone_name(), "when": when(report.generated_at)},
    ]
    story: list[Flowable] = [Paragraph(para_text(title), styles.title)]
    story += [paragraph(facts[0], styles.h2)] + [paragraph(fact, styles.small) for fact in facts[1:]]
    story += _section(_("Summary"), report.summary, styles, _("No summary written."))
    story += [Paragraph(para_text(_("Impact")), styles.h2), grid_table(_impact_rows(report), [55 * mm, 120 * mm])]

    heading = _("Key moments") if report.highlights_are_key_moments else _("Timeline highlights")
    story.append(Paragraph(para_text(heading), styles.h2))
    if report.highlights:
        rows: list[list[Any]] = [[_("When"), _("What happened"), _("By")]]
        rows += [
            [when(h.at), paragraph(h.text, styles.cell), paragraph(h.actor, styles.cell)] for h in report.highlights
        ]
        story.append(grid_table(rows, [32 * mm, 110 * mm, 36 * mm], numeric_from=3))
    else:
        story.append(paragraph(_("No moments recorded."), styles.body))

    story += _section(_("Root cause"), report.root_cause, styles, _("Not known yet."))
    if report.contributing_factors.strip():
        story += _section(_("Contributing factors"), report.contributing_factors, styles, "")
    if report.mitigation.strip() or report.resolution.strip():
        story += _section(_("What restored the service"), report.mitigation, styles, "–")
        story += _section(_("Resolution"), report.resolution, styles, "–")

    story.append(Paragraph(para_text(_("SLA outcome")), styles.h2))
    if report.clocks:
        clock_rows: list[list[Any]] = [[_("Clock"), _("Target"), _("Due"), _("Outcome"), _("Met"), _("Breached")]]
        for clock in report.clocks:
            target = duration(clock.target_seconds) + (" " + _("(business hours)") if clock.business_hours else "")
            clock_rows.append(
                [
                    clock.label,
                    target,
                    when(clock.due_at),
                    clock.outcome_label,
                    when(clock.met_at),
                    when(clock.breached_at),
                ]
            )
        story.append(grid_table(clock_rows, numeric_from=6))
    else:
        story.append(paragraph(_("No SLA clock ran for this incident."), styles.body))

    # The recommendations start on a new page rather than leave their heading alone at the foot of one.
    recommendations: list[Flowable] = [
        Paragraph(para_text(_("Recommendations")), styles.h2),
        paragraph(report.lessons.strip() or _("No lessons recorded."), styles.body),
        Spacer(1, 3 * mm),
    ]
    if report.follow_ups:
        item_rows: list[list[Any]] = [[_("Follow-up"), _("Owner"), _("Due"), _("Status")]]
        for item in report.follow_ups:
            status = item.status_label + (" · " + _("overdue") if item.overdue else "")
            due = item.due_date.isoformat() if item.due_date else "–"
            item_rows.append(
                [paragraph(item.title, styles.cell), paragraph(item.owner or "–", styles.cell), due, status]
            )
        recommendations.append(grid_table(item_rows, [85 * mm, 35 * mm, 22 * mm, 36 * mm], numeric_from=4))
    else:
        recommendations.append(paragraph(_("No follow-up action items."), styles.body))
    story.append(KeepTogether(recommendations))
    footer = f"{incident.number} · {title}"
    return build_pdf(story, title=f"{title} · {incident.title}", footer=footer)
