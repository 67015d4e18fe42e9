"""Signing in: password with lockout, then the TOTP second factor when enrolled.

Every outcome is a ledger entry (auth.login, auth.login_failed, auth.locked_out). A locked or
unknown account gets the same answer as a wrong password, so names cannot be enumerated.
"""

from dataclasses import dataclass
from datetime import timedelta

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.models import LoginThrottle
from custos.core import crypto
from custos.core.errors import Forbidden, InvalidInput
from custos.ledger.services import append
from custos.org.models import CompanySettings, Employee, Role

TOTP_AAD = b"totp"


@dataclass
class PasswordResult:
    employee: Employee
    needs_totp: bool
    must_enrol_totp: bool


def _throttle(username: str) -> LoginThrottle:
    throttle, _created = LoginThrottle.objects.select_for_update().get_or_create(username=username.lower()[:150])
    return throttle


def is_locked(username: str) -> bool:
    throttle = LoginThrottle.objects.filter(username=username.lower()[:150]).first()
    return bool(throttle and throttle.locked_until and throttle.locked_until > timezone.now())


@transaction.atomic
def record_failure(username: str, *, ip: str | None, reason: str, employee: Employee | None = None) -> None:
    """Count a failed sign-in; the Nth in a row locks the name for CUSTOS_LOGIN_LOCK_SECONDS."""
    now = timezone.now()
    throttle = _throttle(username)
    throttle.failures += 1
    throttle.last_failure_at = now
    locked = throttle.failures >= settings.CUSTOS_LOGIN_MAX_FAILURES
    if locked:
        throttle.locked_until = now + timedelta(seconds=settings.CUSTOS_LOGIN_LOCK_SECONDS)
        throttle.failures = 0
    throttle.save()
    actor_id = employee.pk if employee else None
    append("auth.login_failed", {"username": username, "ip": ip, "reason": reason}, actor_id=actor_id, source="auth")
    if locked:
        append("auth.locked_out", {"username": username, "ip": ip}, actor_id=actor_id, source="auth")


def check_password(username: str, password: str, *, ip: str | None = None) -> PasswordResult:
    """First factor. Raises Forbidden with one message for every kind of refusal."""
    username = (username or "").strip()
    refused = Forbidden(_("Wrong user name or password, or the account is locked."), code="login_failed")
    if not username or not password:
        raise InvalidInput(_("Enter your user name and password."))
    if is_locked(username):
        append("auth.login_refused_locked", {"username": username, "ip": ip}, source="auth")
        raise refused
    user = authenticate(username=username, password=password)
    employee = getattr(user, "employee", None) if user is not None else None
    if employee is None or not employee.may_sign_in:
        record_failure(username, ip=ip, reason="inactive" if employee else "password", employee=employee)
        raise refused
    LoginThrottle.objects.filter(username=username.lower()[:150]).update(failures=0, locked_until=None)
    must_enrol = (
        employee.role == Role.ADMIN and CompanySettings.get().require_admin_totp and not employee.totp_confirmed
    )
    return PasswordResult(employee, needs_totp=employee.totp_confirmed, must_enrol_totp=must_enrol)


def record_login(employee: Employee, *, ip: str | None, method: str) -> None:
    append("auth.login", {"ip": ip, "method": method}, actor_id=employee.pk, unit_id=employee.unit_id, source="auth")


def verify_totp(employee: Employee, code: str) -> bool:
    if not employee.totp_secret:
        return False
    secret = crypto.decrypt(employee.totp_secret, aad=TOTP_AAD)
    return pyotp.TOTP(secret).verify((code or "").strip().replace(" ", ""), valid_window=1)


@transaction.atomic
def start_totp_enrolment(employee: Employee) -> str:
    """A fresh secret for the authenticator app; active only once a code confirms it."""
    secret = pyotp.random_base32()
    employee.totp_secret = crypto.encrypt(secret, aad=TOTP_AAD)
    employee.totp_confirmed = False
    employee.save(update_fields=["totp_secret", "totp_confirmed"])
    return pyotp.TOTP(secret).provisioning_uri(name=employee.user.username, issuer_name="Custos")


@transaction.atomic
def confirm_totp(employee: Employee, code: str) -> None:
    if not verify_totp(employee, code):
        raise InvalidInput(_("That code is not right. Check the time on your phone and try again."))
    employee.totp_confirmed = True
    employee.save(update_fields=["totp_confirmed"])
    append("auth.totp_enrolled", {}, actor_id=employee.pk, unit_id=employee.unit_id, source="auth")


@transaction.atomic
def disable_totp(employee: Employee) -> None:
    if employee.role == Role.ADMIN and CompanySettings.get().require_admin_totp:
        raise Forbidden(_("The company requires a second factor for administrators."))
    employee.totp_secret, employee.totp_confirmed = "", False
    employee.save(update_fields=["totp_secret", "totp_confirmed"])
    append("auth.totp_disabled", {}, actor_id=employee.pk, unit_id=employee.unit_id, source="auth")
