"""Reads of insights: the latest roll-up in the viewer's scope, never the raw tables.

own      a salesperson: their own figures and customers
subtree  a manager: the units under them, staff by staff
all      executives, admins, auditors: the whole company, stores compared
"""

from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from custos.access.scope import Scope, scope_of
from custos.customers.models import Customer
from custos.insights import scoring
from custos.insights.models import CustomerScore, Figure, Rollup
from custos.org.models import Employee, Unit

RISK_ROWS = 50


def latest_day() -> date | None:
    return Rollup.objects.filter(finished_at__isnull=False).values_list("day", flat=True).first()


def _scope(viewer: Employee | Scope) -> Scope:
    """A person's scope, or a unit's given as a Scope (the weekly report of a webhook's unit)."""
    return viewer if isinstance(viewer, Scope) else scope_of(viewer)


def _unit_ids(scope: Scope) -> list[int] | None:
    """A manager's units by id (None: the scope is not a subtree). The roll-up's rows are read by
    unit id, not by a prefix of the copied path: PostgreSQL cannot use a btree index for LIKE
    under a non-C collation, and a million scores read that way cost the team page 400 ms."""
    if scope.kind != "subtree":
        return None
    return list(Unit.objects.filter(scope.q_units()).order_by("pk").values_list("pk", flat=True))


def figures(viewer: Employee | Scope, metrics, day: date | None) -> QuerySet[Figure]:
    """The stored figures in scope. Their customer counts are over all of a unit's or a person's
    customers: for a viewer limited to product lines or grades read `figure_rows` instead."""
    qs = Figure.objects.filter(day=day, metric__in=list(metrics))
    scope = _scope(viewer)
    units = _unit_ids(scope)
    return qs.filter(unit_id__in=units) if units is not None else scope.filter(qs, owner="employee_id")


# The figures that count customers. The roll-up stores them per unit and person over all their
# customers, which cannot be narrowed to a product line or grade afterwards: for a viewer limited
# to lines or grades they are worked out live (`_live_figures`) from the day's scores and the
# tables, narrowed by Scope. The rest (response times, alerts, the weekly trends) stay the stored ones.
CUSTOMER_METRICS = frozenset(
    {"customers", "revenue_90d", "solo", "at_risk", "unanswered", "conversations", "completeness",
     "followups_due", "followups_done"}
)  # fmt: skip


def figure_rows(viewer: Employee | Scope, metrics, day: date | None, fields: tuple[str, ...]) -> list[dict]:
    """The day's figures in scope as dicts of `fields`; a limited viewer's customer counts live."""
    scope = _scope(viewer)
    metrics = list(metrics)
    live = [m for m in metrics if m in CUSTOMER_METRICS] if scope.limited else []
    stored = [m for m in metrics if m not in live]
    rows = list(figures(scope, stored, day).values(*fields)) if stored else []
    if live and day is not None:
        wanted = set(live)
        rows += [{k: r[k] for k in fields} for r in _live_all(scope, day) if r["metric"] in wanted]
    return rows


# Live figures already worked out while one dashboard is built (`_one_page`): it asks for them panel
# by panel (concentration, then activity), and each pass would read the day's scores again.
_page: ContextVar[dict | None] = ContextVar("insights_page", default=None)


@contextmanager
def _one_page():
    token = _page.set({})
    try:
        yield
    finally:
        _page.reset(token)


def _live_all(scope: Scope, day: date) -> list[dict]:
    """Every customer-counted figure of `day` in the scope, once per dashboard being built."""
    memo = _page.get()
    if memo is not None and (scope, day) in memo:
        return memo[(scope, day)]
    rows = _live_figures(scope, sorted(CUSTOMER_METRICS), day)
    if memo is not None:
        memo[(scope, day)] = rows
    return rows


def _live_figures(scope: Scope, metrics: list[str], day: date) -> list[dict]:
    """The customer-counted figures of `day` over the customers within the scope's limits, as the
    roll-up (rollup.build) counts them over all: per (unit, employee), the customer's unit and
    owner for customers, revenue, solo, at risk; the employee's unit for the rest."""
    from django.db.models import Avg, Count, Q, Sum, TextField
    from django.db.models.functions import Cast
    from django.utils import timezone

    from custos.archive.models import Conversation
    from custos.customers.models import FollowUp, Purchase
    from custos.insights import rollup

    now = min(rollup.end_of(day), timezone.now())
    today = timezone.localtime(now - timedelta(microseconds=1)).date()
    out: dict[tuple, float] = defaultdict(float)
    units = _unit_ids(scope)
    customers = Customer.objects.filter(status=Customer.Status.ACTIVE, owner__isnull=False).order_by()
    # A manager's customers by their units' ids, not by a join on the units' paths: PostgreSQL can't
    # tell how many rows a LIKE on the path keeps, guesses a tenth, and then probes the scores and
    # purchases customer by customer instead of hashing them (320 ms a read against 110 ms at a
    # million customers).
    if units is not None:
        customers = scope.limit_customers(customers.filter(unit_id__in=units), "pk")
    else:
        customers = scope.filter(customers, owner="owner_id", unit_path="unit__path")
    ids = customers.values("pk")
    employee_unit = dict(Employee.objects.values_list("pk", "unit_id"))
    if "customers" in metrics:
        for r in customers.values("unit_id", "owner_id").annotate(n=Count("pk")):
            out[("customers", r["unit_id"], r["owner_id"])] += r["n"]
    if "completeness" in metrics:
        for r in customers.values("owner_id").annotate(c=Avg("completeness")):
            out[("completeness", employee_unit.get(r["owner_id"]), r["owner_id"])] = round(r["c"], 1)
    if "revenue_90d" in metrics:
        since = today - timedelta(days=rollup.REVENUE_DAYS - 1)
        for r in (
            Purchase.objects.filter(customer_id__in=ids, purchased_on__gte=since, purchased_on__lte=today)
            .order_by()
            .values("customer__unit_id", "customer__owner_id")
            .annotate(s=Sum("amount"))
        ):
            out[("revenue_90d", r["customer__unit_id"], r["customer__owner_id"])] += int((r["s"] or 0) * 100)
    if {"solo", "at_risk", "unanswered"} & set(metrics):
        scores = CustomerScore.objects.filter(day=day, customer_id__in=ids)
        if units is not None:  # the index (day, unit_id, ...): the units' scores alone
            scores = scores.filter(unit_id__in=units)
        for r in scores.values("owner_id", "unit_id").annotate(
            solo=Count("pk", filter=Q(solo=True)), at_risk=Count("pk", filter=Q(score__gte=scoring.AT_RISK))
        ):
            out[("solo", r["unit_id"], r["owner_id"])] += r["solo"]
            out[("at_risk", r["unit_id"], r["owner_id"])] += r["at_risk"]
        # The owner's unanswered customers (the roll-up also counts a colleague's unanswered chat). Only
        # the reasons that name it are read and decoded: all of them cost a manager's page 400 ms.
        named = scores.annotate(text=Cast("reasons", TextField())).filter(text__contains="unanswered")
        for owner, reasons in named.values_list("owner_id", "reasons"):
            if any(x.get("code") == "unanswered" for x in reasons or ()):
                out[("unanswered", employee_unit.get(owner), owner)] += 1
    if "conversations" in metrics:
        talks = Conversation.objects.filter(
            last_at__gte=now - timedelta(days=rollup.RECENT_DAYS), last_at__lt=now, customer_id__isnull=False
        ).order_by()
        # Counted for the employee's unit: only the scope's staff's conversations can be kept below, so
        # only theirs are read (index archive_conv_employee_recent).
        if units is not None:
            talks = talks.filter(employee__unit_id__in=units)
        else:
            talks = scope.filter(talks, owner="employee_id", unit_path="employee__unit__path", customer=None)
        # A semi-join on the customers within the limits, not Scope.limit_customers' probe (its OR keeps
        # rows about no customer, and there are none here): the planner may hash the two sides instead
        # of probing a customer per conversation.
        if scope.limited:
            talks = talks.filter(customer_id__in=Customer.objects.filter(scope.q_customer()).values("pk"))
        for r in talks.values("employee_id").annotate(n=Count("pk")):
            out[("conversations", employee_unit.get(r["employee_id"]), r["employee_id"])] += r["n"]
    if {"followups_due", "followups_done"} & set(metrics):
        due = list(
            scope.limit_customers(
                FollowUp.objects.filter(
                    next_follow_up_on__gte=day - timedelta(days=rollup.RECENT_DAYS - 1),
                    next_follow_up_on__lte=day,
                )
            ).values_list("customer_id", "author_id", "occurred_at", "next_follow_up_on")
        )
        later: dict[int, list] = defaultdict(list)
        if due:
            first = min(d[2] for d in due)
            for cid, at in FollowUp.objects.filter(
                customer_id__in={d[0] for d in due}, occurred_at__gt=first, occurred_at__lt=now
            ).values_list("customer_id", "occurred_at"):
                later[cid].append(at)
        for cid, author, at, due_on in due:
            out[("followups_due", employee_unit.get(author), author)] += 1
            limit = rollup.end_of(due_on)
            if any(at < x < limit for x in later.get(cid, ())):
                out[("followups_done", employee_unit.get(author), author)] += 1
    allowed = set(units) if units is not None else None
    rows = []
    for (metric, unit, emp), value in out.items():
        if metric not in metrics or (not value and metric != "completeness"):
            continue
        if allowed is not None and unit not in allowed:
            continue
        if scope.kind == "own" and emp != scope.employee_id:
            continue
        if scope.kind not in ("all", "subtree", "own"):
            continue
        rows.append({"unit_id": unit, "employee_id": emp, "metric": metric, "key": "", "value": value})
    return rows


# The two orderings of the scores, each matched by an index (models.CustomerScore) so the top
# rows are read in order and nothing is sorted.
BY_SCORE = ("-score", "-revenue_90d", "customer_id")
BY_REVENUE = ("-revenue_90d", "-score", "customer_id")


def _top(viewer, day, *, solo: bool, limit: int) -> list[CustomerScore]:
    """The first `limit` scores in scope, in the order of the list asked for. A manager's units are
    read one at a time (each an index range in order, `limit` rows at most) and merged: an IN over
    several units would have to sort every score of them."""
    order = BY_REVENUE if solo else BY_SCORE
    scope = _scope(viewer)
    qs = CustomerScore.objects.filter(day=day)
    qs = qs.filter(solo=True) if solo else qs.filter(score__gt=0)
    qs = scope.limit_customers(qs)
    units = _unit_ids(scope)
    if units is None:
        return list(scope.filter(qs, owner="owner_id").order_by(*order)[:limit])
    rows = [r for unit_id in units for r in qs.filter(unit_id=unit_id).order_by(*order)[:limit]]
    key = (lambda r: (-r.revenue_90d, -r.score, r.customer_id)) if solo else (
        lambda r: (-r.score, -r.revenue_90d, r.customer_id))  # fmt: skip
    return sorted(rows, key=key)[:limit]


def bus_factor(values) -> int:
    """The fewest people who together hold at least half of the value (0 when there is none)."""
    ordered = sorted((v for v in values if v > 0), reverse=True)
    total, held = sum(ordered), 0
    for n, v in enumerate(ordered, 1):
        held += v
        if 2 * held >= total:
            return n
    return 0


def _names(model, ids) -> dict[int, str]:
    return dict(model.objects.filter(pk__in=[i for i in ids if i]).values_list("pk", "name"))


def _share(part, whole) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


@dataclass
class Panel:
    """A chart and the table of the same numbers (also its CSV)."""

    id: str
    title: str
    columns: list[str]
    rows: list[list]
    chart: str = "bar"  # bar | line | stacked | none
    series: list[int] = field(default_factory=lambda: [1])  # columns drawn; column 0 is the axis
    links: list[str] = field(default_factory=list)  # a link per row (the customer's page), or none
    note: str = ""

    def as_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "columns": self.columns, "rows": self.rows, "chart": self.chart,
                "series": self.series, "note": self.note}  # fmt: skip


def _stores(viewer: Employee, day) -> dict[int, dict]:
    """Per unit holding customers: its staff's figures, summed and per person."""
    units: dict[int, dict] = defaultdict(
        lambda: {"people": defaultdict(lambda: defaultdict(float)), "totals": defaultdict(float)}
    )
    metrics = ("customers", "revenue_90d", "conversations", "solo", "at_risk", "unanswered")
    for f in figure_rows(viewer, metrics, day, ("unit_id", "employee_id", "metric", "value")):
        u = units[f["unit_id"]]
        u["people"][f["employee_id"]][f["metric"]] += f["value"]
        u["totals"][f["metric"]] += f["value"]
    return units


def concentration(viewer: Employee, day=None, unit: Unit | None = None) -> list[dict]:
    """Per unit: each person's share of customers, 90-day revenue and active conversations, the
    bus factor of each, and the customers held by one person alone."""
    day = day or latest_day()
    stores = _stores(viewer, day)
    if unit is not None:
        paths = dict(Unit.objects.filter(pk__in=list(stores)).values_list("pk", "path"))
        stores = {k: v for k, v in stores.items() if paths.get(k, "").startswith(unit.path)}
    unit_names = _names(Unit, stores)
    people_names = _names(Employee, {e for s in stores.values() for e in s["people"]})
    out = []
    for unit_id, s in stores.items():
        t = s["totals"]
        people = []
        for emp, v in s["people"].items():
            if emp is None:
                continue
            people.append({
                "employee_id": emp, "name": people_names.get(emp, "—"),
                "customers": int(v["customers"]), "customers_share": _share(v["customers"], t["customers"]),
                "revenue": round(v["revenue_90d"] / 100, 2), "revenue_share": _share(v["revenue_90d"], t["revenue_90d"]),
                "conversations": int(v["conversations"]), "conversations_share": _share(v["conversations"], t["conversations"]),
                "solo": int(v["solo"]), "at_risk": int(v["at_risk"]),
            })  # fmt: skip
        people.sort(key=lambda p: (-p["revenue_share"], -p["customers_share"], p["name"]))
        out.append({
            "unit_id": unit_id, "name": unit_names.get(unit_id, "—"),
            "customers": int(t["customers"]), "revenue": round(t["revenue_90d"] / 100, 2),
            "conversations": int(t["conversations"]), "solo": int(t["solo"]), "at_risk": int(t["at_risk"]),
            "bus_factor": {
                "revenue": bus_factor(p["revenue"] for p in people),
                "customers": bus_factor(p["customers"] for p in people),
                "conversations": bus_factor(p["conversations"] for p in people),
            },
            "people": people,
        })  # fmt: skip
    out.sort(key=lambda u: (u["bus_factor"]["revenue"] or 99, -u["customers"], u["name"]))
    return [u for u in out if u["customers"] or u["conversations"]]


def risk_list(viewer: Employee, day=None, *, limit: int = RISK_ROWS, solo: bool = False) -> list[dict]:
    """Customers in scope ranked by churn score, with their reasons in words and the points of each."""
    day = day or latest_day()
    rows = _top(viewer, day, solo=solo, limit=limit)
    names = dict(Customer.objects.filter(pk__in=[r.customer_id for r in rows]).values_list("pk", "name"))
    owners = _names(Employee, {r.owner_id for r in rows})
    units = _names(Unit, {r.unit_id for r in rows})
    return [
        {
            "customer_id": r.customer_id, "name": names.get(r.customer_id, "—"), "owner_id": r.owner_id,
            "owner": owners.get(r.owner_id, "—"), "unit_id": r.unit_id, "unit": units.get(r.unit_id, "—"),
            "score": r.score, "solo": r.solo, "revenue": round(r.revenue_90d / 100, 2),
            "reasons": [{"code": x["code"], "points": x["points"], "text": scoring.explain(x)} for x in r.reasons],
        }
        for r in rows
    ]  # fmt: skip


def staff_activity(viewer: Employee, day=None) -> list[dict]:
    day = day or latest_day()
    metrics = ("response_median_min", "response_p90_min", "responses", "unanswered", "followups_due",
               "followups_done", "completeness", "customers", "at_risk", "alerts_person")  # fmt: skip
    weeks = _weeks(day)
    recent = set(weeks[-4:])
    people: dict[int, dict] = defaultdict(lambda: defaultdict(float))
    for f in figure_rows(viewer, metrics, day, ("employee_id", "metric", "key", "value")):
        if f["employee_id"] is None:
            continue
        if f["metric"] == "alerts_person":
            if f["key"] in recent:
                people[f["employee_id"]]["alerts_4w"] += f["value"]
        elif f["metric"] in ("response_median_min", "response_p90_min", "completeness"):
            people[f["employee_id"]][f["metric"]] = f["value"]
        else:
            people[f["employee_id"]][f["metric"]] += f["value"]
    names = _names(Employee, people)
    rows = []
    for emp, v in people.items():
        rows.append({
            "employee_id": emp, "name": names.get(emp, "—"),
            "response_median_min": v.get("response_median_min"), "response_p90_min": v.get("response_p90_min"),
            "responses": int(v["responses"]), "unanswered": int(v["unanswered"]),
            "followups_due": int(v["followups_due"]), "followups_done": int(v["followups_done"]),
            "completeness": v.get("completeness"), "customers": int(v["customers"]), "at_risk": int(v["at_risk"]),
            "alerts_per_week": round(v["alerts_4w"] / 4, 2),
        })  # fmt: skip
    rows.sort(key=lambda r: (-r["unanswered"], r["name"]))
    return rows


def _weeks(day) -> list[str]:
    if day is None:
        return []
    first = day - timedelta(days=day.weekday())
    return [(first - timedelta(weeks=n)).isoformat() for n in range(11, -1, -1)]


def trends(viewer: Employee, day=None) -> dict:
    """Weekly series of the last 12 weeks in scope, and handover retention."""
    day = day or latest_day()
    weeks = _weeks(day)
    by_week: dict[str, dict] = {w: defaultdict(float) for w in weeks}
    categories: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    stores: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    totals: dict[str, float] = defaultdict(float)
    metrics = ("alerts", "gained", "lost", "pool_claimed", "pool_recycled", "pool_size", "handover_moved",
               "handover_due_30", "handover_kept_30", "handover_due_90", "handover_kept_90")  # fmt: skip
    for f in figures(viewer, metrics, day).values("unit_id", "metric", "key", "value"):
        m = f["metric"]
        if m == "alerts":
            week, category = f["key"].split("|", 1)
            categories[category][week] += f["value"]
            stores[f["unit_id"]][week] += f["value"]
            if week in by_week:
                by_week[week]["alerts"] += f["value"]
        elif f["key"]:
            if f["key"] in by_week:
                by_week[f["key"]][m] += f["value"]
        else:
            totals[m] += f["value"]
    store_names = _names(Unit, stores)

    def kept(days):
        due = totals[f"handover_due_{days}"]
        return {
            "due": int(due),
            "kept": int(totals[f"handover_kept_{days}"]),
            "rate": _share(totals[f"handover_kept_{days}"], due),
        }

    return {
        "weeks": weeks,
        "alerts": [int(by_week[w]["alerts"]) for w in weeks],
        "gained": [int(by_week[w]["gained"]) for w in weeks],
        "lost": [int(by_week[w]["lost"]) for w in weeks],
        "pool_claimed": [int(by_week[w]["pool_claimed"]) for w in weeks],
        "pool_recycled": [int(by_week[w]["pool_recycled"]) for w in weeks],
        "pool_size": int(totals["pool_size"]),
        "alerts_by_category": {c: [int(v.get(w, 0)) for w in weeks] for c, v in sorted(categories.items())},
        "alerts_by_store": {
            store_names.get(u, "—"): [int(v.get(w, 0)) for w in weeks] for u, v in stores.items()
        },
        "handover": {"moved": int(totals["handover_moved"]), "d30": kept(30), "d90": kept(90)},
    }


# --- the three dashboards -------------------------------------------------------------------


def _risk_panel(rows: list[dict], pid="risk", title=None) -> Panel:
    return Panel(
        id=pid, title=title or _("Customers at risk"), chart="none",
        columns=[_("Customer"), _("Score"), _("Owner"), _("Unit"), _("Reasons (points)")],
        rows=[[r["name"], r["score"], r["owner"], r["unit"], "; ".join(f"{x['text']} (+{x['points']})" for x in r["reasons"])] for r in rows],
        links=[f"/customers/{r['customer_id']}/" for r in rows],
    )  # fmt: skip


def _solo_panel(rows: list[dict]) -> Panel:
    return Panel(
        id="solo", title=_("Customers only one person knows"), chart="none",
        columns=[_("Customer"), _("Owner"), _("Unit"), _("Revenue, 90 days (yuan)"), _("Score")],
        rows=[[r["name"], r["owner"], r["unit"], r["revenue"], r["score"]] for r in rows],
        links=[f"/customers/{r['customer_id']}/" for r in rows],
        note=_("No service desk contact, no second staff member in conversation, no other WeCom follower."),
    )  # fmt: skip


def _trend_panels(t: dict) -> list[Panel]:
    weeks = t["weeks"]
    panels = [
        Panel(id="customers_weekly", title=_("Customers gained and lost per week"), chart="line", series=[1, 2],
              columns=[_("Week"), _("Gained"), _("Lost")],
              rows=[[w, g, lo] for w, g, lo in zip(weeks, t["gained"], t["lost"], strict=True)]),
        Panel(id="alerts_category", title=_("Alerts by category per week"), chart="stacked",
              series=list(range(1, len(t["alerts_by_category"]) + 1)),
              columns=[_("Week"), *t["alerts_by_category"].keys()],
              rows=[[w, *(v[i] for v in t["alerts_by_category"].values())] for i, w in enumerate(weeks)]),
        Panel(id="alerts_store", title=_("Alerts by unit per week"), chart="line",
              series=list(range(1, len(t["alerts_by_store"]) + 1)),
              columns=[_("Week"), *t["alerts_by_store"].keys()],
              rows=[[w, *(v[i] for v in t["alerts_by_store"].values())] for i, w in enumerate(weeks)]),
        Panel(id="pool", title=_("Public pool: claimed and recycled per week"), chart="bar", series=[1, 2],
              columns=[_("Week"), _("Claimed or allocated"), _("Recycled")],
              rows=[[w, c, r] for w, c, r in zip(weeks, t["pool_claimed"], t["pool_recycled"], strict=True)],
              note=_("Customers in the pool now: %(n)s") % {"n": t["pool_size"]}),
    ]  # fmt: skip
    h = t["handover"]
    panels.append(
        Panel(id="handover", title=_("Handover retention"), chart="bar", series=[2],
              columns=[_("After"), _("Handed over, counted"), _("Still with us and in touch"), _("Retention %")],
              rows=[[_("30 days"), h["d30"]["due"], h["d30"]["kept"], h["d30"]["rate"]],
                    [_("90 days"), h["d90"]["due"], h["d90"]["kept"], h["d90"]["rate"]]],
              note=_("Customers handed over by departures in the last year: %(n)s") % {"n": h["moved"]})
    )  # fmt: skip
    return panels


def _activity_panels(rows: list[dict]) -> list[Panel]:
    def dash(v):
        return "—" if v is None else v

    return [
        Panel(id="response", title=_("Response time to customers (minutes, last 30 days)"), chart="bar", series=[1, 2],
              columns=[_("Employee"), _("Median"), _("90th percentile"), _("Answers")],
              rows=[[r["name"], dash(r["response_median_min"]), dash(r["response_p90_min"]), r["responses"]] for r in rows]),
        Panel(id="activity", title=_("Staff activity"), chart="bar", series=[1, 3],
              columns=[_("Employee"), _("Unanswered customers"), _("Follow-ups due (30 days)"), _("Done on time"),
                       _("Profile completeness %"), _("Alerts per week (last 4)")],
              rows=[[r["name"], r["unanswered"], r["followups_due"], r["followups_done"], dash(r["completeness"]),
                     r["alerts_per_week"]] for r in rows]),
    ]  # fmt: skip


@_one_page()
def company(viewer: Employee) -> dict:
    """The owner's view: stores compared, the company's trends, the top of the risk list."""
    day = latest_day()
    units = concentration(viewer, day)
    t = trends(viewer, day)
    panels = [
        Panel(id="stores", title=_("Stores compared"), chart="bar", series=[1, 4],
              columns=[_("Unit"), _("Customers"), _("Revenue, 90 days (yuan)"), _("Bus factor (revenue)"),
                       _("At risk"), _("Held by one person only"), _("Top person's share of revenue %")],
              rows=[[u["name"], u["customers"], u["revenue"], u["bus_factor"]["revenue"], u["at_risk"], u["solo"],
                     u["people"][0]["revenue_share"] if u["people"] else 0] for u in units],
              note=_("Bus factor: the fewest people holding half of the unit's value. 1 means one departure takes half.")),
        *_trend_panels(t),
        _risk_panel(risk_list(viewer, day, limit=20)),
    ]  # fmt: skip
    return {"day": day, "units": units, "trends": t, "panels": panels}


@_one_page()
def team(viewer: Employee, unit: Unit | None = None) -> dict:
    """A store manager's view: their staff, who holds what, who answers, who is slipping."""
    day = latest_day()
    units = concentration(viewer, day, unit)
    activity = staff_activity(viewer, day)
    people: dict[int, dict] = {}
    for u in units:
        for p in u["people"]:
            q = people.setdefault(p["employee_id"], {**p, "unit": u["name"]})
            if q is not p:
                for k in ("customers", "revenue", "conversations", "solo", "at_risk"):
                    q[k] += p[k]
    total_rev = sum(p["revenue"] for p in people.values())
    total_cust = sum(p["customers"] for p in people.values())
    ranked = sorted(people.values(), key=lambda p: (-p["revenue"], -p["customers"]))
    panels = [
        Panel(id="holders", title=_("If this person left tomorrow: who holds what"), chart="bar", series=[2, 4],
              columns=[_("Employee"), _("Customers"), _("Share of customers %"), _("Revenue, 90 days (yuan)"),
                       _("Share of revenue %"), _("Active conversations"), _("Held by them alone")],
              rows=[[p["name"], p["customers"], _share(p["customers"], total_cust), p["revenue"],
                     _share(p["revenue"], total_rev), p["conversations"], p["solo"]] for p in ranked],
              note=_("Bus factor of your units: %(n)s (revenue), %(c)s (customers)") % {
                  "n": bus_factor(p["revenue"] for p in ranked), "c": bus_factor(p["customers"] for p in ranked)}),
        *_activity_panels(activity),
        _risk_panel(risk_list(viewer, day)),
        _solo_panel(risk_list(viewer, day, limit=20, solo=True)),
        *_trend_panels(trends(viewer, day))[:2],
    ]  # fmt: skip
    return {"day": day, "units": units, "staff": activity, "panels": panels}


@_one_page()
def mine(viewer: Employee) -> dict:
    """A salesperson's view: their own customers at risk, and their own answering."""
    day = latest_day()
    risk = risk_list(viewer, day)
    activity = staff_activity(viewer, day)
    panels = [
        _risk_panel(risk, title=_("My customers at risk")),
        *_activity_panels(activity),
    ]
    return {"day": day, "risk": risk, "staff": activity, "panels": panels}


def dashboard_for(viewer: Employee, name: str) -> dict:
    return {"company": company, "team": team, "mine": mine}[name](viewer)


def default_dashboard(viewer: Employee) -> str:
    kind = scope_of(viewer).kind
    return {"all": "company", "subtree": "team"}.get(kind, "mine")
