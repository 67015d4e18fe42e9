"""`custos device ...`: work phones from the command line.

custos device register --as USER --serial S (--employee E | --unit ID) [--model M] [--imei N] [--number N]
custos device codes --as USER [--unit ID] [--register N] [--hours H]   one "SERIAL CODE" line per phone to enrol
custos device list --as USER [--json]                                   the fleet with state and compliance
custos device retire --as USER --serial S --reason R                     take a phone out of service
custos device sweep                                                     the silence alerts and command timeouts, once
custos device simulate --url URL (--codes FILE | --state FILE) [--rounds N | --duration S] ...

`simulate` plays a fleet of phones against a running server (custos.devices.simulate): it needs
no database, only the codes printed by `codes` (or the credentials a previous run saved in
--state FILE).
"""

import json
import os
import random
import signal
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from custos.core.errors import DomainError
from custos.devices import commands, field_bridge, selectors, services, simulate
from custos.devices.models import Device
from custos.org import cli as org_cli
from custos.org.models import Employee, Role
from custos.org.selectors import get_unit

_employee = org_cli.employee


class Command(BaseCommand):
    help = "Work phones: register, enrolment codes, the fleet, the periodic checks, and a simulated fleet."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        reg = actions.add_parser("register", help="register a company phone")
        reg.add_argument("--as", dest="actor", required=True, metavar="USER")
        reg.add_argument("--serial", required=True)
        reg.add_argument("--employee", default="", help="user name or number of the phone's holder")
        reg.add_argument("--unit", type=int, help="a unit's shelf (no holder yet)")
        reg.add_argument("--model", default="")
        reg.add_argument("--os", default="")
        reg.add_argument("--imei", default="")
        reg.add_argument("--number", default="", help="the company phone number on its SIM")
        co = actions.add_parser("codes", help="one-time enrolment codes for the phones waiting for enrolment")
        co.add_argument("--as", dest="actor", required=True, metavar="USER")
        co.add_argument("--unit", type=int, help="only this unit's subtree")
        co.add_argument(
            "--register",
            type=int,
            default=0,
            metavar="N",
            help="first register N phones for the unit's sales and service staff",
        )
        co.add_argument("--hours", type=int, default=None, help="how long the codes live")
        ls = actions.add_parser("list", help="the fleet in USER's scope")
        ls.add_argument("--as", dest="actor", required=True, metavar="USER")
        ls.add_argument("--json", dest="as_json", action="store_true")
        ret = actions.add_parser(
            "retire", help="take a phone out of service (credential revoked, history kept)"
        )
        ret.add_argument("--as", dest="actor", required=True, metavar="USER")
        ret.add_argument("--serial", required=True)
        ret.add_argument("--reason", required=True, help="why: broken, lost for good, returned...")
        actions.add_parser("sweep", help="raise the silence alerts and time out commands now")
        si = actions.add_parser(
            "sites", help="JSON for simulate --sites: each enrolled phone's customer sites"
        )
        si.add_argument("--as", dest="actor", required=True, metavar="USER")
        si.add_argument("--unit", type=int, help="only this unit's subtree")
        sim = actions.add_parser("simulate", help="play a fleet of phones against a running server")
        sim.add_argument(
            "--url", default="http://127.0.0.1:8000", help="the running server (default %(default)s)"
        )
        sim.add_argument(
            "--codes",
            default="",
            metavar="FILE",
            help='"SERIAL CODE" lines from `custos device codes` (- for stdin)',
        )
        sim.add_argument(
            "--state",
            default="",
            metavar="FILE",
            help="keep the phones' credentials here: a rerun needs no codes",
        )
        sim.add_argument("--rounds", type=int, help="rounds to play (default: until --duration or Ctrl-C)")
        sim.add_argument("--duration", type=float, metavar="SECONDS")
        sim.add_argument(
            "--interval", type=float, default=2.0, help="seconds between rounds (default %(default)s)"
        )
        sim.add_argument(
            "--lost", type=int, default=0, metavar="N", help="N phones go silent after enrolling"
        )
        sim.add_argument("--non-compliant", dest="non_compliant", type=int, default=0, metavar="N",
                         help="N phones cannot switch the camera off and carry a private app")  # fmt: skip
        sim.add_argument(
            "--fail-rate", dest="fail_rate", type=float, default=0.0, help="share of commands that fail"
        )
        sim.add_argument(
            "--sites",
            default="",
            metavar="FILE",
            help="JSON from `custos device sites`: a day of visits per phone",
        )
        sim.add_argument("--fake-visits", dest="fake_visits", type=int, default=0, metavar="N",
                         help="N phones with sites fake one visit of their day")  # fmt: skip
        sim.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        except simulate.Stop as exc:
            raise CommandError(str(exc)) from None

    def _register(self, *, actor, serial, employee, unit, model, os, imei, number, **_):
        me = _employee(actor)
        holder = _employee(employee) if employee else None
        device = services.register(
            actor=me,
            serial=serial,
            employee=holder,
            unit=get_unit(me, unit) if unit and holder is None else None,
            model=model,
            os=os,
            imei=imei,
            phone_number=number,
        )
        self.stdout.write(f"registered {device.serial} (id {device.pk})")

    def _codes(self, *, actor, unit, register, hours, **_):
        me = _employee(actor)
        if register < 0 or register > 1000:
            raise CommandError("--register is between 0 and 1000")
        scope = get_unit(me, unit) if unit else me.unit
        if register:
            staff = list(
                Employee.objects.filter(
                    unit__path__startswith=scope.path,
                    role__in=[Role.SALES, Role.SERVICE],
                    status=Employee.Status.ACTIVE,
                    frozen_at__isnull=True,
                ).order_by("pk")
            )
            if not staff:
                raise CommandError("no active sales or service staff there to hold the phones")
            stamp = int(time.time())
            for i in range(register):
                services.register(
                    actor=me,
                    serial=f"SIM-{stamp}-{i + 1:03d}",
                    employee=staff[i % len(staff)],
                    model="模拟手机",
                )
        waiting = selectors.devices_visible(me).filter(
            state=Device.State.REGISTERED, employee__isnull=False, unit__path__startswith=scope.path
        )
        count = 0
        for device in waiting.order_by("pk"):
            _code, clear = services.issue_code(actor=me, device=device, hours=hours)
            self.stdout.write(f"{device.serial} {clear}")
            count += 1
        self.stderr.write(f"{count} enrolment codes (each works once)")

    def _list(self, *, actor, as_json, **_):
        rows = selectors.fleet(_employee(actor))
        data = [
            {
                "id": r.device.pk,
                "serial": r.device.serial,
                "employee": r.device.employee.name if r.device.employee else None,
                "unit": r.device.unit.name,
                "connection": r.connection,
                "last_seen_at": r.device.last_seen_at.isoformat() if r.device.last_seen_at else None,
                "compliance": r.compliance.state,
                "reasons": [str(x) for x in r.compliance.reasons],
                "open_commands": r.open_commands,
            }
            for r in rows
        ]
        if as_json:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
            return
        for d in data:
            self.stdout.write(
                f"{d['serial']}\t{d['employee'] or '-'}\t{d['unit']}\t{d['connection']}\t{d['compliance']}\t"
                f"{d['open_commands']} waiting\t{'; '.join(d['reasons'])}"
            )
        self.stdout.write(f"{len(data)} phones")

    def _sites(self, *, actor, unit, **_):
        from custos.field import selectors as field_selectors

        me = _employee(actor)
        phones = selectors.devices_visible(me).filter(state=Device.State.ENROLLED, employee__isnull=False)
        if unit:
            phones = phones.filter(unit__path__startswith=get_unit(me, unit).path)
        out = {}
        for device in phones.order_by("pk"):
            sites = (
                field_selectors.sites_visible(me)
                .filter(customer__owner_id=device.employee_id)
                .select_related("customer")
            )
            out[device.serial] = [
                {
                    "customer_id": s.customer_id,
                    "lat": s.lat,
                    "lon": s.lon,
                    "name": s.name,
                    "address": s.address,
                }
                for s in sites.order_by("pk")[:20]
            ]
        self.stdout.write(json.dumps(out, ensure_ascii=False))

    def _retire(self, *, actor, serial, reason, **_):
        me = _employee(actor)
        found = selectors.devices_visible(me).filter(serial=serial.strip()).first()
        if found is None:
            raise CommandError(f"no phone {serial!r} in {actor}'s scope")
        device = services.retire(actor=me, device=found, reason=reason)
        self.stdout.write(f"retired {device.serial} (id {device.pk})")

    def _sweep(self, **_):
        alerted = services.alert_silent()
        swept = commands.sweep()
        self.stdout.write(
            f"{alerted} silent phones alerted; {swept['retried']} commands retried, {swept['timed_out']} timed out"
        )

    def _simulate(
        self,
        *,
        url,
        codes,
        state,
        rounds,
        duration,
        interval,
        lost,
        non_compliant,
        fail_rate,
        sites,
        fake_visits,
        seed,
        **_,
    ):
        if rounds is not None and rounds < 1:
            raise CommandError("--rounds must be at least 1")
        if interval < 0 or not 0 <= fail_rate <= 1:
            raise CommandError("--interval must be 0 or more, --fail-rate between 0 and 1")
        saved = _read_state(state)
        pairs = _read_codes(codes)
        if not pairs and not saved:
            raise CommandError(
                "give --codes FILE (from `custos device codes`) or --state FILE from an earlier run"
            )
        rng = random.Random(seed)
        totals = simulate.Totals()
        phones = []
        for serial, code in pairs:
            if serial in saved:
                continue
            try:
                phone = simulate.enrol(url, serial, code, rng)
            except simulate.Refused as exc:
                self.stderr.write(f"{serial}: not enrolled ({exc})")
                continue
            saved[serial] = phone.credential()
            phones.append(phone)
            totals.enrolled += 1
        enrolled_now = {p.serial for p in phones}
        phones += [
            simulate.resume(url, serial, cred) for serial, cred in saved.items() if serial not in enrolled_now
        ]
        totals.enrolled = len(phones)
        if not phones:
            raise CommandError("no phone could be enrolled (see above) and none is saved in --state")
        if state:
            _write_state(state, saved)
        for i, phone in enumerate(phones):
            phone.lost = i < lost
            phone.non_compliant = lost <= i < lost + non_compliant
        visits = _read_json(sites) if sites else {}
        with_sites = [p.serial for p in phones if visits.get(p.serial) and not p.lost]
        field_agent = field_bridge.agent(visits, set(with_sites[:fake_visits])) if visits else None
        if visits and field_agent is None:
            self.stderr.write("this Custos has no field agent (custos.field.agent): no visits played")
        live = sys.stderr.isatty()

        def report(t):
            if live:
                sys.stderr.write("\r" + t.line() + "   ")
                sys.stderr.flush()
            else:
                self.stderr.write(t.line())

        interrupted = False
        saved_signals = {
            sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            simulate.run(
                phones, rounds=rounds, duration=duration, interval=interval, seed=seed, report=report, totals=totals,
                fail_rate=fail_rate, field_agent=field_agent,
            )  # fmt: skip
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for sig, handler in saved_signals.items():
                signal.signal(sig, handler)
        if live:
            sys.stderr.write("\n")
        elapsed = time.monotonic() - totals.started
        self.stdout.write(f"{'stopped' if interrupted else 'done'} after {elapsed:.1f} s: {totals.line()}")


def _read_codes(path: str) -> list[tuple[str, str]]:
    if not path:
        return []
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    pairs = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or line.startswith("#"):
            continue
        if len(parts) != 2:
            raise CommandError(f"{path}:{n}: expected 'SERIAL CODE'")
        pairs.append((parts[0], parts[1]))
    return pairs


def _read_state(path: str) -> dict:
    if not path or not os.path.exists(path):
        return {}
    return _read_json(path)


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path} is not a JSON object")
    return data


def _write_state(path: str, saved: dict) -> None:
    # The credentials sign as the phones: readable by this user only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(saved, f, ensure_ascii=False, indent=1)
