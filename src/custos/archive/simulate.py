"""Realistic chat traffic for a running Custos, over HTTP, signed as a work phone or connector would.

Staff chat with customers in Chinese (the phrases of archive.demo), with calls, red packets,
the occasional recall, contact deletion, re-sent batch (a duplicate) and disguised suspicious
phrase for the detectors. Events are generated at the asked rate and posted in batches every
TICK seconds, so the server sees what a fleet of phones and connectors would send.

Only the standard library talks to the server: the simulator touches no database and runs from
any machine holding a credential.
"""

import http.client
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from custos.archive import demo, signing

PATH = "/api/v1/ingest/events"
TICK = 0.25  # seconds between batches: smooth enough, and few enough requests at low rates
CATCH_UP = 2.0  # seconds of traffic at most made up after a slow answer
MAX_BATCH = 1000

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
STORES = ["天河店", "祖庙店", "徐汇店", "春熙路店", "解放碑店"]
# Violations written the way people hide them: symbols between characters, look-alikes,
# traditional characters, pinyin, Chinese numerals for a phone number.
DISGUISED = [
    "加#我#薇#信，这个号要交回公司了",
    "飛單的事你知我知",
    "si xia jiao yi 比较划算，你懂的",
    "钱直接转到我个人账户上就行",
    "我手机 幺三九 一二三四 五六七八，有事直接打",
    *demo.SUSPICIOUS,
]


class Stop(Exception):
    """The server cannot take traffic (down, credential refused): one line for the operator."""


@dataclass
class Totals:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    suspicious: int = 0
    started: float = field(default_factory=time.monotonic)
    reasons: dict[str, int] = field(default_factory=dict)

    def rate(self) -> float:
        return self.sent / max(time.monotonic() - self.started, 1e-6)

    def line(self) -> str:
        return (
            f"sent {self.sent}  accepted {self.accepted}  duplicates {self.duplicates}  "
            f"rejected {self.rejected}  suspicious {self.suspicious}  {self.rate():.1f} events/s"
        )


@dataclass
class _Chat:
    contact: str
    name: str
    phone: str
    employee: str | None
    sent: list[str] = field(default_factory=list)
    added: bool = False
    deleted: bool = False


class Traffic:
    """An endless, seeded stream of events: the same seed, the same conversations."""

    def __init__(self, seed: int, employees: list[str] | None, contacts: int = 200):
        self.rng = random.Random(seed)
        # Fresh source ids every run (a rerun with the same seed is new traffic, not duplicates).
        self.run = f"{seed}-{secrets.token_hex(4)}"
        self.n = 0
        self.recent: list[dict] = []
        staff = employees or [None]
        self.chats = [
            _Chat(
                contact=f"wm_sim_{self.run}_{i}",
                name=self.rng.choice(SURNAMES) + self.rng.choice(("先生", "女士", "小姐", "姐")),
                phone="13" + "".join(self.rng.choice("0123456789") for _ in range(9)),
                employee=staff[i % len(staff)],
            )
            for i in range(contacts)
        ]

    def _event(self, chat: _Chat, kind: str, payload: dict) -> dict:
        self.n += 1
        at = datetime.now(UTC) - timedelta(milliseconds=self.rng.randint(0, 900))
        event = {"kind": kind, "source_id": f"sim-{self.run}-{self.n}", "occurred_at": at.isoformat(), "payload": payload}
        if chat.employee:
            event["employee"] = chat.employee  # an integration token names the employee of each event
        return event

    def _text(self, chat: _Chat, kind: str, text: str, **extra) -> dict:
        payload = {"msgtype": "text", "conversation": chat.contact, "contact": chat.contact, "text": text, **extra}
        event = self._event(chat, kind, payload)
        if kind == "message.sent":
            chat.sent = [*chat.sent[-20:], event["source_id"]]
        return event

    def next(self) -> tuple[dict, bool]:
        """The next event, and whether it carries a suspicious phrase."""
        rng = self.rng
        if self.recent and rng.random() < 0.005:
            # A phone that lost the answer sends its batch again: the server must call it a duplicate.
            return rng.choice(self.recent), False
        chat = rng.choice(self.chats)
        if chat.deleted:
            chat.deleted, chat.added = False, False  # the customer is added back later, as happens
        if not chat.added:
            chat.added = True
            event = self._event(chat, "contact.added", {"contact": chat.contact, "name": chat.name, "phone": chat.phone})
            return self._keep(event), False
        roll = rng.random()
        suspicious = False
        if roll < 0.40:
            text = rng.choice(demo.STAFF if rng.random() < 0.8 else demo.OPENERS).format(
                name=chat.name, store=rng.choice(STORES), me=rng.choice(SURNAMES) + "小姐"
            )
            event = self._text(chat, "message.sent", text)
        elif roll < 0.80:
            event = self._text(chat, "message.received", rng.choice(demo.CUSTOMER))
        elif roll < 0.86:
            event = self._event(chat, "call.logged", {
                "direction": rng.choice(("in", "out")), "number": chat.phone, "duration_s": rng.randint(15, 600),
                "note": rng.choice(demo.CALL_NOTES), "contact": chat.contact,
            })  # fmt: skip
        elif roll < 0.89:
            event = self._event(chat, "message.sent", {
                "msgtype": "redpacket", "conversation": chat.contact, "contact": chat.contact,
                "amount": rng.choice((666, 888, 1888)), "text": rng.choice(demo.FESTIVE),
            })  # fmt: skip
        elif roll < 0.93:
            event, suspicious = self._text(chat, "message.sent", rng.choice(DISGUISED)), True
        elif roll < 0.96 and chat.sent:
            event = self._event(chat, "message.recalled", {"message": chat.sent.pop(), "conversation": chat.contact})
        elif roll < 0.97:
            chat.deleted = True
            event = self._event(chat, "contact.deleted_by_staff", {"contact": chat.contact})
        else:
            event = self._text(chat, "message.received", rng.choice(demo.CUSTOMER))
        return self._keep(event), suspicious

    def _keep(self, event: dict) -> dict:
        self.recent = [*self.recent[-50:], event]
        return event


class Client:
    """Posts signed batches; one connection kept open."""

    def __init__(self, url: str, token: str, secret: str, timeout: float = 30.0):
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Stop(f"not an http(s) URL: {url!r}")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.prefix = parts.path.rstrip("/")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.connect = lambda: cls(parts.hostname, parts.port, timeout=timeout)
        self.conn = self.connect()
        self.token, self.secret = token, secret

    def post(self, events: list[dict]) -> dict:
        body = json.dumps({"events": events}, ensure_ascii=False).encode()
        path = self.prefix + PATH
        for attempt in (1, 2):
            headers = {**signing.signed_headers(self.token, self.secret, "POST", path, body), "Content-Type": "application/json"}
            try:
                self.conn.request("POST", path, body, headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as exc:
                self.conn.close()
                self.conn = self.connect()
                if attempt == 2 or isinstance(exc, ConnectionRefusedError):
                    raise Stop(f"cannot reach {self.url}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            answer = json.loads(data)
        except ValueError:
            answer = {}
        if response.status == 401:
            raise Stop(f"the server refused the credential (401): {answer.get('message') or 'unauthenticated'}")
        if response.status != 200 or "results" not in answer:
            said = answer.get("message") if isinstance(answer, dict) else None
            raise Stop(f"{self.url}{path} answered {response.status}: {said or data[:200].decode(errors='replace')}")
        return answer


def run(client: Client, traffic: Traffic, rate: float, duration: float | None, report, totals: Totals) -> Totals:
    """Send events at `rate` per second until `duration` runs out (or forever); report(totals) every second.

    The caller owns `totals`, so after Ctrl-C (KeyboardInterrupt goes through) it still has the
    counts of every answered batch for its summary.
    """
    owed, last_report = 0.0, time.monotonic()
    start = time.monotonic()
    last = None
    while duration is None or time.monotonic() - start < duration:
        tick = time.monotonic()
        # Owed by the clock, not by the number of ticks: a slow answer (a server warming up) is
        # made up in the next batches, up to CATCH_UP seconds' worth, so the rate is the one asked.
        owed += rate * (TICK if last is None else min(tick - last, CATCH_UP))
        last = tick
        count, owed = int(owed), owed - int(owed)
        while count > 0:
            size = min(count, MAX_BATCH)
            count -= size
            batch, flags = [], []
            for _ in range(size):
                event, suspicious = traffic.next()
                batch.append(event)
                flags.append(suspicious)
            answer = client.post(batch)
            totals.sent += size
            totals.accepted += answer["accepted"]
            totals.duplicates += answer["duplicates"]
            totals.rejected += answer["rejected"]
            for result, suspicious in zip(answer["results"], flags, strict=False):
                if result["status"] == "accepted" and suspicious:
                    totals.suspicious += 1
                if result["status"] == "rejected":
                    reason = (result.get("reason") or "")[:120]
                    totals.reasons[reason] = totals.reasons.get(reason, 0) + 1
        now = time.monotonic()
        if now - last_report >= 1.0:
            report(totals)
            last_report = now
        time.sleep(max(0.0, TICK - (time.monotonic() - tick)))
    return totals
