"""The demo's product lines: 女装 and 童装, every customer buying one (or both), and a 童装
buyer-manager over the first region who sees only 童装 customers (access.scope).

Run after the other demos: it draws no random numbers, so their data stays as it was.
"""

from custos.customers.models import Customer
from custos.org import services
from custos.org.demo import DEMO_PASSWORD
from custos.org.models import Employee, ProductLine, Role, Unit

LINES = (("女装", "women"), ("童装", "kids"))


def build(seed: int = 2026) -> dict:
    women, kids = (
        ProductLine.objects.get_or_create(code=code, defaults={"name": name})[0] for name, code in LINES
    )
    through = Customer.product_lines.through
    rows = []
    for n, pk in enumerate(Customer.objects.order_by("pk").values_list("pk", flat=True)):
        # One in four buys 童装, one in ten of those both lines; the rest 女装.
        if n % 4 == 0:
            rows.append(through(customer_id=pk, productline_id=kids.pk))
            if n % 40 == 0:
                rows.append(through(customer_id=pk, productline_id=women.pk))
        else:
            rows.append(through(customer_id=pk, productline_id=women.pk))
    through.objects.bulk_create(rows, batch_size=1000)
    region = Unit.objects.filter(kind=Unit.Kind.REGION).order_by("pk").first()
    if region is None or Employee.objects.filter(user__username="buyer1").exists():
        return {"lines": len(LINES)}
    buyer = services.create_employee(
        actor=None, name="童装买手", username="buyer1", password=DEMO_PASSWORD, unit=region, role=Role.MANAGER,
        employee_no="YS9001",
    )  # fmt: skip
    buyer.limit_lines.set([kids])
    return {"lines": len(LINES), "buyer": buyer.pk}
