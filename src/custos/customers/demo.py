"""Demo customers for the demo company: about 2,000 people and companies, a year of history.

Every salesperson of the demo org gets their share of their store's customers, of every grade,
with Chinese names, filled-in (or thin) files, unique phone numbers, follow-ups and purchases
over the past year, and feedback here and there. A few wait in the pool, a few are archived,
some changed hands once. Everything comes from a seeded generator: the same seed, the same data.

Rows go in with bulk_create and the ledger with append_batch, so the whole build takes seconds;
each contact is still encrypted on its own, as the product always does.
"""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from custos.customers import completeness, contacts, names
from custos.customers import demo_data as d
from custos.customers.models import Customer, CustomerContact, Feedback, FollowUp, Purchase, Tag
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

SOURCE = "demo"
GRADES = (("A", 10), ("B", 25), ("C", 40), ("D", 25))
FOLLOW_UP_KINDS = (("wechat", 35), ("call", 25), ("visit", 20), ("note", 10), ("meeting", 5), ("email", 5))
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "177",
    "180",
    "181",
    "182",
    "186",
    "187",
    "188",
    "189",
    "199",
]
LEDGER_BATCH = 2000


def _weighted(rng: random.Random, table) -> str:
    values, weights = zip(*table, strict=True)
    return rng.choices(values, weights)[0]


def _region(employee: Employee) -> str:
    return "华东区" if "华东" in (employee.unit.parent.name if employee.unit.parent else "") else "华南区"


class _Builder:
    def __init__(self, seed: int, now: datetime):
        self.rng = random.Random(seed * 7919 + 4)
        self.now = now
        self.today = timezone.localdate(now)
        self.phones: set[str] = set()
        self.names: set[str] = set()

    # --- small draws ---------------------------------------------------------------

    def phone(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return "+86" + number

    def wechat(self) -> str:
        while True:
            value = f"wx_{self.rng.randrange(16**8):08x}"
            if value not in self.phones:
                self.phones.add(value)
                return value

    def person_name(self, female: bool) -> str:
        rng = self.rng
        for _ in range(20):
            name = rng.choice(d.SURNAMES) + rng.choice(d.GIVEN_FEMALE if female else d.GIVEN_MALE)
            if name not in self.names:
                break
        self.names.add(name)
        return name

    def moment(self, days_back: int, start_days_back: int = 0) -> datetime:
        """A time during shop hours, between `days_back` and `start_days_back` days ago."""
        day = self.today - timedelta(days=self.rng.randint(start_days_back, days_back))
        at = timezone.make_aware(
            datetime.combine(day, time(self.rng.randint(9, 20), self.rng.randint(0, 59)))
        )
        return min(at, self.now - timedelta(minutes=self.rng.randint(5, 300)))

    # --- files ---------------------------------------------------------------------

    def person_profile(self, female: bool, region: str, richness: float) -> dict:
        rng = self.rng

        def some(p: float) -> bool:
            return rng.random() < p * richness

        profile: dict = {"gender": "female" if female else "male"}
        if some(0.8):
            profile["birthday"] = date(
                rng.randint(1958, 2003), rng.randint(1, 12), rng.randint(1, 28)
            ).isoformat()
        if some(0.7):
            profile["occupation"] = rng.choice(d.OCCUPATIONS)
        if some(0.4):
            profile["hometown"] = rng.choice(d.HOMETOWNS)
        prefs = {}
        if some(0.85):
            prefs["sizes"] = rng.choice(d.SIZES_FEMALE if female else d.SIZES_MALE)
        if some(0.8):
            prefs["styles"] = rng.sample(d.STYLES, rng.randint(1, 3))
        if some(0.5):
            prefs["colors"] = rng.sample(d.COLORS, rng.randint(1, 3))
        if some(0.25):
            prefs["brands"] = rng.sample(d.BRANDS, rng.randint(1, 2))
        if some(0.7):
            prefs["budget"] = rng.choice(d.BUDGETS)
        if prefs:
            profile["preferences"] = prefs
        family: dict = {}
        if some(0.6):
            spouse = {"name": self.person_name(not female)}
            if rng.random() < 0.6:
                spouse["occupation"] = rng.choice(d.OCCUPATIONS)
            if rng.random() < 0.5:
                spouse["likes"] = rng.choice(d.SPOUSE_LIKES)
            family["spouse"] = spouse
        if some(0.5):
            family["children"] = [
                {
                    "name": rng.choice(d.CHILD_NAMES),
                    "birth_year": rng.randint(2008, 2022),
                    "school": rng.choice(d.SCHOOLS[region]),
                }
                for _ in range(rng.choice((1, 1, 2)))
            ]
        if some(0.35):
            elder = {
                "relation": rng.choice(d.ELDER_RELATIONS),
                "age": rng.randint(60, 88),
                "likes": rng.choice(d.ELDER_LIKES),
            }
            if health := rng.choice(d.ELDER_HEALTH):
                elder["health"] = health
            family["elders"] = [elder]
        if family:
            profile["family"] = family
        if some(0.5) and (note := rng.choice(d.PERSON_NOTES)):
            profile["notes"] = note
        return profile

    def company(self, region: str, richness: float) -> tuple[str, dict]:
        rng = self.rng
        pattern, industry, business = rng.choice(d.COMPANY_KINDS)
        for _ in range(20):
            name = pattern.format(city=rng.choice(d.CITIES[region]), word=rng.choice(d.COMPANY_WORDS))
            if name not in self.names:
                break
        self.names.add(name)

        def some(p: float) -> bool:
            return rng.random() < p * richness

        profile: dict = {}
        if some(0.9):
            profile["overview"] = {
                "industry": industry,
                "founded_year": rng.randint(1998, 2022),
                "staff_size": rng.choice(d.STAFF_SIZES),
                "main_business": business,
            }
        if some(0.7):
            profile["business"] = {
                "annual_revenue": rng.choice(d.REVENUES),
                "condition": rng.choice(d.CONDITIONS),
            }
        if some(0.7):
            boss = {"name": self.person_name(rng.random() < 0.3), "hometown": rng.choice(d.HOMETOWNS)}
            if rng.random() < 0.7:
                boss["hobbies"] = rng.choice(d.BOSS_HOBBIES)
            if rng.random() < 0.5:
                boss["family"] = rng.choice(d.BOSS_FAMILY)
            if rng.random() < 0.4:
                boss["birthday"] = date(
                    rng.randint(1960, 1990), rng.randint(1, 12), rng.randint(1, 28)
                ).isoformat()
            profile["boss"] = boss
        if some(0.75):
            terms, days = rng.choice(d.TERMS)
            profile["settlement"] = {"terms": terms, "payment_days": days, "habits": rng.choice(d.PAY_HABITS)}
        if some(0.6):
            profile["key_staff"] = [
                {"name": self.person_name(rng.random() < 0.6), "title": title}
                for title in rng.sample(d.KEY_TITLES, rng.randint(1, 3))
            ]
        return name, profile


def _sales_staff() -> list[Employee]:
    return list(
        Employee.objects.filter(role=Role.SALES, status=Employee.Status.ACTIVE)
        .select_related("unit", "unit__parent")
        .order_by("pk")
    )


@transaction.atomic
def build(seed: int = 2026, total: int = 2000) -> dict:
    """Create about `total` demo customers for the demo org's sales staff; returns counts."""
    staff = _sales_staff()
    if not staff:
        return {"customers": 0}
    b = _Builder(seed, timezone.now())
    rng = b.rng
    tags = {t.name: t for t in Tag.objects.filter(name__in=d.TAGS)}
    missing = [Tag(name=n) for n in d.TAGS if n not in tags]
    Tag.objects.bulk_create(missing)
    tags = {t.name: t for t in Tag.objects.filter(name__in=d.TAGS)}
    by_store: dict[int, list[Employee]] = {}
    for e in staff:
        by_store.setdefault(e.unit_id, []).append(e)

    # 1. customers, with their files; contacts are sealed once the ids exist.
    plans = []
    for i in range(total):
        owner = staff[i % len(staff)]
        region = _region(owner)
        is_company = rng.random() < 0.15
        richness = rng.choice((0.3, 0.6, 1.0, 1.0, 1.2))  # thin files and full ones, as in a real shop
        if is_company:
            name, profile = b.company(region, richness)
            kind = Customer.Kind.COMPANY
        else:
            female = rng.random() < 0.72
            name, profile = b.person_name(female), b.person_profile(female, region, richness)
            kind = Customer.Kind.PERSON
        roll = rng.random()
        status = (
            Customer.Status.IN_POOL
            if roll < 0.03
            else Customer.Status.ARCHIVED
            if roll < 0.05
            else Customer.Status.ACTIVE
        )
        wanted = [("phone", b.phone(), "本人" if not is_company else "前台")]
        if rng.random() < (0.65 if not is_company else 0.4):
            wanted.append(("wechat", b.wechat(), ""))
        if rng.random() < (0.35 if not is_company else 0.7):
            city = rng.choice(d.CITIES[region])
            wanted.append(
                (
                    "address",
                    f"{city}市{rng.choice('天河越秀海珠南山福田禅城徐汇静安西湖鼓楼')}区某路{rng.randint(1, 399)}号",
                    "",
                )
            )
        if is_company and rng.random() < 0.5:
            wanted.append(("phone", b.phone(), "老板"))
        created_at = b.moment(3 * 365, 20)
        customer = Customer(
            kind=kind,
            name=name,
            search_key=names.search_key(name),
            owner=None if status == Customer.Status.IN_POOL else owner,
            unit_id=owner.unit_id,
            grade=_weighted(rng, GRADES),
            source="企业团购" if is_company else rng.choice(d.SOURCES),
            status=status,
            profile=profile,
            completeness=completeness.score(kind, profile, {k for k, _v, _l in wanted}),
            created_by=owner,
            created_at=created_at,
        )
        plans.append((customer, owner, wanted, rng.sample(list(tags), rng.choice((0, 1, 1, 2, 3)))))
    Customer.objects.bulk_create([p[0] for p in plans], batch_size=500)

    rows, events, tag_rows = [], [], []
    through = Customer.tags.through
    for customer, owner, wanted, tag_names in plans:
        for kind, value, label in wanted:
            sealed = contacts.seal(customer.pk, kind, value)
            rows.append(
                CustomerContact(
                    customer=customer,
                    kind=kind,
                    label=label,
                    value_encrypted=sealed.value_encrypted,
                    blind_index=sealed.blind_index,
                    tail_index=sealed.tail_index,
                    masked=sealed.masked,
                    created_by=owner,
                )
            )
        tag_rows += [through(customer_id=customer.pk, tag_id=tags[n].pk) for n in tag_names]
        events.append(
            Event(
                kind="customer.created",
                payload={
                    "customer": customer.pk,
                    "kind": customer.kind,
                    "name": customer.name,
                    "owner": owner.pk,
                    "unit": customer.unit_id,
                    "grade": customer.grade,
                    "source": customer.source,
                    "tags": tag_names,
                    "profile": customer.profile,
                    "contacts": [{"kind": k, "masked": contacts.mask(k, v)} for k, v, _l in wanted],
                },
                actor_id=owner.pk,
                unit_id=customer.unit_id,
                customer_id=customer.pk,
                source=SOURCE,
                occurred_at=customer.created_at,
            )
        )
    CustomerContact.objects.bulk_create(rows, batch_size=1000)
    through.objects.bulk_create(tag_rows, batch_size=1000)

    # 2. a year of follow-ups, purchases and feedback.
    follow_ups, purchases, feedback, touched = [], [], [], []
    for customer, owner, _wanted, _tags in plans:
        active = customer.status == Customer.Status.ACTIVE
        n = rng.choice((0, 1, 2, 3, 4, 5, 6, 8)) if active else rng.choice((0, 0, 1))
        last_contact = None
        for _ in range(n):
            kind = _weighted(rng, FOLLOW_UP_KINDS)
            if customer.kind == Customer.Kind.PERSON and kind in ("meeting", "email"):
                kind = "wechat"
            content, outcome = rng.choice(d.FOLLOW_UP_TEXTS[kind])
            at = max(b.moment(365), customer.created_at + timedelta(hours=1))
            if at > b.now:
                continue
            follow_ups.append(
                FollowUp(
                    customer=customer,
                    author=owner,
                    kind=kind,
                    content=content,
                    outcome=outcome,
                    occurred_at=at,
                )
            )
            if kind != "note" and (last_contact is None or at > last_contact):
                last_contact = at
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 5)) if active or rng.random() < 0.3 else 0):
            if customer.kind == Customer.Kind.COMPANY:
                product, low, high = rng.choice(d.COMPANY_ORDERS)
                amount = Decimal(rng.randrange(low, high, 100))
            else:
                product, low, high = rng.choice(d.PRODUCTS)
                amount = Decimal(rng.randrange(low // 10, high // 10) * 10 - 1)  # shop prices end in 9
            day = max(b.moment(365).date(), timezone.localdate(customer.created_at))
            purchases.append(
                Purchase(
                    customer=customer, product=product, amount=amount, purchased_on=day, recorded_by=owner
                )
            )
        if rng.random() < 0.1:
            complaint = rng.choice(d.COMPLAINTS)
            rating = rng.choice((1, 2, 3)) if complaint else rng.choice((4, 5, 5))
            feedback.append(
                Feedback(
                    customer=customer,
                    rating=rating,
                    complaint=complaint,
                    recorded_by=owner,
                    created_at=b.moment(300),
                )
            )
        customer.last_contact_at = last_contact
        if active and rng.random() < 0.4:
            customer.next_follow_up_on = b.today + timedelta(days=rng.randint(-10, 30))
        touched.append(customer)
    FollowUp.objects.bulk_create(follow_ups, batch_size=1000)
    Purchase.objects.bulk_create(purchases, batch_size=1000)
    Feedback.objects.bulk_create(feedback, batch_size=1000)
    Customer.objects.bulk_update(touched, ["last_contact_at", "next_follow_up_on"], batch_size=500)

    def entry(kind, customer, at, payload, actor_id):
        return Event(
            kind=kind,
            payload=payload,
            actor_id=actor_id,
            unit_id=customer.unit_id,
            customer_id=customer.pk,
            source=SOURCE,
            occurred_at=at,
        )

    for f in follow_ups:
        payload = {
            "follow_up": f.pk,
            "kind": f.kind,
            "content": f.content,
            "outcome": f.outcome,
            "occurred_at": f.occurred_at.isoformat(),
            "next_follow_up_on": None,
        }
        events.append(entry("customer.follow_up_added", f.customer, f.occurred_at, payload, f.author_id))
    for p in purchases:
        at = timezone.make_aware(datetime.combine(p.purchased_on, time(15)))
        payload = {
            "purchase": p.pk,
            "product": p.product,
            "amount": str(p.amount),
            "purchased_on": p.purchased_on.isoformat(),
            "note": "",
        }
        events.append(entry("customer.purchase_added", p.customer, min(at, b.now), payload, p.recorded_by_id))
    for f in feedback:
        payload = {"feedback": f.pk, "rating": f.rating, "complaint": f.complaint}
        events.append(entry("customer.feedback_added", f.customer, f.created_at, payload, f.recorded_by_id))

    # 3. history of hands: some customers came from a colleague; the pool and the archive have reasons.
    managers = {e.unit_id: e for e in Employee.objects.filter(role=Role.MANAGER)}
    for customer, owner, _wanted, _tags in plans:
        manager = managers.get(customer.unit_id)
        if customer.status == Customer.Status.IN_POOL:
            at = b.moment(200, 10)
            payload = {
                "change": "recycle",
                "from": owner.pk,
                "to": None,
                "from_unit": customer.unit_id,
                "to_unit": customer.unit_id,
                "reason": "长期未跟进，回收公海",
            }
            events.append(
                entry("customer.owner_changed", customer, at, payload, manager.pk if manager else None)
            )
        elif customer.status == Customer.Status.ARCHIVED:
            at = b.moment(200, 10)
            payload = {
                "from_status": "active",
                "reason": rng.choice(["客户移居外地", "公司已注销", "客户要求不再联系"]),
            }
            events.append(entry("customer.archived", customer, at, payload, manager.pk if manager else None))
        elif rng.random() < 0.06 and len(by_store[owner.unit_id]) > 1:
            before = rng.choice([e for e in by_store[owner.unit_id] if e.pk != owner.pk])
            at = max(b.moment(300, 30), customer.created_at + timedelta(days=1))
            payload = {
                "change": "transfer",
                "from": before.pk,
                "to": owner.pk,
                "from_unit": customer.unit_id,
                "to_unit": customer.unit_id,
                "reason": "在职继承：调整客户分配",
            }
            events.append(
                entry("customer.owner_changed", customer, at, payload, manager.pk if manager else None)
            )

    events.sort(key=lambda e: e.occurred_at)
    for i in range(0, len(events), LEDGER_BATCH):
        append_batch(events[i : i + LEDGER_BATCH])
    # Member cards (会员卡) for the A and B customers: what they show in another store of the chain.
    members = list(Customer.objects.filter(grade__in=["A", "B"]).order_by("pk"))
    for n, customer in enumerate(members, start=1):
        customer.member_no = f"YS{100000 + n}"
    Customer.objects.bulk_update(members, ["member_no"], batch_size=500)
    return {
        "customers": len(plans),
        "contacts": len(rows),
        "follow_ups": len(follow_ups),
        "purchases": len(purchases),
        "feedback": len(feedback),
        "entries": len(events),
    }
