"""The demo company connected to WeCom: a stub seeded from the company, synced, with real callbacks.

`custos demo` runs the whole flow against an in-process stub (the same HTTP server tests use):
the directory and the customers of two stores are synced, a salesperson deletes a customer and
a customer deletes a salesperson (callbacks, signed and encrypted), a private customer group is
created, and part of the departing salesperson's customers are handed over with WeCom transfers
that settle a day later (one refused). Afterwards the connection points at the stub's fixed
address, which `custos serve` starts beside the console, so "test connection" works in the demo.
"""

import hashlib
import random

from custos.customers import services as customer_services
from custos.customers.models import Customer, CustomerContact
from custos.handover import services as handover_services
from custos.handover.models import DepartureCase, Plan
from custos.org.models import Employee, Unit
from custos.wecom import secrets, services, sync, transfers
from custos.wecom.models import Connection
from custos.wecom.stub import StubServer, StubWeCom

STUB_HOST, STUB_PORT = "127.0.0.1", 8765
STUB_URL = f"http://{STUB_HOST}:{STUB_PORT}"
STORES = ("广州天河店", "佛山祖庙店")


def external_id(customer_id: int) -> str:
    return f"wm{customer_id:06d}"


def _demo_secret(seed: int, what: str, n: int) -> str:
    return hashlib.sha256(f"custos-demo-{seed}-{what}".encode()).hexdigest()[:n]


def seed_stub(stub: StubWeCom, callback_url: str | None = None) -> StubWeCom:
    """WeCom as the demo company would have it: its units, staff and the two stores' customers."""
    conn = Connection.objects.filter(pk=1).first()
    if conn is not None and conn.corp_id:
        # The same corp and secrets the demo company was connected with.
        stub.corp_id = conn.corp_id
        stub.secrets = {kind: secrets.open_field(conn, field) for kind, field in secrets.KINDS.items()}
    units = list(Unit.objects.order_by("path"))
    ids = {u.pk: u.pk for u in units}
    for u in units:
        stub.add_department(ids[u.pk], u.name, ids.get(u.parent_id, 0))
    for e in Employee.objects.select_related("user").exclude(status=Employee.Status.DEPARTED):
        stub.add_user(e.user.username, e.name, e.unit_id)
    for e in Employee.objects.select_related("user").filter(status=Employee.Status.DEPARTED):
        stub.add_user(e.user.username, e.name, e.unit_id, status=5)
    stub.add_tag_group("etDemoGrade", "客户分级", {"etVIP": "VIP", "etNew": "新客"})
    wecom_ids = CustomerContact.objects.filter(kind=CustomerContact.Kind.WECOM, removed_at__isnull=True).select_related("customer__owner__user")
    from custos.customers import contacts

    for c in wecom_ids:
        owner = c.customer.owner
        if owner is not None:
            stub.add_contact(owner.user.username, contacts.open_value(c), c.customer.name, createtime=int(c.customer.created_at.timestamp()))
    if conn is not None and callback_url:
        stub.callback = {
            "url": callback_url,
            "token": secrets.open_field(conn, "callback_token_encrypted"),
            "aes_key": secrets.open_field(conn, "callback_aes_key_encrypted"),
        }
    return stub


def _deliver_in_process(query: dict, body: bytes):
    """The demo's callbacks go through the same checks as WeCom's, handled at once."""

    class Answer:
        status_code, content = 200, b"success"

    try:
        row = services.receive(body=body, **query)
    except services.Refused:
        Answer.status_code, Answer.content = 403, b"refused"
        return Answer
    if row is not None:
        services.handle_callback(row.pk)
    return Answer


def _give_wecom_ids(rng: random.Random) -> list[Customer]:
    store_staff = Employee.objects.filter(unit__name__in=STORES)
    customers = list(Customer.objects.filter(owner__in=store_staff, status=Customer.Status.ACTIVE).select_related("owner").order_by("pk"))
    for c in customers:
        customer_services.add_contact(actor=c.owner, customer=c, kind=CustomerContact.Kind.WECOM, value=external_id(c.pk), label="企业微信", ledger_source="wecom")
    return customers


def build(seed: int = 2026) -> dict:
    rng = random.Random(seed * 7 + 3)
    admin = Employee.objects.get(user__username="admin")
    customers = _give_wecom_ids(rng)
    stub = StubWeCom(corp_id=f"ww{_demo_secret(seed, 'corp', 14)}")
    stub.secrets = {k: _demo_secret(seed, k, 32) for k in ("app", "contact", "directory")}
    token, aes_key = _demo_secret(seed, "token", 16), _demo_secret(seed, "aes", 43)
    server = StubServer(stub).start()
    try:
        services.configure(
            actor=admin, corp_id=stub.corp_id, api_base=server.url, agent_id=stub.agent_id,
            app_secret=stub.secrets["app"], contact_secret=stub.secrets["contact"], directory_secret=stub.secrets["directory"],
            callback_token=token, callback_aes_key=aes_key, enabled=True,
        )  # fmt: skip
        seed_stub(stub)
        # Customers staff added in WeCom that nobody typed into Custos yet: the sync brings them in.
        sales = [e for e in Employee.objects.filter(unit__name__in=STORES, role="sales", status="active").select_related("user").order_by("pk")]
        for i in range(6):
            who = sales[i % len(sales)]
            stub.add_contact(who.user.username, f"wmNew{seed}{i:03d}", f"企微新客{i + 1}", tags=["etNew"])
        stub.callback = {"url": None, "token": token, "aes_key": aes_key}
        stub.deliver = _deliver_in_process
        sync.run(sync.start("directory", admin).pk)
        sync.run(sync.start("contacts", admin).pk)
        services.test_connection()
        out = {"synced_customers": len(customers)}
        # Things staff and customers do in WeCom, arriving as callbacks.
        victim = next(c for c in customers if c.owner and c.owner.role == "sales" and c.owner.status == "active")
        stub.delete_contact(victim.owner.user.username, external_id(victim.pk))
        other = next(c for c in customers[5:] if c.owner and c.owner.status == "active")
        stub.delete_contact(other.owner.user.username, external_id(other.pk), by="customer")
        group_owner = victim.owner.user.username
        stub.create_group("wrDemoPrivate01", "老客户VIP群", group_owner, [(external_id(c.pk), 2) for c in customers[10:14]])
        stub.add_contact(victim.owner.user.username, f"wmNew{seed}lead", "新加好友林女士", notify=True)
        out["transfers"] = _handover_with_transfers(stub, rng)
        # A message that WeCom's worker would send for alerts, then the stub closes.
        transfers.poll(force=True)
    finally:
        server.stop()
    Connection.objects.filter(pk=1).update(api_base=STUB_URL)
    return out


def _handover_with_transfers(stub: StubWeCom, rng: random.Random) -> int:
    """The departing salesperson's first customers move now, with their WeCom contacts; the rest
    wait in a draft plan, as the case is still in progress."""
    case = DepartureCase.objects.exclude(status=DepartureCase.Status.CLOSED).select_related("employee").order_by("pk").first()
    if case is None:
        return 0
    draft = Plan.objects.filter(case=case, status=Plan.Status.DRAFT).first()
    manager = draft.created_by if draft else Employee.objects.get(user__username="store1")
    receivers = draft.params.get("receivers") if draft else []
    if draft:
        handover_services.discard(actor=manager, plan=draft)
    mine = list(Customer.objects.filter(owner=case.employee, status=Customer.Status.ACTIVE).order_by("pk"))
    first = [c.pk for c in mine[:4]]
    if not first or not receivers:
        return 0
    plan = handover_services.preview(actor=manager, kind="handover", case=case, strategy="round_robin", receiver_ids=receivers, customer_ids=first, reason="离职交接（第一批）")
    handover_services.commit(actor=manager, plan=plan)
    transfers.submit(plan.pk)
    stub.refuse(external_id(first[-1]))
    stub.advance(25)
    transfers.poll(force=True)
    if mine[4:]:
        handover_services.preview(actor=manager, kind="handover", case=case, strategy="least_loaded", receiver_ids=receivers, customer_ids=[c.pk for c in mine[4:]], reason="离职交接（第二批）")
    return len(first)
