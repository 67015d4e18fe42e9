"""The demo's work phones: a fleet in two stores, one lost phone, one non-compliant phone.

Every phone is registered by its store manager and enrolled with a one-time code through the
same services the agent's enrolment uses; heartbeats and policy reports are the services the
agent routes call. The company's policy (HQ) switches off screenshots, factory reset and
Bluetooth and allows the work apps; 广州天河店 has its own, at version 2. One phone of store1
has not been heard of for two days (the silence alert is raised and a lock waits for it); one
still runs version 1, could not switch the camera off and carries WeChat (不合规).
"""

import random
from datetime import timedelta

from django.utils import timezone

from custos.devices import commands, policies, services
from custos.devices.models import Device, PolicyVersion
from custos.org.models import Employee, Role

WORK_APPS = ["com.tencent.wework", "com.custos.agent", "com.custos.crm", "com.android.dialer"]
MODELS = [
    ("华为 nova 12", "HarmonyOS 4.2"),
    ("小米 14", "HyperOS 1.0"),
    ("OPPO Reno11", "ColorOS 14"),
    ("vivo S18", "OriginOS 4"),
]


def _sales(manager: Employee) -> list[Employee]:
    return list(
        Employee.objects.filter(
            unit=manager.unit, role=Role.SALES, status=Employee.Status.ACTIVE, frozen_at__isnull=True
        ).order_by("pk")
    )


def _enrol(manager: Employee, employee: Employee, serial: str, rng: random.Random) -> Device:
    model, os = rng.choice(MODELS)
    number = "13" + "".join(rng.choice("0123456789") for _ in range(9))
    device = services.register(
        actor=manager, serial=serial, employee=employee, model=model, os=os, phone_number=number,
        imei="86" + "".join(rng.choice("0123456789") for _ in range(13)),
    )  # fmt: skip
    _code, clear = services.issue_code(actor=manager, device=device)
    sim = "8986" + "".join(rng.choice("0123456789") for _ in range(16))
    services.enrol(code=clear, serial=serial, phone_number=number, sim_serial=sim)
    return Device.objects.get(pk=device.pk)


def build(seed: int) -> dict:
    rng = random.Random(seed + 19)
    admin = Employee.objects.filter(user__username="admin").first()
    managers = [
        m for m in Employee.objects.filter(user__username__in=["store1", "store2"]).order_by("user__username")
    ]
    if admin is None or not managers:
        return {}
    hq = admin.unit
    policies.publish(
        actor=admin, unit=hq,
        rules={"allowed_apps": WORK_APPS, "disabled": ["bluetooth", "screenshots", "factory_reset"]},
    )  # fmt: skip
    store1 = managers[0]
    policies.publish(
        actor=store1,
        unit=store1.unit,
        rules={"allowed_apps": WORK_APPS, "disabled": ["screenshots", "factory_reset"]},
    )
    first = policies.Resolver().for_unit(store1.unit)
    policies.publish(
        actor=store1, unit=store1.unit,
        rules={"allowed_apps": WORK_APPS, "disabled": ["camera", "screenshots", "factory_reset"]},
    )  # fmt: skip
    fleet = []
    for m_index, manager in enumerate(managers):
        for s_index, employee in enumerate(_sales(manager)[:5]):
            fleet.append(
                _enrol(manager, employee, f"YS-{m_index + 1}{s_index + 1:02d}-{rng.randint(1000, 9999)}", rng)
            )
    if len(fleet) < 3:
        return {}
    now = timezone.now()
    resolver = policies.Resolver()
    lost, non_compliant = fleet[1], fleet[2]
    for device in fleet:
        current = resolver.effective(device)
        if device.pk == non_compliant.pk:
            policies.applied(device, first.pk, ["camera"])
            services.heartbeat(
                device,
                {
                    "battery": 64,
                    "network": "4G",
                    "agent_version": "1.3.0",
                    "apps": [*WORK_APPS, "com.tencent.mm"],
                },
            )
        else:
            policies.applied(device, current.pk, [])
            services.heartbeat(
                device,
                {
                    "battery": rng.randint(35, 98),
                    "network": rng.choice(["4G", "5G", "WiFi"]),
                    "agent_version": "1.3.0",
                    "apps": WORK_APPS,
                },
            )
    healthy = fleet[0]
    ring = commands.queue(actor=store1, device=healthy, kind="ring", reason="找不到手机")
    install = commands.queue(
        actor=store1,
        device=healthy,
        kind="install_app",
        package="com.custos.crm",
        url="https://apps.example.com/custos-crm.apk",
    )
    commands.poll(healthy)
    commands.acknowledge(healthy, ring.pk, True, "已响铃 30 秒")
    commands.acknowledge(healthy, install.pk, True, "已安装 com.custos.crm 2.4.1")
    # The lost phone: silent for two days; the detector raises the alert and a lock waits for it.
    Device.objects.filter(pk=lost.pk).update(
        last_seen_at=now - timedelta(days=2, hours=3), enrolled_at=now - timedelta(days=20)
    )
    services.alert_silent()
    commands.queue(actor=store1, device=Device.objects.get(pk=lost.pk), kind="lock", reason="手机丢失")
    # Enrolled weeks ago: the non-compliant phone is past the grace period of the policy.
    Device.objects.filter(pk__in=[d.pk for d in fleet if d.pk != lost.pk]).update(
        enrolled_at=now - timedelta(days=20)
    )
    PolicyVersion.objects.filter(policy__unit__in=[hq, store1.unit]).update(
        created_at=now - timedelta(days=14)
    )
    return {"phones": len(fleet), "lost": lost.serial, "non_compliant": non_compliant.serial}
