"""`python -m bench.customers --scale N`: N customers, then the API's list and search latencies.

The rows go in with bare bulk inserts (the services would write a ledger entry per customer and
take hours for a million); what is timed is the real API call through the test client: token
authentication, scope, filters, the page's count, serialisation.
"""

import random
import statistics
import time
from datetime import timedelta

CHUNK = 20_000
SAMPLES = 120


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(n: int, rng: random.Random) -> list[str]:
    """Insert n customers with one phone each; returns a sample of the phones."""
    from django.db import connection, transaction
    from django.utils import timezone

    from custos.customers import contacts, demo_data, names
    from custos.customers.models import Customer, CustomerContact, Tag
    from custos.org.models import Employee, Role, Unit

    now = timezone.now()
    tags = [Tag.objects.get_or_create(name=t)[0] for t in ("老客户", "高端", "会员", "装修中", "团购")]
    stores = list(Unit.objects.filter(kind=Unit.Kind.STORE))
    staff = {
        s.pk: list(Employee.objects.filter(unit=s, role__in=[Role.SALES, Role.SERVICE]).values_list("pk", flat=True))
        for s in stores
    }
    given = demo_data.GIVEN_FEMALE + demo_data.GIVEN_MALE
    through = Customer.tags.through
    phones: list[str] = []
    keys: dict[str, str] = {}
    started = time.perf_counter()
    for base in range(0, n, CHUNK):
        size = min(CHUNK, n - base)
        rows = []
        for _ in range(size):
            store = rng.choice(stores)
            roll = rng.random()
            status = "in_pool" if roll < 0.08 else "archived" if roll < 0.12 else "active"
            contacted = now - timedelta(days=rng.random() * 730) if rng.random() < 0.8 else None
            name = rng.choice(demo_data.SURNAMES) + rng.choice(given)
            if name not in keys:
                keys[name] = names.search_key(name)
            rows.append(
                Customer(
                    kind="company" if rng.random() < 0.1 else "person",
                    name=name,
                    # bulk_create skips save(), which fills the search key: the name search reads it
                    search_key=keys[name],
                    owner_id=None if status == "in_pool" else rng.choice(staff[store.pk]),
                    unit_id=store.pk,
                    grade=rng.choices("ABCD", (1, 3, 4, 2))[0],
                    status=status,
                    completeness=rng.randint(10, 95),
                    created_at=now - timedelta(days=rng.random() * 1500),
                    last_contact_at=contacted,
                    next_follow_up_on=(now + timedelta(days=rng.randint(-30, 60))).date()
                    if rng.random() < 0.3
                    else None,
                )
            )
        with transaction.atomic():
            made = Customer.objects.bulk_create(rows, batch_size=5000)
            sealed = []
            links = []
            for i, customer in enumerate(made):
                number = f"+861{rng.choice('3589')}{base + i:09d}"
                if rng.random() < 0.001:
                    phones.append(number)
                s = contacts.seal(customer.pk, "phone", number)
                sealed.append(
                    CustomerContact(
                        customer_id=customer.pk,
                        kind="phone",
                        value_encrypted=s.value_encrypted,
                        blind_index=s.blind_index,
                        masked=s.masked,
                    )
                )
                if rng.random() < 0.3:
                    links.append(through(customer_id=customer.pk, tag_id=rng.choice(tags).pk))
            CustomerContact.objects.bulk_create(sealed, batch_size=5000)
            through.objects.bulk_create(links, batch_size=5000)
        done = base + size
        if done % 200_000 == 0 or done == n:
            print(f"  loaded {done:,} customers in {time.perf_counter() - started:,.0f} s", flush=True)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # auto_now stamped every row with the load time; a real company's changes are spread out.
            cursor.execute(
                "UPDATE customers_customer SET updated_at = now() - random() * interval '730 days'"
            )
            cursor.execute("VACUUM ANALYZE")  # outside a transaction: Django autocommits here
        else:
            cursor.execute(
                "UPDATE customers_customer SET updated_at = datetime('now', '-' || abs(random() % 730) || ' days')"
            )
            cursor.execute("ANALYZE")
    return phones


def run_scale(vendor: str, n: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test import Client

    from custos.access import tokens
    from custos.access.models import ApiToken
    from custos.customers.models import Customer
    from custos.org import demo as org_demo
    from custos.org.models import Employee, Role, Unit

    rng = random.Random(7)
    with transaction.atomic():
        org_demo.build(2026)
    print(f"customers at scale on {vendor}: loading {n:,}")
    phones = load(n, rng)
    names = list(Customer.objects.order_by("?").values_list("name", flat=True)[:200])

    viewers = {
        "sales": Employee.objects.filter(role=Role.SALES, unit__kind=Unit.Kind.STORE).first(),
        "store manager": Employee.objects.filter(role=Role.MANAGER, unit__kind=Unit.Kind.STORE).first(),
        "region manager": Employee.objects.filter(role=Role.MANAGER, unit__kind=Unit.Kind.REGION).first(),
        "admin": Employee.objects.get(user__username="admin"),
    }
    # A region manager limited to grades A and B (issue #20): the same lists, narrowed by grade.
    region = viewers["region manager"]
    user = get_user_model().objects.create(username="bench-limited", password="!")
    viewers["region A/B"] = Employee.objects.create(
        user=user, name="限定经理", employee_no="BL1", unit=region.unit, role=Role.MANAGER, limit_grades="A,B"
    )
    lists = [
        {},
        {"grade": "A"},
        {"tag": "高端"},
        {"follow_up_due": "true"},
        {"status": "in_pool"},
        {"offset": "2000"},
    ]
    print(
        f"  {'viewer':<15} {'in scope':>10} {'list p50':>9} {'p95':>7} {'search p50':>11} {'p95':>7}   ms"
    )
    worst = 0.0
    for label, employee in viewers.items():
        _t, secret = tokens.issue(actor=employee, kind=ApiToken.Kind.PERSONAL, name="bench")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")

        def call(params, client=client):
            started = time.perf_counter()
            response = client.get("/api/v1/customers", params)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.content[:200]
            return elapsed, response.json()

        _ms, first = call({"limit": "1"})
        call({})  # warm caches once, as a running server would be
        list_ms = [call(rng.choice(lists))[0] for _ in range(SAMPLES)]
        search_ms = []
        for i in range(SAMPLES):
            params = {"q": rng.choice(names)} if i % 2 else {"phone": rng.choice(phones)}
            search_ms.append(call(params)[0])
        worst = max(worst, _pct(list_ms, 0.95), _pct(search_ms, 0.95))
        print(
            f"  {label:<15} {first['count']:>10,} {statistics.median(list_ms):>9.1f} {_pct(list_ms, 0.95):>7.1f}"
            f" {statistics.median(search_ms):>11.1f} {_pct(search_ms, 0.95):>7.1f}"
        )
    ids = list(Customer.objects.values_list("pk", flat=True)[:50])
    samples = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        list(Customer.objects.filter(pk__in=ids))
        samples.append((time.perf_counter() - started) * 1000)
    print(f"  bare fetch of 50 rows by primary key: p50 {statistics.median(samples):.1f} ms")
    print(f"  worst p95 {worst:.1f} ms: {'within' if worst < 50 else 'OVER'} the 50 ms aim")
