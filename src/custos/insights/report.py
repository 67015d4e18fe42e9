"""The weekly report: the dashboards' figures as a PDF (each chart, drawn by charts.py, above the
table of its numbers), and a short summary pushed to the alert webhooks (WeCom robot, DingTalk,
JSON) every Monday morning with links into the console.

The PDF uses reportlab's built-in CID font STSong-Light, as the evidence transcripts do: the
machine needs no Chinese font file (fc-list :lang=zh finds none on the servers we ship to) and
every PDF reader has the font. The summary names no customer and no contact: it leaves the building.
"""

import io
from datetime import timedelta

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.access.scope import Scope
from custos.alerts.services import notify
from custos.insights import charts, selectors
from custos.ledger.models import Entry
from custos.ledger.services import append
from custos.org.models import Unit

CJK_FONT = "STSong-Light"
WIDTH = 560  # points between A4's 12 mm margins: a chart as wide as the tables
PDF_ROWS = 40  # rows of one table in the PDF; the console and the CSV have them all
SOURCE = "insights"


def _base() -> str:
    return getattr(settings, "CUSTOS_BASE_URL", "").rstrip("/")


def pdf(viewer, *, base_url: str = "") -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    title = ParagraphStyle("t", fontName=CJK_FONT, fontSize=16, leading=22)
    head = ParagraphStyle("h", fontName=CJK_FONT, fontSize=12, leading=17, spaceBefore=8)
    body = ParagraphStyle("b", fontName=CJK_FONT, fontSize=8, leading=11)
    name = selectors.default_dashboard(viewer) if not isinstance(viewer, Scope) else "company"
    data = selectors.dashboard_for(viewer, name)
    story = [Paragraph(_("Custos weekly insights"), title),
             Paragraph(_("Figures as of %(day)s") % {"day": data["day"] or "—"}, body), Spacer(1, 4 * mm)]  # fmt: skip
    link = f"{base_url or _base()}/insights/{name}/"
    story.append(Paragraph(_("Charts and every row: %(link)s") % {"link": link}, body))
    for panel in data["panels"]:
        story.append(Paragraph(panel.title, head))
        if panel.note:
            story.append(Paragraph(panel.note, body))
        chart = charts.drawing(panel, WIDTH, CJK_FONT)
        if chart is not None:
            story.append(chart)
        rows = [[Paragraph(str(c), body) for c in panel.columns]]
        rows += [[Paragraph(str(v), body) for v in row] for row in panel.rows[:PDF_ROWS]]
        if len(rows) == 1:
            story.append(Paragraph(_("None."), body))
            continue
        table = Table(rows, repeatRows=1, hAlign="LEFT")
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))  # fmt: skip
        story.append(table)
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                      bottomMargin=12 * mm, title="Custos weekly insights").build(story)  # fmt: skip
    return buffer.getvalue()


def summary(unit: Unit) -> tuple[str, str]:
    """(title, markdown) of one unit's week: counts and people, never a customer or a contact."""
    scope = Scope(kind="subtree", unit_path=unit.path)
    day = selectors.latest_day()
    units = selectors.concentration(scope, day)
    t = selectors.trends(scope, day)
    customers = sum(u["customers"] for u in units)
    at_risk = sum(u["at_risk"] for u in units)
    solo = sum(u["solo"] for u in units)
    title = _("Weekly insights: %(unit)s") % {"unit": unit.name}
    lines = [f"### {title}", f"> {_('As of')}: {day or '—'}",
             f"> {_('Customers')}: {customers} · {_('At risk')}: {at_risk} · {_('Held by one person only')}: {solo}"]  # fmt: skip
    if t["weeks"]:
        lines.append(f"> {_('Last week')}: {_('gained')} {t['gained'][-2]}, {_('lost')} {t['lost'][-2]}, "
                     f"{_('alerts')} {t['alerts'][-2]}")  # fmt: skip
    fragile = [u for u in units if u["bus_factor"]["revenue"] == 1 and u["people"]]
    for u in fragile[:5]:
        top = u["people"][0]
        lines.append(
            "> "
            + _("%(unit)s: %(name)s alone holds %(share)s%% of 90-day revenue")
            % {"unit": u["name"], "name": top["name"], "share": top["revenue_share"]}
        )
    lines.append(f"[{_('Company dashboard')}]({_base()}/insights/company/) · [{_('Team')}]({_base()}/insights/team/)"
                 f" · [{_('PDF')}]({_base()}/insights/report.pdf)")  # fmt: skip
    return title, "\n".join(lines)


def push_weekly(now=None) -> list[int]:
    """Push each webhook's unit its summary once per week (a second run the same week sends
    nothing); returns the units sent to."""
    from custos.alerts.models import Webhook

    now = now or timezone.now()
    local = timezone.localdate(now)
    week = (local - timedelta(days=local.weekday())).isoformat()
    sent = []
    unit_ids = sorted(set(Webhook.objects.filter(enabled=True).values_list("unit_id", flat=True)))
    with translation.override(settings.LANGUAGE_CODE):
        for unit in Unit.objects.filter(pk__in=unit_ids):
            source_id = f"weekly:{week}:{unit.pk}"
            if Entry.objects.filter(source=SOURCE, source_id=source_id).exists():
                continue
            title, text = summary(unit)
            notify(unit_id=unit.pk, title=title, text=text, link=f"{_base()}/insights/", event="insights.weekly",
                   this_unit_only=True)  # fmt: skip
            append("insights.weekly_sent", {"unit": unit.pk, "week": week, "day": str(selectors.latest_day())},
                   unit_id=unit.pk, source=SOURCE, source_id=source_id)  # fmt: skip
            sent.append(unit.pk)
    return sent
