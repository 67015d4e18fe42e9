"""Exporting the customer list: managers only, masked, watermarked, recorded.

A customer list walking out of the door is the loss Custos exists to stop, so an export:
- is for managers, executives and admins, and holds only what their scope shows;
- carries contacts masked, never in clear;
- is watermarked on every row with who exported it and an export id, so a leaked copy names
  its source;
- is a ledger entry (`customer.exported`), and a large one (settings.CUSTOS_EXPORT_RISK_ROWS,
  default 200) also a `risk.bulk_export` entry for the detectors.
"""

import csv
import io
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.core.errors import Forbidden, InvalidInput
from custos.core.masking import mask_phone
from custos.customers import rules, selectors
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee

MAX_ROWS = 50_000
FORMATS = ("csv", "xlsx")


def risk_rows() -> int:
    return int(getattr(settings, "CUSTOS_EXPORT_RISK_ROWS", 200))


@dataclass
class Export:
    export_id: str
    filename: str
    content_type: str
    data: bytes
    rows: int


def _columns() -> list[str]:
    return [
        _("Customer no."),
        _("Name"),
        _("Kind"),
        _("Grade"),
        _("Status"),
        _("Owner"),
        _("Unit"),
        _("Tags"),
        _("Phone (masked)"),
        _("Last contact"),
        _("Next follow-up"),
        _("File completeness"),
        _("Watermark"),
    ]


def _rows(viewer: Employee, filters: selectors.Filters, mark: str):
    for c in selectors.list_customers(viewer, filters).order_by("pk").iterator(chunk_size=500):
        phone = next((k.masked for k in c.contacts_in_use if k.kind == "phone"), "")
        yield [
            c.pk,
            c.name,
            c.get_kind_display(),
            c.grade,
            c.get_status_display(),
            c.owner.name if c.owner_id else "",
            c.unit.name,
            "、".join(t.name for t in c.tags.all()),
            phone,
            timezone.localtime(c.last_contact_at).strftime("%Y-%m-%d") if c.last_contact_at else "",
            c.next_follow_up_on.isoformat() if c.next_follow_up_on else "",
            c.completeness,
            mark,
        ]


def _csv(rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_columns())
    writer.writerows(rows)
    # UTF-8 with a BOM: what Excel on Chinese Windows needs to show the characters.
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx(rows: list[list], mark: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    book.properties.creator = mark
    book.properties.title = mark
    sheet = book.create_sheet(_("Customers"))
    sheet.oddHeader.center.text = mark  # printed on every page
    sheet.append(_columns())
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _recorded_filters(filters: selectors.Filters) -> dict:
    """The filters as the ledger keeps them: a phone number searched for is masked there too."""
    out = {}
    for key, value in vars(filters).items():
        if value is None:
            continue
        out[key] = (
            mask_phone(value)
            if key == "phone"
            else value.isoformat()
            if hasattr(value, "isoformat")
            else value
        )
    return out


def export_customers(
    viewer: Employee, filters: selectors.Filters | None = None, *, fmt: str = "csv", source: str = "console"
) -> Export:
    policy.require_writer(viewer)  # a frozen account exports nothing; auditors read in place
    if viewer.role not in rules.MANAGERS:
        raise Forbidden(_("Only managers may export customers."))
    if fmt not in FORMATS:
        raise InvalidInput(_("Export as csv or xlsx."))
    filters = filters or selectors.Filters()
    export_id = uuid.uuid4().hex[:12]
    now = timezone.localtime()
    mark = _("Exported by %(name)s (%(no)s) at %(time)s, export %(id)s") % {
        "name": viewer.name,
        "no": viewer.employee_no,
        "time": now.strftime("%Y-%m-%d %H:%M"),
        "id": export_id,
    }
    with transaction.atomic():
        rows = []
        for row in _rows(viewer, filters, mark):
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise InvalidInput(
                    _("At most %(n)d customers in one export; narrow the filters.") % {"n": MAX_ROWS}
                )
        payload = {
            "export": export_id,
            "rows": len(rows),
            "format": fmt,
            "filters": _recorded_filters(filters),
        }
        events = [
            Event(
                kind="customer.exported",
                payload=payload,
                actor_id=viewer.pk,
                unit_id=viewer.unit_id,
                source=source,
            )
        ]
        if len(rows) >= risk_rows():
            events.append(
                Event(
                    kind="risk.bulk_export",
                    payload={"export": export_id, "rows": len(rows), "threshold": risk_rows()},
                    actor_id=viewer.pk,
                    unit_id=viewer.unit_id,
                    source=source,
                )
            )
        append_batch(events)
    data = _csv(rows) if fmt == "csv" else _xlsx(rows, mark)
    content_type = (
        "text/csv; charset=utf-8"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Export(export_id, f"customers-{now:%Y%m%d-%H%M}-{export_id}.{fmt}", content_type, data, len(rows))
