"""Policies: versioned rules per unit (for its subtree) or per phone; the nearest one applies.

A phone learns the revision (the PolicyVersion id) it should run from every heartbeat's answer,
fetches it when it differs from the one it runs, applies it and reports what it applied and
what it could not enforce. A phone is compliant when it runs the current revision, enforces
all of it and holds no app outside the allow-list.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.access import policy as access
from custos.core.errors import InvalidInput
from custos.devices import config
from custos.devices.models import FEATURES, Device, Policy, PolicyVersion
from custos.devices.services import record
from custos.ledger.services import append
from custos.org.models import Employee, Unit

PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
MAX_APPS = 200
FEATURE_LABELS = {
    "camera": gettext_lazy("Camera"),
    "bluetooth": gettext_lazy("Bluetooth"),
    "screenshots": gettext_lazy("Screenshots"),
    "factory_reset": gettext_lazy("Factory reset"),
}
DEFAULT_RULES = {"allowed_apps": [], "disabled": [], "call_recording": True, "archive_upload": True}


def clean_rules(rules: dict) -> dict:
    apps = [str(a).strip() for a in rules.get("allowed_apps") or [] if str(a).strip()]
    bad = [a for a in apps if len(a) > 150 or not PACKAGE.match(a)]
    if bad:
        raise InvalidInput(_("Not an app package name: %(names)s") % {"names": ", ".join(bad[:3])[:200]})
    if len(set(apps)) > MAX_APPS:
        raise InvalidInput(_("At most %(n)s apps on an allow-list.") % {"n": MAX_APPS})
    disabled = list(dict.fromkeys(rules.get("disabled") or []))
    unknown = [f for f in disabled if f not in FEATURES]
    if unknown:
        raise InvalidInput(
            _("Features that can be switched off: %(features)s.") % {"features": ", ".join(FEATURES)}
        )
    return {
        "allowed_apps": sorted(set(apps)),
        "disabled": [f for f in FEATURES if f in disabled],
        "call_recording": bool(rules.get("call_recording", True)),
        "archive_upload": bool(rules.get("archive_upload", True)),
    }


@transaction.atomic
def publish(
    *, actor: Employee, rules: dict, unit: Unit | None = None, device: Device | None = None
) -> PolicyVersion:
    """A new version of the unit's (or the phone's) policy; phones pick it up on their next heartbeat."""
    if (unit is None) == (device is None):
        raise InvalidInput(_("A policy is for a unit or for one phone."))
    access.require_staff_manager(actor)
    access.require_unit_in_scope(actor, unit or device.unit)
    rules = clean_rules(rules)
    pol, _created = Policy.objects.select_for_update(of=("self",)).get_or_create(unit=unit, device=device)
    last = pol.versions.aggregate(n=Max("version"))["n"] or 0
    version = PolicyVersion.objects.create(policy=pol, version=last + 1, rules=rules, created_by=actor)
    payload = {"policy": pol.pk, "revision": version.pk, "version": version.version, "rules": rules}
    if device is not None:
        record("device.policy_published", device, payload, actor)
    else:
        append(
            "device.policy_published",
            {"unit": unit.pk, **payload},
            actor_id=actor.pk,
            unit_id=unit.pk,
            source="console",
        )
    return version


def _ancestors(path: str) -> list[str]:
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


class Resolver:
    """The current version of every policy, read once, to resolve many phones (the fleet page)."""

    def __init__(self):
        latest = {}
        for v in PolicyVersion.objects.select_related("policy", "policy__unit").order_by(
            "policy_id", "version"
        ):
            latest[v.policy_id] = v
        self.by_device = {v.policy.device_id: v for v in latest.values() if v.policy.device_id}
        self.by_path = {v.policy.unit.path: v for v in latest.values() if v.policy.unit_id}

    def effective(self, device: Device) -> PolicyVersion | None:
        if device.pk in self.by_device:
            return self.by_device[device.pk]
        for path in reversed(_ancestors(device.unit.path)):
            if path in self.by_path:
                return self.by_path[path]
        return None

    def for_unit(self, unit: Unit) -> PolicyVersion | None:
        for path in reversed(_ancestors(unit.path)):
            if path in self.by_path:
                return self.by_path[path]
        return None


def effective(device: Device) -> PolicyVersion | None:
    own = PolicyVersion.objects.filter(policy__device=device).order_by("-version").first()
    if own is not None:
        return own
    paths = _ancestors(device.unit.path)
    versions = (
        PolicyVersion.objects.filter(policy__unit__path__in=paths)
        .select_related("policy__unit")
        .order_by("policy_id", "-version")
    )
    latest = {}
    for v in versions:
        latest.setdefault(v.policy.unit.path, v)
    for path in reversed(paths):
        if path in latest:
            return latest[path]
    return None


@dataclass
class Compliance:
    state: str  # compliant | pending | non_compliant | no_policy | retired
    reasons: list[str] = field(default_factory=list)
    revision: PolicyVersion | None = None


def compliance(device: Device, current: PolicyVersion | None, now: datetime | None = None) -> Compliance:
    if device.state == Device.State.RETIRED:
        return Compliance("retired")  # out of service: nothing to enforce any more
    if current is None:
        return Compliance("no_policy")
    if device.state != Device.State.ENROLLED:
        return Compliance("pending", [_("not enrolled")], current)
    reasons = []
    pending = False
    if device.policy_applied_id != current.pk:
        had = device.policy_applied.version if device.policy_applied_id and device.policy_applied else None
        grace = (now or timezone.now()) - timedelta(minutes=config.policy_grace_minutes())
        late = current.created_at < grace and (device.enrolled_at is None or device.enrolled_at < grace)
        text = (
            _("runs version %(had)s, should run %(want)s") % {"had": had, "want": current.version}
            if had
            else _("has not applied version %(want)s") % {"want": current.version}
        )
        if late:
            reasons.append(text)
        else:
            pending = True
    if device.policy_failures:
        reasons.append(
            _("could not enforce: %(what)s")
            % {"what": ", ".join(str(FEATURE_LABELS.get(f, f)) for f in device.policy_failures)[:200]}
        )
    allowed = set(current.rules.get("allowed_apps") or [])
    if allowed and device.installed_apps:
        extra = [a for a in device.installed_apps if a not in allowed]
        if extra:
            reasons.append(_("apps outside the allow-list: %(apps)s") % {"apps": ", ".join(extra[:5])})
    if reasons:
        return Compliance("non_compliant", reasons, current)
    return Compliance("pending" if pending else "compliant", [], current)


@transaction.atomic
def applied(device: Device, revision: int, failures: list[str]) -> Device:
    """The phone reports the revision it now runs and what it could not enforce."""
    version = PolicyVersion.objects.select_related("policy").filter(pk=revision).first()
    allowed = version is not None and (
        version.policy.device_id == device.pk
        or (
            version.policy.unit_id
            and Unit.objects.filter(pk=version.policy.unit_id, path__in=_ancestors(device.unit.path)).exists()
        )
    )
    if not allowed:
        raise InvalidInput(_("No policy revision %(rev)s applies to this phone.") % {"rev": revision})
    failures = [str(f)[:60] for f in failures or []][:20]
    device = Device.objects.select_for_update(of=("self",)).get(pk=device.pk)
    device.policy_applied, device.policy_applied_at, device.policy_failures = (
        version,
        timezone.now(),
        failures,
    )
    device.save(update_fields=["policy_applied", "policy_applied_at", "policy_failures"])
    record(
        "device.policy_applied",
        device,
        {"revision": version.pk, "version": version.version, "failures": failures},
        None,
        "device",
    )
    return device
