"""Loyalty: member levels from spend and frequency, a points ledger, benefits per level.

Points are lots: each purchase earns one (points_per_yuan of its amount, good for expiry_days),
spending takes from the oldest lots first, and what is left of a lot on its last day expires.
A customer's balance and level (LoyaltyAccount) are projections of the PointsEntry rows, and
every entry is also a `loyalty.*` ledger entry, under the same key, so nothing is counted twice.
"""

import math
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.care import scope
from custos.care.models import LoyaltyAccount, LoyaltyLevel, LoyaltyProgram, PointsEntry
from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.customers.models import Customer, Purchase
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

SETTERS = (Role.EXECUTIVE, Role.ADMIN)
REDEEMERS = (Role.SALES, Role.SERVICE, Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)
BATCH = 500


def _event(kind, actor, customer_id, unit_id, payload, key):
    return Event(
        kind=kind,
        payload=payload,
        actor_id=actor.pk if actor else None,
        unit_id=unit_id,
        customer_id=customer_id,
        source="loyalty",
        source_id=key,
    )


def _amount(value, what: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(_("%(what)s must be a number.") % {"what": what}) from exc
    if not number.is_finite() or number < 0 or number > Decimal("1e11"):
        raise InvalidInput(_("%(what)s must be a number from 0.") % {"what": what})
    return number


# Settings ----------------------------------------------------------------------------------------


def set_program(*, actor: Employee, points_per_yuan, expiry_days: int, window_days: int) -> LoyaltyProgram:
    policy.require_writer(actor)
    if actor.role not in SETTERS:
        raise Forbidden(_("Only executives and administrators set the loyalty programme."))
    rate = _amount(points_per_yuan, _("Points per yuan"))
    if rate > 1000 or not 1 <= expiry_days <= 3650 or not 1 <= window_days <= 3650:
        raise InvalidInput(_("Points per yuan up to 1000; days between 1 and 3650."))
    with transaction.atomic():
        program = LoyaltyProgram.get()
        program.points_per_yuan, program.expiry_days, program.window_days = rate, expiry_days, window_days
        program.save()
        payload = {"points_per_yuan": str(rate), "expiry_days": expiry_days, "window_days": window_days}
        append_batch(
            [Event(kind="loyalty.program_set", payload=payload, actor_id=actor.pk, source="console")]
        )
    return program


def set_level(
    *, actor: Employee, code: str, name: str, rank: int, min_spend, min_purchases: int, benefits: str = ""
) -> LoyaltyLevel:
    policy.require_writer(actor)
    if actor.role not in SETTERS:
        raise Forbidden(_("Only executives and administrators set the loyalty programme."))
    code, name, benefits = (code or "").strip(), (name or "").strip(), (benefits or "").strip()
    if not code or len(code) > 20 or not name or len(name) > 40 or len(benefits) > 500:
        raise InvalidInput(_("A level needs a code (20 characters), a name (40) and benefits (500 at most)."))
    if not 0 <= rank <= 100 or not 0 <= min_purchases <= 100000:
        raise InvalidInput(_("Rank 0-100, purchases 0-100000."))
    spend = _amount(min_spend, _("Spend"))
    with transaction.atomic():
        clash = LoyaltyLevel.objects.filter(rank=rank).exclude(code=code).first()
        if clash is not None:
            raise Conflict(_("Another level has this rank."), code="rank_taken")
        level, _created = LoyaltyLevel.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "min_spend": spend,
                "min_purchases": min_purchases,
                "benefits": benefits,
            },
        )
        payload = {
            "code": code,
            "name": name,
            "rank": rank,
            "min_spend": str(spend),
            "min_purchases": min_purchases,
        }
        append_batch([Event(kind="loyalty.level_set", payload=payload, actor_id=actor.pk, source="console")])
    return level


def level_for(spend: Decimal, purchases: int, levels: list[LoyaltyLevel]) -> LoyaltyLevel | None:
    """The highest level whose spend and frequency the customer both reach."""
    best = None
    for level in levels:  # by rank
        if spend >= level.min_spend and purchases >= level.min_purchases:
            best = level
    return best


# Writing entries ---------------------------------------------------------------------------------


def _account(customer_id: int) -> LoyaltyAccount:
    account, _created = LoyaltyAccount.objects.get_or_create(customer_id=customer_id)
    return LoyaltyAccount.objects.select_for_update().get(pk=account.pk)


def refresh(customer_ids, *, actor: Employee | None = None, today: date | None = None) -> int:
    """Recompute spend, frequency and level of these customers; a level change is an entry."""
    today = today or timezone.localdate()
    program = LoyaltyProgram.get()
    levels = list(LoyaltyLevel.objects.order_by("rank"))
    since = today - timedelta(days=program.window_days)
    ids = sorted(set(customer_ids))
    changed = 0
    for start in range(0, len(ids), BATCH):
        part = ids[start : start + BATCH]
        figures = {
            r["customer_id"]: (r["spend"] or Decimal(0), r["n"])
            for r in Purchase.objects.filter(customer_id__in=part, purchased_on__gte=since)
            .values("customer_id")
            .annotate(spend=Sum("amount"), n=Count("id"))
        }
        units = dict(Customer.objects.filter(pk__in=part).values_list("pk", "unit_id"))
        with transaction.atomic():
            events = []
            for cid in part:
                if cid not in units:
                    continue
                account = _account(cid)
                spend, n = figures.get(cid, (Decimal(0), 0))
                level = level_for(spend, n, levels)
                old = account.level_id
                account.spend, account.purchases, account.level = spend, n, level
                account.save()
                if old != (level.pk if level else None):
                    changed += 1
                    key = f"level:{cid}:{level.code if level else '-'}:{timezone.now().timestamp()}"
                    reason = level.name if level else _("no level")
                    PointsEntry.objects.create(
                        customer_id=cid, kind=PointsEntry.Kind.LEVEL, reason=reason, key=key, actor=actor
                    )
                    payload = {
                        "from": old,
                        "to": level.code if level else None,
                        "spend": str(spend),
                        "purchases": n,
                    }
                    events.append(_event("loyalty.level_changed", actor, cid, units[cid], payload, key))
            append_batch(events)
    return changed


def earn_for_purchases(*, today: date | None = None, since_days: int = 400) -> int:
    """Points for purchases not yet counted (the nightly job; safe to run again)."""
    today = today or timezone.localdate()
    program = LoyaltyProgram.get()
    rows = (
        Purchase.objects.filter(purchased_on__gte=today - timedelta(days=since_days))
        .values_list("pk", "customer_id", "customer__unit_id", "amount", "purchased_on", "product")
        .order_by("pk")
    )
    earned, touched = 0, set()
    pending = []
    for row in rows.iterator(chunk_size=2000):
        pending.append(row)
        if len(pending) >= BATCH:
            earned += _earn(pending, program, touched)
            pending = []
    earned += _earn(pending, program, touched)
    if touched:
        refresh(touched, today=today)
    return earned


def _earn(rows, program, touched) -> int:
    keys = {f"purchase:{r[0]}": r for r in rows}
    if not keys:
        return 0
    seen = set(PointsEntry.objects.filter(key__in=list(keys)).values_list("key", flat=True))
    fresh = [(k, r) for k, r in keys.items() if k not in seen]
    if not fresh:
        return 0
    with transaction.atomic():
        events = []
        for key, (pk, cid, unit_id, amount, day, product) in fresh:
            points = math.floor(amount * program.points_per_yuan)
            if points <= 0:
                continue
            expires = day + timedelta(days=program.expiry_days)
            PointsEntry.objects.create(
                customer_id=cid, kind=PointsEntry.Kind.EARNED, points=points, remaining=points,
                expires_on=expires, reason=product[:200], key=key,
            )  # fmt: skip
            account = _account(cid)
            account.balance += points
            account.save(update_fields=["balance", "updated_at"])
            touched.add(cid)
            payload = {"purchase": pk, "points": points, "expires_on": expires.isoformat()}
            events.append(_event("loyalty.points_earned", None, cid, unit_id, payload, key))
        append_batch(events)
    return len(events)


def _take(customer_id: int, points: int) -> None:
    """Spend `points` from the customer's oldest lots still good."""
    left = points
    lots = (
        PointsEntry.objects.select_for_update()
        .filter(customer_id=customer_id, remaining__gt=0)
        .order_by("expires_on", "id")
    )
    for lot in lots:
        if left <= 0:
            break
        used = min(lot.remaining, left)
        lot.remaining -= used
        lot.save(update_fields=["remaining"])
        left -= used


def redeem(*, actor: Employee, customer_id: int, points: int, reward: str) -> PointsEntry:
    policy.require_writer(actor)
    if actor.role not in REDEEMERS:
        raise Forbidden(_("You may not spend a customer's points."))
    customer = scope.customers_in_reach(actor).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    reward = (reward or "").strip()
    if not reward or len(reward) > 200:
        raise InvalidInput(_("Say what the points are spent on (200 characters at most)."))
    if not 1 <= points <= 10_000_000:
        raise InvalidInput(_("Points are a whole number from 1."))
    with transaction.atomic():
        account = _account(customer.pk)
        if account.balance < points:
            raise Conflict(
                _("Not enough points: %(balance)s left.") % {"balance": account.balance},
                code="not_enough_points",
            )
        _take(customer.pk, points)
        account.balance -= points
        account.save(update_fields=["balance", "updated_at"])
        key = f"spend:{customer.pk}:{timezone.now().timestamp()}"
        entry = PointsEntry.objects.create(
            customer=customer,
            kind=PointsEntry.Kind.SPENT,
            points=-points,
            reason=reward,
            key=key,
            actor=actor,
        )
        payload = {"points": points, "reward": reward, "balance": account.balance}
        append_batch([_event("loyalty.points_spent", actor, customer.pk, customer.unit_id, payload, key)])
    return entry


def expire(*, today: date | None = None) -> int:
    """What is left of lots past their last day goes, one entry per lot."""
    today = today or timezone.localdate()
    ids = list(
        PointsEntry.objects.filter(remaining__gt=0, expires_on__lt=today).values_list("pk", flat=True)[
            :100000
        ]
    )
    expired = 0
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            events = []
            lots = (
                PointsEntry.objects.select_for_update()
                .filter(pk__in=ids[start : start + BATCH], remaining__gt=0)
                .select_related("customer")
            )
            for lot in lots:
                key = f"expire:{lot.pk}"
                gone = lot.remaining
                lot.remaining = 0
                lot.save(update_fields=["remaining"])
                account = _account(lot.customer_id)
                account.balance -= gone
                account.save(update_fields=["balance", "updated_at"])
                PointsEntry.objects.create(
                    customer_id=lot.customer_id,
                    kind=PointsEntry.Kind.EXPIRED,
                    points=-gone,
                    reason=lot.expires_on.isoformat(),
                    key=key,
                )
                payload = {"lot": lot.pk, "points": gone, "expired_on": lot.expires_on.isoformat()}
                events.append(
                    _event(
                        "loyalty.points_expired", None, lot.customer_id, lot.customer.unit_id, payload, key
                    )
                )
                expired += 1
            append_batch(events)
    return expired


def import_balance(
    *,
    actor: Employee,
    customer: Customer,
    points: int,
    level_code: str | None,
    key: str,
    expires_on: date | None,
) -> bool:
    """One row of a POS export: bring the balance to `points` (an entry for the difference, as a
    lot that expires on the programme's terms) and set the level if given. False: already done."""
    if PointsEntry.objects.filter(key=key).exists():
        return False
    level = None
    if level_code:
        level = LoyaltyLevel.objects.filter(code=level_code).first()
        if level is None:
            raise InvalidInput(_("Unknown level %(code)s.") % {"code": level_code})
    account = _account(customer.pk)
    diff = points - account.balance
    events = []
    if diff < 0:
        _take(customer.pk, -diff)
    expires = expires_on or timezone.localdate() + timedelta(days=LoyaltyProgram.get().expiry_days)
    PointsEntry.objects.create(
        customer=customer, kind=PointsEntry.Kind.IMPORTED, points=diff, remaining=max(diff, 0),
        expires_on=expires if diff > 0 else None, reason=_("POS import"), key=key, actor=actor,
    )  # fmt: skip
    account.balance = points
    payload = {"points": diff, "balance": points}
    if level is not None and level.pk != account.level_id:
        payload["level"] = level.code
        account.level = level
    account.save()
    events.append(_event("loyalty.points_imported", actor, customer.pk, customer.unit_id, payload, key))
    append_batch(events)
    return True


# Reads -------------------------------------------------------------------------------------------


def summary(customer: Customer, *, limit: int = 20) -> dict:
    """For a customer already in the viewer's scope: level, balance, benefits, history."""
    account = LoyaltyAccount.objects.filter(customer=customer).select_related("level").first()
    return {
        "level": account.level if account else None,
        "balance": account.balance if account else 0,
        "spend": account.spend if account else Decimal(0),
        "purchases": account.purchases if account else 0,
        "history": list(PointsEntry.objects.filter(customer=customer).order_by("-created_at", "-id")[:limit]),
        "expiring": PointsEntry.objects.filter(
            customer=customer, remaining__gt=0, expires_on__lte=timezone.localdate() + timedelta(days=30)
        ).aggregate(n=Sum("remaining"))["n"]
        or 0,
    }
