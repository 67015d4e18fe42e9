"""The demo's fleet: one lost phone caught by the silence alert, one non-compliant, the rest healthy."""

from custos.alerts.models import Alert
from custos.devices import demo, selectors
from custos.org import demo as org_demo
from custos.org.models import Employee


def test_the_demo_fleet(db):
    org_demo.build(2026)
    built = demo.build(2026)
    store1 = Employee.objects.get(user__username="store1")
    rows = {r.device.serial: r for r in selectors.fleet(store1)}
    assert len(rows) >= 3
    lost, bad = rows[built["lost"]], rows[built["non_compliant"]]
    assert lost.connection == "silent" and lost.open_commands == 1
    assert bad.compliance.state == "non_compliant" and len(bad.compliance.reasons) == 3
    healthy = [r for s, r in rows.items() if s not in (built["lost"], built["non_compliant"])]
    assert healthy and all(r.connection == "online" and r.compliance.state == "compliant" for r in healthy)
    [alert] = Alert.objects.filter(rule="device_offline")
    assert alert.employee_id == lost.device.employee_id and alert.state == "open"
    # a salesperson sees only their own phone
    assert [r.device.serial for r in selectors.fleet(lost.device.employee)] == [built["lost"]]
