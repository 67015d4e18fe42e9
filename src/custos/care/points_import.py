"""Points and levels from a POS (收银系统) export: a .csv or .xlsx sheet, one member a row.

Read as the customer import reads sheets (customers.importer: UTF-8 or GBK CSV, XLSX, the header
row named, spreadsheet row numbers in every message). A row names the customer by number (客户编号)
or mobile number (会员手机, found through the contacts' blind index, never decrypted), the balance
(积分) and optionally a level (会员等级, by code or name) and when the points expire. The dry run
says, by row, what would change and what is wrong; a sheet with a wrong row imports nothing.
Each row brings the balance to the sheet's figure with one entry for the difference, under a key
made of the file's digest and the row, so importing the same file again changes nothing.

From the console and the API a sheet goes through the customers' import jobs (customers.imports,
kind "points", registered in CareConfig.ready): kept encrypted, checked and imported by the worker,
the page polling its progress. The CLI reads and imports the file itself, with a progress bar.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.db import transaction
from django.utils.translation import gettext as _

from custos.access import policy
from custos.care import loyalty, scope
from custos.care.models import LoyaltyAccount, LoyaltyLevel
from custos.core.errors import DomainError, Forbidden, InvalidInput
from custos.customers import contacts, importer
from custos.customers.models import CustomerContact
from custos.org.models import Employee, Role

IMPORTERS = (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)
BATCH = 200
HEADERS = {
    "customer_id": ("customer_id", "客户编号", "客户ID", "customer no"),
    "phone": ("phone", "mobile", "手机", "手机号", "会员手机", "会员手机号", "电话"),
    "points": ("points", "积分", "积分余额", "可用积分", "balance"),
    "level": ("level", "等级", "会员等级", "会员级别"),
    "expires_on": ("expires_on", "到期日", "积分到期日", "过期日期"),
}


@dataclass
class Planned:
    number: int
    customer_id: int
    points: int
    level: str | None
    expires_on: date | None
    before: int


@dataclass
class Report:
    columns: dict[str, str] = field(default_factory=dict)
    rows: list[Planned] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    imported: int = 0
    unchanged: int = 0

    def summary(self) -> dict:
        return {
            "would_import": len(self.rows),
            "imported": self.imported,
            "unchanged": self.unchanged,
            "errors": [{"row": n, "message": m} for n, m in self.errors],
        }


def job_summary(report: Report) -> dict:
    """The report as an import job keeps it (customers.imports): rows to write, errors by row."""
    return {
        "would_create": len(report.rows),
        "duplicate_count": 0,
        "error_count": len(report.errors),
        "duplicates": [],
        "errors": [{"row": n, "message": m} for n, m in report.errors[:SHOWN]],
    }


SHOWN = 200


def _columns(header: list[str]) -> dict[str, str]:
    lowered = {h.strip().lower(): h for h in header if h}
    columns = {}
    for target, names in HEADERS.items():
        for name in names:
            if name.lower() in lowered:
                columns[target] = lowered[name.lower()]
                break
    if "points" not in columns:
        raise InvalidInput(_("No column holds the points (积分)."))
    if "customer_id" not in columns and "phone" not in columns:
        raise InvalidInput(
            _("No column names the customer: a customer number (客户编号) or a mobile (会员手机).")
        )
    return columns


def require(actor: Employee) -> None:
    policy.require_writer(actor)
    if actor.role not in IMPORTERS:
        raise Forbidden(_("Only managers and executives import points."))


def columns(actor: Employee, header: list[str], _mapping=None) -> dict[str, str]:
    require(actor)
    return _columns(header)


def plan(
    actor: Employee, header: list[str], rows, _mapping=None, progress: Callable[[int], None] | None = None
) -> Report:
    """What the sheet would change, row by row, changing nothing; `progress(1)` after each row."""
    require(actor)
    columns = _columns(header)
    levels = {lv.code.lower(): lv.code for lv in LoyaltyLevel.objects.all()}
    levels.update({lv.name.lower(): lv.code for lv in LoyaltyLevel.objects.all()})
    reach = scope.customers_in_reach(actor)
    report = Report(columns=columns)
    seen: dict[int, int] = {}
    for row in rows:
        if progress:
            progress(1)
        v = {k: row.values.get(col, "").strip() for k, col in columns.items()}
        try:
            customer_id = _customer(v, reach)
            text = v["points"].replace(",", "")
            if not text.lstrip("-").isdigit() or int(text) < 0 or int(text) > 100_000_000:
                raise InvalidInput(
                    _("“%(value)s” is not a whole number of points.") % {"value": v["points"][:20]}
                )
            level = None
            if v.get("level"):
                level = levels.get(v["level"].lower())
                if level is None:
                    raise InvalidInput(_("Unknown level %(code)s.") % {"code": v["level"][:20]})
            expires = None
            if v.get("expires_on"):
                try:
                    expires = date.fromisoformat(v["expires_on"][:10])
                except ValueError as exc:
                    raise InvalidInput(_("A day is written 2026-03-01.")) from exc
            if customer_id in seen:
                raise InvalidInput(_("The same customer as row %(row)s.") % {"row": seen[customer_id]})
            seen[customer_id] = row.number
        except DomainError as exc:
            report.errors.append((row.number, exc.message))
            continue
        report.rows.append(Planned(row.number, customer_id, int(text), level, expires, 0))
    balances = dict(
        LoyaltyAccount.objects.filter(customer_id__in=[p.customer_id for p in report.rows]).values_list(
            "customer_id", "balance"
        )
    )
    for p in report.rows:
        p.before = balances.get(p.customer_id, 0)
    return report


def _customer(v: dict, reach) -> int:
    if v.get("customer_id"):
        number = v["customer_id"]
        found = (
            reach.filter(pk=int(number)).values_list("pk", flat=True).first()
            if number.isdigit() and len(number) < 19
            else None
        )
        if found is None:
            raise InvalidInput(_("No customer no. %(no)s among yours.") % {"no": number[:20]})
        return found
    if not v.get("phone"):
        raise InvalidInput(_("The row names no customer."))
    blind = contacts.index("phone", contacts.normalise("phone", v["phone"]))
    holder = (
        CustomerContact.objects.filter(kind="phone", blind_index=blind, removed_at__isnull=True)
        .values_list("customer_id", flat=True)
        .first()
    )
    if holder is None or not reach.filter(pk=holder).exists():
        # Never say whether the number is another unit's customer: outside the scope nothing exists.
        raise InvalidInput(_("No customer of yours has this mobile number."))
    return holder


def run(
    actor: Employee,
    header: list[str],
    rows,
    *,
    digest: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    report = plan(actor, header, rows)
    if dry_run or report.errors:
        return report
    return apply(actor, report, digest=digest, progress=progress)


def apply(
    actor: Employee,
    report: Report,
    *,
    digest: str,
    progress: Callable[[int, int], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> Report:
    """Write a planned sheet, BATCH rows per transaction; `after_batch(rows)` inside each one
    (an import job counts its progress there), `progress(done, total)` after its commit."""
    customers = {
        c.pk: c for c in scope.customers_in_reach(actor).filter(pk__in=[p.customer_id for p in report.rows])
    }
    total = len(report.rows)
    for start in range(0, total, BATCH):
        with transaction.atomic():
            for p in report.rows[start : start + BATCH]:
                done = loyalty.import_balance(
                    actor=actor,
                    customer=customers[p.customer_id],
                    points=p.points,
                    level_code=p.level,
                    key=f"pos:{digest}:{p.number}",
                    expires_on=p.expires_on,
                )
                if done:
                    report.imported += 1
                else:
                    report.unchanged += 1
            if after_batch:
                after_batch(len(report.rows[start : start + BATCH]))
        if progress:
            progress(min(start + BATCH, total), total)
    return report


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


def run_bytes(actor: Employee, data: bytes, filename: str, *, dry_run: bool, progress=None) -> Report:
    importer.check_upload(filename, len(data))
    header, rows = importer.read_bytes(data, filename)
    return run(actor, header, rows, digest=digest_of(data), dry_run=dry_run, progress=progress)


def run_job(job, report: Report, after_batch: Callable[[int], None]) -> None:
    """The worker's import of a checked job: the keys are the file's digest and rows, as from the CLI."""
    from custos.customers import imports

    apply(job.created_by, report, digest=digest_of(imports.sheet_bytes(job)), after_batch=after_batch)


def register_sheet() -> None:
    from custos.customers import imports

    imports.register_sheet(
        KIND,
        imports.Sheet(
            columns=columns, plan=plan, summary=job_summary, run=run_job, size=lambda report: len(report.rows)
        ),
    )


KIND = "points"


def run_file(actor: Employee, path: str, *, dry_run: bool, progress=None) -> Report:
    p = Path(path)
    if not p.is_file():
        raise InvalidInput(_("No such file: %(path)s") % {"path": path})
    return run_bytes(actor, p.read_bytes(), p.name, dry_run=dry_run, progress=progress)
