"""The readable half of a package: the entries as a transcript, in HTML and in PDF.

The PDF uses reportlab's built-in CID font STSong-Light (Adobe's Chinese font that every PDF
reader carries), so Chinese renders without any font installed on the server.
"""

import io
import json
from dataclasses import dataclass, field
from datetime import datetime

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

CJK_FONT = "STSong-Light"


@dataclass
class Line:
    seq: int
    when: datetime
    kind: str
    who: str
    counterpart: str
    direction: str  # "out" staff → customer, "in" customer → staff, "" other entries
    text: str
    attachments: list[str] = field(default_factory=list)
    redacted: bool = False


def _summary(kind: str, payload: dict) -> str:
    """A line of text for an entry that is not a message: its kind's most telling fields."""
    if kind == "message.recalled":
        return _("recalled message %(message)s") % {"message": payload.get("message", "")}
    if kind == "call.logged":
        return _("call %(direction)s, %(seconds)s s, %(number)s %(note)s") % {
            "direction": payload.get("direction", ""),
            "seconds": payload.get("duration_s", ""),
            "number": payload.get("number_masked", ""),
            "note": payload.get("note") or "",
        }
    keep = {k: v for k, v in payload.items() if k not in ("raw",) and v not in (None, "", [], {})}
    return json.dumps(keep, ensure_ascii=False, sort_keys=True)[:500]


def lines(entries, employee_names: dict[int, str], customer_names: dict[int, str]) -> list[Line]:
    out = []
    for e in entries:
        who = employee_names.get(e.actor_id, f"#{e.actor_id}") if e.actor_id is not None else ""
        counterpart = customer_names.get(e.customer_id, f"#{e.customer_id}") if e.customer_id is not None else ""
        if e.payload is None:
            out.append(Line(e.seq, e.occurred_at, e.kind, who, counterpart, "", "", redacted=True))
            continue
        payload = json.loads(e.payload)
        payload = payload if isinstance(payload, dict) else {"value": payload}
        attachment = payload.get("attachment")
        names = [str(attachment.get("name") or attachment.get("sha256"))] if isinstance(attachment, dict) else []
        if e.kind.startswith("message.") and e.kind != "message.recalled":
            if not counterpart and payload.get("contact"):
                # the contact's WeChat id rather than its pseudonym (custos.archive.pseudonym)
                counterpart = str(payload.get("wechat_id") or payload["contact"])
            direction = "in" if payload.get("sender_role") == "customer" or e.kind == "message.received" else "out"
            text = payload.get("text") or ""
            if not text and not names:
                text = f"[{payload.get('msgtype', '')}]"
            out.append(Line(e.seq, e.occurred_at, e.kind, who, counterpart, direction, text, names))
        else:
            out.append(Line(e.seq, e.occurred_at, e.kind, who, counterpart, "", _summary(e.kind, payload), names))
    return out


def html(title: str, meta: list[tuple[str, str]], rows: list[Line]) -> bytes:
    return render_to_string(
        "evidence/transcript.html",
        {"title": title, "meta": meta, "rows": rows, "generated": timezone.now()},
    ).encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br/>")


def pdf(title: str, meta: list[tuple[str, str]], rows: list[Line]) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=9.5, leading=13, wordWrap="CJK")
    head = ParagraphStyle("head", parent=body, fontSize=15, leading=20, spaceAfter=6)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11, textColor=colors.grey)
    out_style = ParagraphStyle("out", parent=body, leftIndent=30 * mm, backColor=colors.HexColor("#e6f4ea"))
    in_style = ParagraphStyle("in", parent=body, rightIndent=30 * mm, backColor=colors.HexColor("#f1f3f4"))

    story = [Paragraph(_escape(title), head)]
    for label, value in meta:
        story.append(Paragraph(f"{_escape(label)}: {_escape(value)}", small))
    story.append(Spacer(1, 5 * mm))
    for row in rows:
        when = timezone.localtime(row.when).strftime("%Y-%m-%d %H:%M:%S")
        parts = [p for p in (row.who, row.counterpart) if p]
        arrow = " → " if row.direction == "out" else " ← " if row.direction == "in" else " | "
        story.append(Paragraph(_escape(f"#{row.seq} {when} {row.kind} {arrow.join(parts)}"), small))
        if row.redacted:
            text = _("[body redacted under a retention rule; its hash is kept]")
        else:
            text = row.text
            if row.attachments:
                text += ("\n" if text else "") + _("Attachment: %(names)s") % {"names": ", ".join(row.attachments)}
        style = out_style if row.direction == "out" else in_style if row.direction == "in" else body
        story.append(Paragraph(_escape(text) or "&nbsp;", style))
        story.append(Spacer(1, 2 * mm))
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=title, author="Custos", leftMargin=15 * mm, rightMargin=15 * mm)
    doc.build(story)
    return buffer.getvalue()
