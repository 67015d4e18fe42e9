"""Signing in: password with back-off, then the TOTP second factor when enrolled.

Failures are counted three ways (access.LoginThrottle): per user name (existing or not), per
name's second factor (wrong codes after a right password), and per client address. Past a
threshold every further failure earns a wait that doubles, up to CUSTOS_LOGIN_LOCK_SECONDS, and
one failure is forgiven every CUSTOS_LOGIN_FORGIVE_SECONDS, so typos never add up.

What a wait holds back:
- a user name waiting (someone guessed its password): a password alone is not even checked; the
  password together with the TOTP code still signs in, so an outsider who only knows the name
  cannot lock its owner out; an account without a second factor waits a short while;
- a second factor waiting (someone who knows the password is guessing codes): everything;
- an address waiting (one password tried across many accounts): everything from that address,
  checked against nothing, so it costs the server no password hash either.

Every outcome is a ledger entry: auth.login, auth.login_failed, auth.locked_out (each wait
earned, which the alerts app turns into an alert for administrators), auth.login_refused_locked
(once per wait). A waiting or unknown name gets the same answer as a wrong password, so names
cannot be enumerated; a waiting address is told to wait, which says nothing about any account.
"""

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from custos.access.models import LoginThrottle
from custos.core import crypto
from custos.core.errors import Forbidden, InvalidInput, Throttled
from custos.ledger.services import append
from custos.org.models import CompanySettings, Employee, Role

TOTP_AAD = b"totp"
Kind = LoginThrottle.Kind


@dataclass
class PasswordResult:
    employee: Employee
    needs_totp: bool
    must_enrol_totp: bool
    # The code came with the password (the way in while the name waits): nothing more to ask.
    totp_verified: bool = False


def client_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind a trusted proxy the last address the proxy
    appended to X-Forwarded-For (the ones before it are whatever the client claimed)."""
    if settings.CUSTOS_TRUST_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:64]
    return request.META.get("REMOTE_ADDR")


def _address_key(ip: str | None) -> str | None:
    """The throttled unit of an address: IPv4 as is; IPv6 by its /64, which one machine owns whole."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _name_key(username: str) -> str:
    return username.lower()[:150]


def _threshold(kind: str) -> int:
    return settings.CUSTOS_LOGIN_ADDRESS_MAX_FAILURES if kind == Kind.ADDRESS else settings.CUSTOS_LOGIN_MAX_FAILURES


def wait_seconds(failures: int, threshold: int) -> int:
    """The wait a count earns: the failure that reaches the threshold waits BACKOFF_SECONDS, each
    further one twice the one before, never more than LOCK_SECONDS."""
    over = max(failures - threshold, 0)
    return min(settings.CUSTOS_LOGIN_BACKOFF_SECONDS * 2 ** min(over, 20), settings.CUSTOS_LOGIN_LOCK_SECONDS)


def _waiting(kind: str, key: str | None, now: datetime) -> LoginThrottle | None:
    if key is None:
        return None
    return LoginThrottle.objects.filter(kind=kind, key=key, locked_until__gt=now).first()


def _count(kind: str, key: str, now: datetime) -> tuple[LoginThrottle, int | None]:
    """One more failure for (kind, key); returns the row and the seconds of the wait it earned."""
    row, _created = LoginThrottle.objects.select_for_update().get_or_create(kind=kind, key=key)
    every = settings.CUSTOS_LOGIN_FORGIVE_SECONDS
    if row.failures and row.forgive_from:
        forgiven = int((now - row.forgive_from).total_seconds() // every)
        if forgiven:
            row.failures = max(row.failures - forgiven, 0)
            row.forgive_from += timedelta(seconds=forgiven * every)  # the part-hour still counts
    if not row.failures:
        row.forgive_from = now
    row.failures += 1
    seconds = None
    if row.failures >= _threshold(kind):
        seconds = wait_seconds(row.failures, _threshold(kind))
        row.locked_until = now + timedelta(seconds=seconds)
    row.save()
    return row, seconds


def _clear(username: str, *kinds: str) -> None:
    LoginThrottle.objects.filter(kind__in=kinds, key=_name_key(username)).update(failures=0, locked_until=None)


@transaction.atomic
def record_failure(username: str, *, ip: str | None, reason: str, employee: Employee | None = None) -> None:
    """Count a failed sign-in against the name (a wrong code: against its second factor) and the
    address; a failure past a threshold makes it wait, an `auth.locked_out` entry each time."""
    now = timezone.now()
    actor_id = employee.pk if employee else None
    append("auth.login_failed", {"username": username, "ip": ip, "reason": reason}, actor_id=actor_id, source="auth")
    # Whose account the wait holds back (a wrong password does not say): the alert's severity.
    target = employee or Employee.objects.filter(user__username=username).only("pk", "role", "unit_id").first()
    counted = [(Kind.SECOND_FACTOR if reason == "totp" else Kind.ACCOUNT, _name_key(username))]
    if (address := _address_key(ip)) is not None:
        counted.append((Kind.ADDRESS, address))
    for kind, key in counted:
        row, seconds = _count(kind, key, now)
        if seconds is None:
            continue
        account = target if kind != Kind.ADDRESS else None
        payload = {
            "scope": kind,
            "username": username if kind != Kind.ADDRESS else None,
            "employee": account.pk if account else None,
            "admin": bool(account and account.role == Role.ADMIN),
            "address": address if kind == Kind.ADDRESS else None,
            "ip": ip,
            "failures": row.failures,
            "seconds": seconds,
            "until": row.locked_until.isoformat(),
        }
        # No actor: whoever failed is not known, and the account's owner is the target, not the actor.
        append("auth.locked_out", payload, unit_id=account.unit_id if account else None, source="auth")


def _refused(row: LoginThrottle, username: str, ip: str | None) -> None:
    """An attempt turned away unchecked: one entry per wait, however many attempts it turns away,
    so hammering a waiting name cannot fill the ledger."""
    append(
        "auth.login_refused_locked",
        {"scope": row.kind, "username": username, "ip": ip, "until": row.locked_until.isoformat()},
        source="auth",
        source_id=f"refused:{row.pk}:{row.locked_until.timestamp():.0f}",
    )


def _address_wait(row: LoginThrottle, now: datetime) -> Throttled:
    minutes = max(1, -(-int((row.locked_until - now).total_seconds()) // 60))
    return Throttled(
        ngettext(
            "Too many failed sign-ins from your network. Try again in %(n)s minute.",
            "Too many failed sign-ins from your network. Try again in %(n)s minutes.",
            minutes,
        )
        % {"n": minutes}
    )


def refused_now(username: str, ip: str | None) -> Throttled | Forbidden | None:
    """Why a second-factor attempt for this name from this address must wait, or None."""
    now = timezone.now()
    if row := _waiting(Kind.ADDRESS, _address_key(ip), now):
        _refused(row, username, ip)
        return _address_wait(row, now)
    if row := _waiting(Kind.SECOND_FACTOR, _name_key(username), now):
        _refused(row, username, ip)
        return Forbidden(_("Wrong user name or password, or the account is locked."), code="login_failed")
    return None


def check_password(username: str, password: str, *, ip: str | None = None, code: str = "") -> PasswordResult:
    """First factor, and the second too when its code comes along. Raises Forbidden with one
    message for every kind of refusal, Throttled when the address must wait."""
    username = (username or "").strip()
    code = (code or "").strip()
    refused = Forbidden(_("Wrong user name or password, or the account is locked."), code="login_failed")
    if not username or not password:
        raise InvalidInput(_("Enter your user name and password."))
    if (wait := refused_now(username, ip)) is not None:
        raise wait
    name_waits = _waiting(Kind.ACCOUNT, _name_key(username), timezone.now())
    if name_waits and not code:
        _refused(name_waits, username, ip)
        raise refused
    user = authenticate(username=username, password=password)
    employee = getattr(user, "employee", None) if user is not None else None
    if employee is None or not employee.may_sign_in:
        record_failure(username, ip=ip, reason="inactive" if employee else "password", employee=employee)
        raise refused
    if name_waits and not employee.totp_confirmed:
        # The right password while the name waits: its owner, most likely, who waits a little.
        _refused(name_waits, username, ip)
        raise refused
    if code and employee.totp_confirmed:
        if not verify_totp(employee, code):
            record_failure(username, ip=ip, reason="totp", employee=employee)
            raise refused
        _clear(username, Kind.ACCOUNT, Kind.SECOND_FACTOR)
        return PasswordResult(employee, needs_totp=False, must_enrol_totp=False, totp_verified=True)
    # A right password clears the name's count, not its second factor's: knowing the password
    # must not buy more guesses at the code.
    _clear(username, Kind.ACCOUNT)
    if not employee.totp_confirmed:
        _clear(username, Kind.SECOND_FACTOR)
    must_enrol = (
        employee.role == Role.ADMIN and CompanySettings.get().require_admin_totp and not employee.totp_confirmed
    )
    return PasswordResult(employee, needs_totp=employee.totp_confirmed, must_enrol_totp=must_enrol)


def second_factor_passed(employee: Employee) -> None:
    """The code after the password was right: the name starts afresh."""
    _clear(employee.user.username, Kind.ACCOUNT, Kind.SECOND_FACTOR)


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
