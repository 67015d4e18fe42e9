"""Importing customers from a CSV or XLSX sheet: column mapping, a dry run, batches.

A sheet's first row names its columns; `mapping` says which column holds which field
({"name": "客户姓名", "phone": "手机"}), and when it is not given the usual Chinese and English
headers are recognised. `plan` reads every row and says, by spreadsheet row number, what would
be created, which rows duplicate a customer already in the company (or an earlier row of the
same sheet), and which rows are wrong and why; a sheet with a wrong row imports nothing. `run`
creates the planned customers through services.create_customers (the checks of create_customer),
BATCH rows per transaction: each batch is all or nothing. When one is refused at create time
(someone added the same number since the plan, the database refused a row) the import stops
there: the batches before it stay in, and `BatchFailed` says, by row number, which rows are in and
which are not. Importing the same sheet again finds the rows already in as duplicates (the
blind indexes of their numbers) and creates only the rest. The command line (`custos customers
import`) and the console's background jobs (imports.execute) both import through `run`.
Duplicates are skipped, not errors: that customer is already the company's.
"""

import csv
import io
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from custos.access import policy
from custos.core.errors import DomainError, Forbidden, InvalidInput
from custos.customers import contacts, product_lines, profiles, rules, services
from custos.customers.models import Customer, CustomerContact
from custos.customers.services import NewContact
from custos.org.models import Employee
from custos.org.selectors import employees_visible

log = logging.getLogger(__name__)

FIELDS = (
    "name",
    "kind",
    "grade",
    "source",
    "tags",
    "phone",
    "phone2",
    "wechat",
    "wecom",
    "address",
    "owner",
    "product_lines",
    "gender",
    "birthday",
    "occupation",
    "sizes",
    "styles",
    "budget",
    "notes",
)
# Headers people really use, for a sheet imported without --map.
HEADERS = {
    "name": ["姓名", "客户姓名", "客户名称", "名称", "客户", "name", "customer"],
    "kind": ["类型", "客户类型", "kind", "type"],
    "grade": ["等级", "客户等级", "级别", "grade"],
    "source": ["来源", "客户来源", "source"],
    "tags": ["标签", "tags"],
    "phone": ["手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile"],
    "phone2": ["电话2", "备用电话", "座机", "phone2"],
    "wechat": ["微信", "微信号", "wechat"],
    "wecom": ["企业微信", "企微", "wecom"],
    "address": ["地址", "住址", "联系地址", "address"],
    "owner": ["负责人", "归属人", "业务员", "销售", "导购", "工号", "owner"],
    "product_lines": ["产品线", "品类", "product_lines", "lines"],
    "gender": ["性别", "gender"],
    "birthday": ["生日", "出生日期", "birthday"],
    "occupation": ["职业", "occupation"],
    "sizes": ["尺码", "sizes"],
    "styles": ["风格", "喜欢的风格", "styles"],
    "budget": ["预算", "budget"],
    "notes": ["备注", "notes"],
}
KINDS = {
    "个人": "person",
    "person": "person",
    "公司": "company",
    "企业": "company",
    "company": "company",
    "": "person",
}
GENDERS = {"女": "female", "female": "female", "f": "female", "男": "male", "male": "male", "m": "male"}
MAX_ROWS = 100_000
BATCH = 500  # rows per services.create_customers call, each call its own transaction


@dataclass
class Row:
    number: int  # the spreadsheet's row number: the header is row 1
    values: dict[str, str]


@dataclass
class Planned:
    number: int
    name: str
    kwargs: dict


@dataclass
class Report:
    columns: dict[str, str] = field(default_factory=dict)  # field -> column used
    create: list[Planned] = field(default_factory=list)
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    created: int = 0
    imported: list[int] = field(default_factory=list)  # row numbers of the batches committed
    not_imported: list[int] = field(default_factory=list)  # planned rows a failed batch left out
    failure: str = ""  # why the import stopped, when a batch failed

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> dict:
        return {
            "would_create": [p.number for p in self.create],
            "created": self.created,
            "imported_rows": self.imported,
            "not_imported_rows": self.not_imported,
            "failure": self.failure or None,
            "duplicates": [{"row": n, "message": m} for n, m in self.duplicates],
            "errors": [{"row": n, "message": m} for n, m in self.errors],
        }


# --- reading -------------------------------------------------------------------------------


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number Excel stored as a number
    return str(value).strip()


def _decode(data: bytes) -> str:
    # Excel on Chinese Windows saves CSV in GB18030 (GBK); everything else in UTF-8, often with a
    # BOM; Excel's "Unicode text" is UTF-16 with a BOM.
    utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
    encodings = ("utf-16",) if utf16 else ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        _("The file is neither UTF-8 nor GB18030 (GBK) text. Save it from Excel as CSV UTF-8 or as .xlsx.")
    )


def max_upload_bytes() -> int:
    return getattr(settings, "CUSTOS_IMPORT_MAX_BYTES", 20 * 1024 * 1024)


def check_upload(filename: str, size: int) -> None:
    """Refuse an upload the importer would not read, before reading it."""
    if Path(filename or "").suffix.lower() not in (".csv", ".txt", ".xlsx", ".xlsm"):
        raise InvalidInput(_("Import a .csv or .xlsx file."))
    if size > max_upload_bytes():
        raise InvalidInput(
            _(
                "The file is %(size)s MB; at most %(max)s MB can be imported at once. Split it into smaller files."
            )
            % {"size": f"{size / 2**20:.1f}", "max": f"{max_upload_bytes() / 2**20:.0f}"}
        )
    if size == 0:
        raise InvalidInput(_("The file is empty."))


def read_bytes(data: bytes, filename: str) -> tuple[list[str], Iterator[Row]]:
    """The header and rows of an uploaded file, by the kind its name says."""
    if Path(filename).suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(io.BytesIO(data))
    if Path(filename).suffix.lower() in (".csv", ".txt"):
        return read_csv(data)
    raise InvalidInput(_("Import a .csv or .xlsx file."))


def read_rows(path: str | Path) -> tuple[list[str], Iterator[Row]]:
    """The header and the rows of a .csv or .xlsx file."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return read_csv(path.read_bytes())
    raise InvalidInput(_("Import a .csv or .xlsx file."))


def read_csv(data: bytes) -> tuple[list[str], Iterator[Row]]:
    text = _decode(data)
    first = text.split("\n", 1)[0]
    # Excel's "Unicode text" and many exports separate by tabs.
    dialect = csv.excel_tab if "\t" in first and "," not in first else csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [h.strip() for h in next(reader, [])]
    except csv.Error as exc:
        raise InvalidInput(_("The file is not a readable CSV sheet: %(problem)s") % {"problem": exc}) from exc

    def rows():
        for number, cells in enumerate(reader, start=2):
            if any(c.strip() for c in cells):
                yield Row(
                    number,
                    {h: (cells[i].strip() if i < len(cells) else "") for i, h in enumerate(header) if h},
                )

    return header, rows()


def _read_xlsx(path) -> tuple[list[str], Iterator[Row]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise InvalidInput(_("This is not an Excel workbook (.xlsx).")) from exc
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    header = [_cell(h) for h in next(values, ())]

    def rows():
        try:
            for number, cells in enumerate(values, start=2):
                texts = [_cell(c) for c in cells]
                if any(texts):
                    yield Row(
                        number, {h: (texts[i] if i < len(texts) else "") for i, h in enumerate(header) if h}
                    )
        finally:
            book.close()

    return header, rows()


# --- mapping -------------------------------------------------------------------------------


def parse_map(text: str) -> dict[str, str]:
    """'name=客户姓名,phone=手机' -> {"name": "客户姓名", "phone": "手机"}."""
    mapping = {}
    for part in filter(None, (p.strip() for p in (text or "").replace("，", ",").split(","))):
        target, sep, column = part.partition("=")
        target, column = target.strip(), column.strip()
        if not sep or not column:
            raise InvalidInput(_("Write the mapping as field=column, separated by commas."))
        if target not in FIELDS:
            raise InvalidInput(
                _("Unknown field %(field)s; fields are %(all)s.")
                % {"field": target, "all": ", ".join(FIELDS)}
            )
        mapping[target] = column
    return mapping


def resolve_columns(header: list[str], mapping: dict[str, str] | None) -> dict[str, str]:
    present = {h.strip(): h for h in header}
    lowered = {h.strip().lower(): h for h in header}
    if mapping:
        missing = [c for c in mapping.values() if c not in present]
        if missing:
            raise InvalidInput(_("The sheet has no column %(column)s.") % {"column": missing[0]})
        columns = dict(mapping)
    else:
        columns = {}
        for target, names in HEADERS.items():
            for name in names:
                if name.lower() in lowered:
                    columns[target] = lowered[name.lower()]
                    break
    if "name" not in columns:
        raise InvalidInput(_("No column holds the customer's name; map one with name=COLUMN."))
    return columns


# --- planning ------------------------------------------------------------------------------


class _Owners:
    """Owners named in the sheet, by employee number, user name or (unique) name, in the actor's scope."""

    def __init__(self, actor: Employee):
        self.actor = actor
        self.qs = employees_visible(actor)
        self.cache: dict[str, Employee | None] = {}

    def check(self, owner: Employee | None) -> Employee | None:
        """The rules create_customer applies, checked at planning time so the batch does not fail half-way."""
        if owner is not None and owner.pk != self.actor.pk:
            if self.actor.role not in rules.MANAGERS:
                raise Forbidden(_("Only managers may create customers for someone else."))
            rules.require_may_own(self.actor, owner)
        return owner

    def find(self, text: str) -> Employee:
        if text not in self.cache:
            found = list(self.qs.filter(Q(employee_no=text) | Q(user__username=text) | Q(name=text))[:2])
            self.cache[text] = found[0] if len(found) == 1 else None
        if self.cache[text] is None:
            raise InvalidInput(
                _("No one called %(who)s in your scope (use an employee number).") % {"who": text}
            )
        return self.cache[text]


class _Lines:
    """Product lines named in the sheet, by code or name (separated by , 、 ; |)."""

    def __init__(self):
        from custos.org.models import ProductLine

        self.by_text: dict[str, int] = {}
        for pk, code, name in ProductLine.objects.values_list("pk", "code", "name"):
            self.by_text[code.lower()] = pk
            self.by_text[name.lower()] = pk

    def find(self, text: str) -> list[int]:
        wanted = [t for t in _split(text) if t]
        unknown = [t for t in wanted if t.lower() not in self.by_text]
        if unknown:
            raise InvalidInput(_("Unknown product line: %(code)s") % {"code": ", ".join(unknown)})
        return sorted({self.by_text[t.lower()] for t in wanted})


def _profile(kind: str, v: dict[str, str]) -> dict:
    if kind != Customer.Kind.PERSON:
        return {"notes": v["notes"]} if v.get("notes") else {}
    gender = v.get("gender", "").strip().lower()
    if gender and gender not in GENDERS:
        raise InvalidInput(_("Gender is 男 or 女, not %(value)s.") % {"value": v["gender"]})
    return {
        "gender": GENDERS.get(gender),
        "birthday": v.get("birthday") or None,
        "occupation": v.get("occupation"),
        "preferences": {
            "sizes": v.get("sizes"),
            "styles": [s for s in _split(v.get("styles", "")) if s],
            "budget": v.get("budget"),
        },
        "notes": v.get("notes"),
    }


def _split(text: str) -> list[str]:
    for sep in "，、;；|":
        text = text.replace(sep, ",")
    return [t.strip() for t in text.split(",")]


def _plan_row(
    row: Row, columns: dict[str, str], owners: _Owners, default_owner: Employee | None, lines: _Lines | None = None
) -> Planned:
    v = {target: row.values.get(column, "").strip() for target, column in columns.items()}
    if any("\x00" in value for value in v.values()):
        # A NUL byte is what a binary file read as text leaves; the database refuses it.
        raise InvalidInput(_("The row holds a NUL character (\\0): is the file really a CSV sheet?"))
    kind = KINDS.get(v.get("kind", "").lower())
    if kind is None:
        raise InvalidInput(_("Type is 个人 or 公司, not %(value)s.") % {"value": v["kind"]})
    name = v.get("name", "")
    if not name:
        raise InvalidInput(_("A customer needs a name."))
    wanted = [
        NewContact(kind_, v[key], label)
        for key, kind_, label in (
            ("phone", "phone", ""),
            ("phone2", "phone", "2"),
            ("wechat", "wechat", ""),
            ("wecom", "wecom", ""),
            ("address", "address", ""),
        )
        if v.get(key)
    ]
    kwargs = {
        "kind": kind,
        "name": name,
        "owner": owners.check(owners.find(v["owner"]) if v.get("owner") else default_owner),
        "grade": (v.get("grade") or "C").upper(),
        "source": v.get("source") or _("import"),
        "tags": [t for t in _split(v.get("tags", "")) if t],
        "profile": profiles.clean(kind, _profile(kind, v)),
        "contacts_in": wanted,
    }
    if v.get("product_lines") and lines is not None:
        # Checked against the importer's own lines here, so the dry run names the row.
        kwargs["product_lines"] = lines.find(v["product_lines"])
        product_lines.require_lines_in_reach(owners.actor, kwargs["product_lines"])
    services.check_own_fields(name=name, source=kwargs["source"], tags=kwargs["tags"])
    return Planned(row.number, name, kwargs)


def plan(
    actor: Employee,
    header: list[str],
    rows: Iterable[Row],
    mapping: dict[str, str] | None = None,
    *,
    default_owner: Employee | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """What an import would do, row by row, changing nothing.

    Two passes: every row is read and checked on its own, then the numbers and ids of all of
    them are looked up in the company at once (a query per 500, not one per row).
    """
    policy.require_writer(actor)
    report = Report(columns=resolve_columns(header, mapping))
    owners = _Owners(actor)
    lines = _Lines()
    grades = services.grades()
    checked: list[tuple[Planned, list[tuple[str, str]]]] = []
    for count, row in enumerate(rows, start=1):
        if count > MAX_ROWS:
            report.errors.append((row.number, _("At most %(n)d rows in one import.") % {"n": MAX_ROWS}))
            break
        if progress:
            progress(1)
        try:
            planned = _plan_row(row, report.columns, owners, default_owner, lines)
            if planned.kwargs["grade"] not in grades:
                raise InvalidInput(_("Unknown grade %(grade)s.") % {"grade": planned.kwargs["grade"]})
            # (kind, blind index) of each number or id: what makes two customers the same one.
            keys = [
                (c.kind, contacts.index(c.kind, contacts.normalise(c.kind, c.value)))
                for c in planned.kwargs["contacts_in"]
            ]
        except DomainError as exc:
            report.errors.append((row.number, exc.message))
            continue
        checked.append((planned, [k for k in keys if k[1] is not None]))

    held: dict[tuple[str, str], str] = {}
    for kind in contacts.INDEXED:
        blinds = {blind for _p, keys in checked for k, blind in keys if k == kind}
        held.update({(kind, blind): unit for blind, unit in services.holder_units(kind, blinds).items()})
    seen: dict[tuple[str, str], int] = {}  # key -> the first row of this sheet holding it
    for planned, keys in checked:
        duplicate = next((k for k in keys if k in held or k in seen), None)
        if duplicate is None:
            seen.update(dict.fromkeys(keys, planned.number))
            report.create.append(planned)
        elif duplicate in held:
            report.duplicates.append(
                (planned.number, services.duplicate_conflict(duplicate[0], held[duplicate]).message)
            )
        else:
            label = CustomerContact.Kind(duplicate[0]).label
            message = _("Same %(kind)s as row %(row)d.") % {"kind": label, "row": seen[duplicate]}
            report.duplicates.append((planned.number, message))
    return report


class BatchFailed(InvalidInput):
    """A batch was refused at create time: the batches before it are in, it and the rest are not.

    `report.imported` and `report.not_imported` name the rows of each by spreadsheet number.
    """

    def __init__(self, message: str, report: Report):
        super().__init__(message)
        self.report = report


def rows_text(numbers: Iterable[int]) -> str:
    """Row numbers as ranges: [2, 3, 4, 7, 9, 10] -> "2-4, 7, 9-10"."""
    spans: list[list[int]] = []
    for n in sorted(numbers):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def run(
    actor: Employee,
    report: Report,
    *,
    progress: Callable[[int], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
) -> Report:
    """Create what `report` planned, BATCH rows per transaction; refuses a report with errors.

    `after_batch(rows)` runs inside each batch's transaction once its rows are created (the
    console's jobs count their progress there, so the count and the rows commit together);
    `progress(rows)` after the commit. When a batch is refused, raises BatchFailed: the batches
    before it stay, and the report names the rows imported and those not.
    """
    if not report.ok:
        raise InvalidInput(
            _("The sheet has %(n)d wrong rows; nothing was imported.") % {"n": len(report.errors)}
        )
    for i in range(0, len(report.create), BATCH):
        chunk = report.create[i : i + BATCH]
        try:
            with transaction.atomic():
                create_batch(actor, chunk)
                if after_batch:
                    after_batch(len(chunk))
        except (DomainError, DatabaseError) as exc:
            report.not_imported = [p.number for p in report.create[i:]]
            if isinstance(exc, DomainError):
                problem = exc.message
            else:
                # The database's own text may quote the values of the row: only its kind is said.
                log.warning("import batch %d refused by the database: %s", i // BATCH + 1, type(exc).__name__)
                problem = _("The database refused the batch (%(error)s).") % {"error": type(exc).__name__}
            report.failure = _(
                "Batch %(batch)d (rows %(first)d to %(last)d) was not imported: %(problem)s "
                "The %(done)d rows before row %(first)d are imported; the %(left)d rows from row %(first)d on are not. "
                "Import the same sheet again to add them: the rows already in are skipped as duplicates."
            ) % {
                "batch": i // BATCH + 1,
                "first": chunk[0].number,
                "last": chunk[-1].number,
                "problem": problem,
                "done": len(report.imported),
                "left": len(report.not_imported),
            }
            raise BatchFailed(report.failure, report) from exc
        report.created += len(chunk)
        report.imported.extend(p.number for p in chunk)
        if progress:
            progress(len(chunk))
    return report


def create_batch(actor: Employee, chunk: list[Planned]) -> None:
    """Create one batch of planned rows, all or nothing; an error names the spreadsheet row."""
    try:
        with transaction.atomic():
            services.create_customers(actor=actor, items=[p.kwargs for p in chunk], ledger_source="import")
    except DomainError as exc:
        item = getattr(exc, "item", None)
        if item is None:  # the database refused the batch (a number saved meanwhile): no one row to name
            raise
        row = chunk[item].number
        raise InvalidInput(_("Row %(row)d: %(problem)s") % {"row": row, "problem": exc.message}) from exc
