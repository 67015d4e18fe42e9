"""A fleet of work phones for a running Custos, over HTTP, speaking the agent protocol.

Each phone enrols with its one-time code (or reuses the credential saved by an earlier run),
then every round: a heartbeat (battery, network, SIM, installed apps), the policy fetched and
applied when the answer names a revision it does not run, and a poll whose commands are carried
out and answered (lock, wipe, install, uninstall, push the policy, ring). Some phones can be
told to misbehave: `lost` ones go silent after enrolling (the offline alert), `non_compliant`
ones cannot switch the camera off and carry an app outside the allow-list.

Only the standard library talks to the server (signed with custos.archive.signing, as the phone
agent signs): the simulator touches no database and runs from any machine that reaches the server.
"""

import http.client
import json
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from custos.archive import signing
from custos.archive.simulate import Stop

PREFIX = "/api/v1/devices/agent"
WORK_APPS = ["com.tencent.wework", "com.custos.agent", "com.custos.crm"]
PRIVATE_APP = "com.tencent.mm"
RESULTS = {
    "lock": "已锁屏",
    "wipe": "工作数据已清除",
    "install_app": "已安装 {package}",
    "uninstall_app": "已卸载 {package}",
    "push_policy": "已应用策略",
    "ring": "已响铃 30 秒",
}
NETWORKS = ("4G", "5G", "WiFi")


class Refused(Stop):
    """The server answered 4xx to one request (say why); the run goes on for the other phones."""


class Sender:
    """Signed requests from one phone. The same object is what custos.field.agent's functions take
    to send check-ins and tracks as this phone."""

    def __init__(self, url: str, token: str = "", secret: str = "", timeout: float = 20.0):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Stop(f"not an http(s) URL: {url!r}")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path.rstrip("/")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._connect = lambda: cls(parts.hostname, parts.port, timeout=timeout)
        self.conn = self._connect()
        self.token, self.secret = token, secret

    def request(self, method: str, path: str, body=None, *, signed: bool = True) -> tuple[int, dict]:
        """(status, JSON answer) for `path` under the server's /api/v1/... ; raises Stop when the
        server cannot be reached."""
        full = self.prefix + path
        raw_body = isinstance(body, bytes | bytearray)
        data = (
            bytes(body)
            if raw_body
            else b""
            if body is None
            else json.dumps(body, ensure_ascii=False).encode()
        )
        for attempt in (1, 2):
            headers = {"Content-Type": "application/octet-stream" if raw_body else "application/json"}
            if signed:
                headers.update(signing.signed_headers(self.token, self.secret, method, full, data))
            try:
                self.conn.request(method, full, data if method != "GET" else None, headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.conn.close()
                self.conn = self._connect()
                if attempt == 2 or isinstance(exc, ConnectionRefusedError):
                    raise Stop(f"cannot reach {self.url}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {"message": raw[:200].decode(errors="replace")}
        return response.status, answer if isinstance(answer, dict) else {"items": answer}

    def call(self, method: str, path: str, body=None, *, signed: bool = True) -> dict:
        status, answer = self.request(method, path, body, signed=signed)
        if status == 401:
            raise Stop(
                f"the server refused the credential (401): {answer.get('message') or 'unauthenticated'}"
            )
        if status >= 500:
            raise Stop(f"{self.url}{path} answered {status}")
        if status >= 400:
            raise Refused(f"{path}: {status} {answer.get('message') or answer}")
        return answer


@dataclass
class Totals:
    enrolled: int = 0
    heartbeats: int = 0
    policies_applied: int = 0
    commands_done: int = 0
    commands_failed: int = 0
    refused: int = 0
    field_calls: int = 0
    started: float = field(default_factory=time.monotonic)
    by_kind: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"phones {self.enrolled}  heartbeats {self.heartbeats}  policies applied {self.policies_applied}  "
            f"commands done {self.commands_done}  failed {self.commands_failed}  refused {self.refused}"
            + (f"  field {self.field_calls}" if self.field_calls else "")
        )


@dataclass
class Phone:
    serial: str
    sender: Sender
    device_id: int | None = None
    lost: bool = False
    non_compliant: bool = False
    applied: int | None = None
    battery: int = 100
    sim: str = ""
    number: str = ""
    apps: list[str] = field(default_factory=lambda: list(WORK_APPS))

    def credential(self) -> dict:
        return {"token": self.sender.token, "secret": self.sender.secret, "device_id": self.device_id}


def enrol(url: str, serial: str, code: str, rng: random.Random, timeout: float = 20.0) -> Phone:
    """Trade the code for the phone's credential (the only unsigned call of the protocol)."""
    sender = Sender(url, timeout=timeout)
    sim = "8986" + "".join(rng.choice("0123456789") for _ in range(16))
    number = "13" + "".join(rng.choice("0123456789") for _ in range(9))
    body = {
        "code": code,
        "serial": serial,
        "sim_serial": sim,
        "phone_number": number,
        "model": "模拟手机",
        "os": "Android 14",
    }
    status, answer = sender.request("POST", "/api/v1/devices/agent/enrol", body, signed=False)
    if status >= 500:
        raise Stop(f"{sender.url}/api/v1/devices/agent/enrol answered {status}")
    if status != 201:  # a used or expired code concerns this phone only
        raise Refused(f"{status} {answer.get('message') or answer}")
    sender.token, sender.secret = answer["token"], answer["secret"]
    return Phone(serial=serial, sender=sender, device_id=answer["device_id"], sim=sim, number=number)


def resume(url: str, serial: str, saved: dict, timeout: float = 20.0) -> Phone:
    sender = Sender(url, saved["token"], saved["secret"], timeout=timeout)
    return Phone(serial=serial, sender=sender, device_id=saved.get("device_id"))


def _apply_policy(phone: Phone, totals: Totals) -> None:
    policy = phone.sender.call("GET", f"{PREFIX}/policy")
    if policy.get("revision") is None:
        return
    failures = ["camera"] if phone.non_compliant and "camera" in policy["rules"].get("disabled", []) else []
    phone.sender.call("POST", f"{PREFIX}/policy", {"revision": policy["revision"], "failures": failures})
    phone.applied = policy["revision"]
    allowed = policy["rules"].get("allowed_apps") or []
    if allowed and not phone.non_compliant:
        phone.apps = [a for a in phone.apps if a in allowed]
    totals.policies_applied += 1


def _carry_out(phone: Phone, command: dict, rng: random.Random, fail_rate: float, totals: Totals) -> None:
    kind, payload = command["kind"], command.get("payload") or {}
    ok = rng.random() >= fail_rate
    if ok and kind == "install_app" and payload.get("package") and payload["package"] not in phone.apps:
        phone.apps.append(payload["package"])
    if ok and kind == "uninstall_app" and payload.get("package") in phone.apps:
        phone.apps.remove(payload["package"])
    if ok and kind == "push_policy":
        phone.applied = None  # fetched and applied again below
    result = (
        RESULTS.get(kind, "done").format(package=payload.get("package", ""))
        if ok
        else "操作失败：设备忙，请稍后重试"
    )
    phone.sender.call("POST", f"{PREFIX}/commands/{command['id']}/ack", {"ok": ok, "result": result})
    totals.by_kind[kind] = totals.by_kind.get(kind, 0) + 1
    if ok:
        totals.commands_done += 1
    else:
        totals.commands_failed += 1


def round_of(
    phone: Phone, rng: random.Random, totals: Totals, fail_rate: float = 0.0, field_agent=None
) -> None:
    """One round of one phone: heartbeat, policy, commands (and field work when wired)."""
    if phone.lost:
        return
    phone.battery = max(5, phone.battery - rng.randint(0, 2))
    apps = phone.apps + ([PRIVATE_APP] if phone.non_compliant and PRIVATE_APP not in phone.apps else [])
    report = {
        "battery": phone.battery,
        "network": rng.choice(NETWORKS),
        "agent_version": "1.0-sim",
        "apps": apps,
    }
    if phone.sim:
        report.update(sim_serial=phone.sim, phone_number=phone.number)
    answer = phone.sender.call("POST", f"{PREFIX}/heartbeat", report)
    totals.heartbeats += 1
    if answer.get("policy_revision") is not None and answer["policy_revision"] != phone.applied:
        _apply_policy(phone, totals)
    for command in phone.sender.call("POST", f"{PREFIX}/commands", {}).get("commands", []):
        try:
            _carry_out(phone, command, rng, fail_rate, totals)
        except Refused:
            totals.refused += 1
    if phone.applied is None:
        _apply_policy(phone, totals)
    if field_agent is not None:
        totals.field_calls += field_agent(phone, rng)


def run(phones: list[Phone], *, rounds: int | None, duration: float | None, interval: float, seed: int, report, totals: Totals,
        fail_rate: float = 0.0, field_agent=None) -> Totals:  # fmt: skip
    """Every phone plays a round every `interval` seconds until `rounds` or `duration` run out."""
    rng = random.Random(seed)
    start, done, last_report = time.monotonic(), 0, time.monotonic()
    while (rounds is None or done < rounds) and (duration is None or time.monotonic() - start < duration):
        tick = time.monotonic()
        for phone in phones:
            try:
                round_of(phone, rng, totals, fail_rate, field_agent)
            except Refused:
                totals.refused += 1
        done += 1
        if time.monotonic() - last_report >= 1.0:
            report(totals)
            last_report = time.monotonic()
        if rounds is None or done < rounds:
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))
    return totals
