"""Policies per unit or phone, versioned; the phone reports what it applied; the non-compliant listed."""

from datetime import timedelta

from custos.devices import policies
from custos.devices.models import PolicyVersion
from custos.ledger.models import Entry

RULES = {"allowed_apps": ["com.tencent.wework", "com.custos.crm"], "disabled": ["camera", "factory_reset"]}


def test_the_nearest_policy_applies_and_versions_count_up(company, api, enrolled):
    e = enrolled()
    admin = api(company.admin)
    hq = admin.post(f"devices/units/{company.hq.pk}/policy", {"disabled": ["screenshots"]})
    assert hq.status_code == 201 and hq.json()["version"] == 1
    assert policies.effective(e.device).pk == hq.json()["revision"]
    store = api(company.manager_a).post(f"devices/units/{company.store_a.pk}/policy", RULES)
    assert store.status_code == 201
    assert policies.effective(e.device).pk == store.json()["revision"]
    store2 = api(company.manager_a).post(
        f"devices/units/{company.store_a.pk}/policy", {**RULES, "call_recording": False}
    )
    assert store2.json()["version"] == 2 and store2.json()["rules"]["call_recording"] is False
    assert PolicyVersion.objects.filter(pk=store.json()["revision"]).exists()  # the old version stays
    own = api(company.manager_a).post(f"devices/{e.device.pk}/policy", {"disabled": []})
    assert policies.effective(e.device).pk == own.json()["revision"]
    assert Entry.objects.filter(kind="device.policy_published").count() == 4
    # A store manager does not write the company's policy, nor another store's.
    assert api(company.manager_a).post(f"devices/units/{company.hq.pk}/policy", RULES).status_code == 404
    assert api(company.manager_a).post(f"devices/units/{company.store_b.pk}/policy", RULES).status_code == 404
    assert (
        api(company.admin)
        .post(f"devices/units/{company.hq.pk}/policy", {"disabled": ["microphone"]})
        .status_code
        == 400
    )


def test_the_phone_applies_and_reports_and_compliance_follows(company, api, enrolled, settings):
    settings.CUSTOS_DEVICE_POLICY_GRACE_MINUTES = 30
    good, bad = enrolled(), enrolled(employee=company.sales_a_peer)
    revision = (
        api(company.manager_a).post(f"devices/units/{company.store_a.pk}/policy", RULES).json()["revision"]
    )
    for e in (good, bad):
        assert e.phone.heartbeat().json()["policy_revision"] == revision
        fetched = e.phone.call("GET", "policy").json()
        assert fetched["revision"] == revision and fetched["rules"]["disabled"] == ["camera", "factory_reset"]
    assert good.phone.call("POST", "policy", {"revision": revision}).status_code == 200
    good.phone.heartbeat(apps=["com.tencent.wework"])
    bad.phone.call("POST", "policy", {"revision": revision, "failures": ["camera"]})
    bad.phone.heartbeat(apps=["com.tencent.wework", "com.tencent.mm"])
    manager = api(company.manager_a)
    listed = manager.get("devices/non-compliant").json()
    assert [d["id"] for d in listed] == [bad.device.pk]
    assert any("相机" in r for r in listed[0]["compliance_reasons"])
    assert any("com.tencent.mm" in r for r in listed[0]["compliance_reasons"])
    assert manager.get(f"devices/{good.device.pk}").json()["compliance"] == "compliant"
    # A new version: pending within the grace period, non-compliant after it.
    newer = manager.post(
        f"devices/units/{company.store_a.pk}/policy", {**RULES, "archive_upload": False}
    ).json()["revision"]
    assert manager.get(f"devices/{good.device.pk}").json()["compliance"] == "pending"
    PolicyVersion.objects.filter(pk=newer).update(
        created_at=PolicyVersion.objects.get(pk=newer).created_at - timedelta(minutes=31)
    )
    from custos.devices.models import Device

    Device.objects.filter(pk=good.device.pk).update(
        enrolled_at=PolicyVersion.objects.get(pk=newer).created_at - timedelta(minutes=1)
    )
    late = manager.get(f"devices/{good.device.pk}").json()
    assert late["compliance"] == "non_compliant" and late["policy_version_applied"] == 1
    # A revision that is not this phone's is refused.
    other = (
        api(company.manager_b).post(f"devices/units/{company.store_b.pk}/policy", RULES).json()["revision"]
    )
    assert good.phone.call("POST", "policy", {"revision": other}).status_code == 400
    assert Entry.objects.filter(kind="device.policy_applied").count() == 2
