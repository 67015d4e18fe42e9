"""The monitoring policy staff are shown and acknowledge (seed 001's 制度透明; PIPL art. 17).

An administrator or executive publishes the text; each publication is a new version and a
`policy.published` ledger entry holding the text's SHA-256 (and the text: it is meant for every
employee, and the ledger then proves which words a person agreed to). Every employee acknowledges
the current version before working on in the console (custos.access.middleware sends them to
/policy/ until they do); each acknowledgement is a `policy.acknowledged` entry. Managers see who
in their scope has not.
"""

import hashlib

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.models import MonitoringPolicy, PolicyAcknowledgement
from custos.access.scope import scope_of
from custos.core.errors import Forbidden, InvalidInput
from custos.ledger.services import append
from custos.org.models import Employee, Role

PUBLISHERS = {Role.ADMIN, Role.EXECUTIVE}
MAX_CHARS = 20_000


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def current() -> MonitoringPolicy | None:
    return MonitoringPolicy.objects.order_by("-version").first()


def versions() -> QuerySet[MonitoringPolicy]:
    return MonitoringPolicy.objects.select_related("published_by").order_by("-version")


@transaction.atomic
def publish(*, actor: Employee | None, body: str) -> MonitoringPolicy:
    if actor is not None and actor.role not in PUBLISHERS:
        raise Forbidden(_("Only an administrator or an executive publishes the monitoring policy."))
    body = (body or "").replace("\r\n", "\n").strip()
    if len(body) < 20:
        raise InvalidInput(_("Write the policy out: what is archived, why, who may read it, how long it is kept."))
    if len(body) > MAX_CHARS:
        raise InvalidInput(_("The policy is at most %(n)s characters.") % {"n": MAX_CHARS})
    latest = MonitoringPolicy.objects.select_for_update().order_by("-version").first()
    if latest is not None and latest.body == body:
        raise InvalidInput(_("This is the current text already: change it to publish a new version."))
    policy = MonitoringPolicy.objects.create(
        version=(latest.version + 1) if latest else 1, body=body, published_by=actor, published_at=timezone.now()
    )
    append(
        "policy.published",
        {"version": policy.version, "sha256": digest(body), "text": body},
        actor_id=actor.pk if actor else None,
        source="console",
        source_id=f"policy:{policy.version}",
    )
    return policy


def needs_acknowledgement(employee: Employee) -> MonitoringPolicy | None:
    """The current version, when this employee has not acknowledged it yet."""
    policy = current()
    if policy is None or PolicyAcknowledgement.objects.filter(policy=policy, employee=employee).exists():
        return None
    return policy


@transaction.atomic
def acknowledge(*, employee: Employee, version: int) -> PolicyAcknowledgement:
    policy = current()
    if policy is None or policy.version != version:
        # The text changed while the page was open: they must read the new one.
        raise InvalidInput(_("The policy has a newer version: read it and acknowledge that one."))
    existing = PolicyAcknowledgement.objects.filter(policy=policy, employee=employee).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            ack = PolicyAcknowledgement.objects.create(policy=policy, employee=employee, at=timezone.now())
    except IntegrityError:  # a second tab acknowledged at the same moment
        return PolicyAcknowledgement.objects.get(policy=policy, employee=employee)
    append(
        "policy.acknowledged",
        {"version": policy.version, "sha256": digest(policy.body)},
        actor_id=employee.pk,
        unit_id=employee.unit_id,
        source="console",
        source_id=f"policy:{policy.version}:ack:{employee.pk}",
    )
    return ack


def not_acknowledged(viewer: Employee) -> QuerySet[Employee]:
    """Active staff in the viewer's scope who have not acknowledged the current version."""
    policy = current()
    people = scope_of(viewer).filter(
        Employee.objects.select_related("unit").exclude(status=Employee.Status.DEPARTED).filter(frozen_at__isnull=True),
        owner="id",
        unit_path="unit__path",
    )
    if policy is None:
        return people.none()
    acked = PolicyAcknowledgement.objects.filter(policy=policy, employee=OuterRef("pk"))
    return people.exclude(Exists(acked)).order_by("unit__path", "name")


def acknowledged_count(viewer: Employee) -> tuple[int, int]:
    """(acknowledged, all) of the active staff in the viewer's scope, for the current version."""
    people = scope_of(viewer).filter(
        Employee.objects.exclude(status=Employee.Status.DEPARTED).filter(frozen_at__isnull=True), owner="id", unit_path="unit__path"
    )
    total = people.count()
    return total - not_acknowledged(viewer).count(), total
