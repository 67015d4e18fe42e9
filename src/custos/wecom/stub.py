"""A local stand-in for WeCom's server API: what Custos calls, with WeCom's limits and errcodes.

It is a real HTTP server (a thread), so the connector's client, token cache, retries and callback
handling are exercised exactly as against qyapi.weixin.qq.com. Tests and `custos demo` use it;
`custos wecom stub` runs one on its own. It keeps its state in memory.

Besides WeCom's paths it answers a few of its own under /stub/ (no token): a test or a person
deletes a customer, lets a day pass, makes a customer refuse a transfer. Each change that WeCom
would announce is posted to Custos's callback URL, encrypted and signed as WeCom does.
"""

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlparse

import requests

from custos.wecom.callback_crypto import CallbackCrypto

TRANSFER_WAIT = timedelta(hours=24)
ONJOB_LIMIT, ONJOB_WINDOW = 2, timedelta(days=90)
MAX_IDS = 100


@dataclass
class StubWeCom:
    corp_id: str = "wwstub0000000001"
    agent_id: str = "1000002"
    secrets: dict = field(default_factory=lambda: {"app": "stub-app-secret", "contact": "stub-contact-secret", "directory": "stub-directory-secret"})
    departments: dict = field(default_factory=dict)  # id -> {id, name, parentid, order}
    users: dict = field(default_factory=dict)  # userid -> {userid, name, department, status, main_department}
    contacts: dict = field(default_factory=dict)  # external_userid -> external_contact
    follows: dict = field(default_factory=dict)  # (userid, external_userid) -> follow_info
    tag_groups: list = field(default_factory=list)
    groups: dict = field(default_factory=dict)  # chat_id -> group_chat
    transfers: list = field(default_factory=list)
    onjob_moves: dict = field(default_factory=dict)  # external_userid -> [times]
    messages: list = field(default_factory=list)
    tokens: dict = field(default_factory=dict)
    fail_next: dict = field(default_factory=dict)  # path -> [errcode, ...]
    blocked_ip: bool = False
    offset: timedelta = timedelta(0)
    calls: list = field(default_factory=list)
    callback: dict | None = None  # {url, token, aes_key}
    callbacks_posted: list = field(default_factory=list)
    # deliver(query, body) -> response: posts a callback in-process (tests) instead of over HTTP
    deliver: object = None
    address: str = ""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    # --- seeding ------------------------------------------------------------------------

    def add_department(self, id: int, name: str, parentid: int = 0) -> None:
        self.departments[id] = {"id": id, "name": name, "parentid": parentid, "order": id}

    def add_user(self, userid: str, name: str, department: int, status: int = 1) -> None:
        self.users[userid] = {"userid": userid, "name": name, "department": [department], "main_department": department, "status": status}

    def add_contact(self, userid: str, external_userid: str, name: str, *, remark: str = "", tags=(), add_way: int = 1, notify: bool = False, createtime: int | None = None) -> None:
        with self.lock:
            self.contacts.setdefault(external_userid, {"external_userid": external_userid, "name": name, "type": 1, "gender": 0})
            self.follows[(userid, external_userid)] = {
                "userid": userid, "remark": remark, "description": "", "createtime": createtime or int(self.now().timestamp()),
                "tag_id": list(tags), "add_way": add_way, "state": "",
            }  # fmt: skip
        if notify:
            self.post_event({"Event": "change_external_contact", "ChangeType": "add_external_contact", "UserID": userid, "ExternalUserID": external_userid, "State": "", "WelcomeCode": secrets.token_hex(8)})

    def add_tag_group(self, group_id: str, name: str, tags: dict) -> None:
        self.tag_groups.append({"group_id": group_id, "group_name": name, "create_time": 0, "order": 0, "deleted": False,
                                "tag": [{"id": k, "name": v, "create_time": 0, "order": 0, "deleted": False} for k, v in tags.items()]})  # fmt: skip

    # --- what staff and customers do in WeCom, announced by callback ----------------------

    def delete_contact(self, userid: str, external_userid: str, *, by: str = "staff") -> dict:
        """Staff deleted the customer (del_external_contact) or the customer deleted them (del_follow_user)."""
        with self.lock:
            self.follows.pop((userid, external_userid), None)
        change = "del_external_contact" if by == "staff" else "del_follow_user"
        event = {"Event": "change_external_contact", "ChangeType": change, "UserID": userid, "ExternalUserID": external_userid}
        if by == "staff":
            event["Source"] = ""
        return self.post_event(event)

    def create_group(self, chat_id: str, name: str, owner: str, members: list[tuple[str, int]]) -> dict:
        """members: (id, type) with type 1 = staff, 2 = external contact."""
        with self.lock:
            self.groups[chat_id] = {
                "chat_id": chat_id, "name": name, "owner": owner, "create_time": int(self.now().timestamp()), "notice": "",
                "member_list": [{"userid": m, "type": t, "join_time": int(self.now().timestamp()), "join_scene": 1} for m, t in [(owner, 1), *members]],
                "admin_list": [],
            }  # fmt: skip
        return self.post_event({"Event": "change_external_chat", "ChatId": chat_id, "ChangeType": "create"})

    def advance(self, hours: float) -> list[dict]:
        """Let time pass; transfers whose 24 hours are over settle, and WeCom says so by callback."""
        posted = []
        with self.lock:
            self.offset += timedelta(hours=hours)
            due = [t for t in self.transfers if t["status"] == 2 and self.now() >= t["requested_at"] + TRANSFER_WAIT]
        for t in due:
            if t.get("refuse"):
                t["status"] = 3
                posted.append(self.post_event({"Event": "change_external_contact", "ChangeType": "transfer_fail", "FailReason": "customer_refused", "UserID": t["takeover"], "ExternalUserID": t["external_userid"]}))
                continue
            t["status"], t["takeover_time"] = 1, int(self.now().timestamp())
            with self.lock:
                info = self.follows.pop((t["handover"], t["external_userid"]), None) or {"remark": "", "description": "", "tag_id": [], "add_way": 0, "state": ""}
                self.follows[(t["takeover"], t["external_userid"])] = {**info, "userid": t["takeover"], "createtime": int(self.now().timestamp())}
            if t["kind"] == "onjob":
                posted.append(self.post_event({"Event": "change_external_contact", "ChangeType": "del_external_contact", "Source": "DELETE_BY_TRANSFER", "UserID": t["handover"], "ExternalUserID": t["external_userid"]}))
        return posted

    def refuse(self, external_userid: str) -> None:
        for t in self.transfers:
            if t["external_userid"] == external_userid and t["status"] == 2:
                t["refuse"] = True

    # --- callbacks to Custos --------------------------------------------------------------

    def event_xml(self, event: dict) -> str:
        base = {"ToUserName": self.corp_id, "FromUserName": "sys", "CreateTime": str(int(self.now().timestamp())), "MsgType": "event"}
        body = "".join(f"<{k}>{''.join(f'<Item><![CDATA[{i}]]></Item>' for i in v)}</{k}>" if isinstance(v, list) else f"<{k}><![CDATA[{v}]]></{k}>"
                       for k, v in {**base, **event}.items())  # fmt: skip
        return f"<xml>{body}</xml>"

    def signed_callback(self, event: dict) -> tuple[dict, bytes]:
        """(query, body) of a callback as WeCom posts it."""
        cfg = self.callback
        crypto = CallbackCrypto(cfg["token"], cfg["aes_key"], self.corp_id)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(5)
        encrypted = crypto.encrypt(self.event_xml(event))
        body = f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID><![CDATA[{self.agent_id}]]></AgentID></xml>"
        query = {"msg_signature": crypto.signature(timestamp, nonce, encrypted), "timestamp": timestamp, "nonce": nonce}
        return query, body.encode()

    def post_event(self, event: dict) -> dict:
        record = {"event": event, "status": None}
        self.callbacks_posted.append(record)
        if not self.callback:
            return record
        query, body = self.signed_callback(event)
        if self.deliver is not None:
            response = self.deliver(query, body)
            record["status"], record["reply"] = response.status_code, response.content[:200].decode(errors="replace")
            return record
        try:
            response = requests.post(f"{self.callback['url']}?{urlencode(query)}", data=body, timeout=10, headers={"Content-Type": "text/xml"})
            record["status"], record["reply"] = response.status_code, response.text[:200]
        except requests.RequestException as exc:
            record["status"], record["reply"] = 0, type(exc).__name__
        return record

    # --- the API ---------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body: dict) -> dict:
        with self.lock:
            self.calls.append(path)
            if path == "/cgi-bin/gettoken":
                return self._gettoken(query)
            if self.blocked_ip:
                return {"errcode": 60020, "errmsg": "not allow to access from your ip, from ip: 127.0.0.1"}
            kind = self.tokens.get(query.get("access_token", ""))
            if kind is None:
                return {"errcode": 40014, "errmsg": "invalid access_token"}
            if kind[1] <= self.now():
                return {"errcode": 42001, "errmsg": "access_token expired"}
            queued = self.fail_next.get(path)
            if queued:
                return {"errcode": queued.pop(0), "errmsg": "injected by the stub"}
            handler = ROUTES.get(path)
            if handler is None:
                return {"errcode": 404, "errmsg": f"unknown path {path}"}
            return handler(self, query, body)

    def _gettoken(self, query: dict) -> dict:
        if query.get("corpid") != self.corp_id:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        kind = next((k for k, v in self.secrets.items() if v and v == query.get("corpsecret")), None)
        if kind is None:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        if self.blocked_ip:
            return {"errcode": 60020, "errmsg": "not allow to access from your ip, from ip: 127.0.0.1"}
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (kind, self.now() + timedelta(seconds=7200))
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def expire_tokens(self) -> None:
        for token, (kind, _t) in list(self.tokens.items()):
            self.tokens[token] = (kind, self.now() - timedelta(seconds=1))


def _ok(**data) -> dict:
    return {"errcode": 0, "errmsg": "ok", **data}


def _departments(stub, query, body):
    return _ok(department=sorted(stub.departments.values(), key=lambda d: d["id"]))


def _users(stub, query, body):
    root = int(query.get("department_id") or 1)
    wanted = {root}
    if query.get("fetch_child") == "1":
        changed = True
        while changed:
            more = {d["id"] for d in stub.departments.values() if d["parentid"] in wanted} - wanted
            changed, wanted = bool(more), wanted | more
    return _ok(userlist=[u for u in stub.users.values() if set(u["department"]) & wanted])


def _follow_users(stub, query, body):
    return _ok(follow_user=sorted({u for u, _e in stub.follows}))


def _batch_by_user(stub, query, body):
    ids = body.get("userid_list") or []
    if not ids or len(ids) > MAX_IDS:
        return {"errcode": 40035, "errmsg": "invalid userid_list size"}
    limit = min(int(body.get("limit") or 50), 100)
    rows = sorted((k for k in stub.follows if k[0] in ids), key=lambda k: (k[0], k[1]))
    start = int(body.get("cursor") or 0)
    page = rows[start : start + limit]
    out = [{"external_contact": stub.contacts[e], "follow_info": {k: v for k, v in stub.follows[(u, e)].items()}} for u, e in page]
    return _ok(external_contact_list=out, next_cursor=str(start + limit) if start + limit < len(rows) else "")


def _get_contact(stub, query, body):
    ext = query.get("external_userid", "")
    if ext not in stub.contacts:
        return {"errcode": 40096, "errmsg": "invalid external userid"}
    follow = []
    for (_u, e), info in stub.follows.items():
        if e == ext:
            names = {t["id"]: (g["group_name"], t["name"]) for g in stub.tag_groups for t in g["tag"]}
            follow.append({**{k: v for k, v in info.items() if k != "tag_id"},
                           "tags": [{"group_name": names[t][0], "tag_name": names[t][1], "tag_id": t, "type": 1} for t in info["tag_id"] if t in names]})  # fmt: skip
    return _ok(external_contact=stub.contacts[ext], follow_user=follow)


def _tags(stub, query, body):
    return _ok(tag_group=stub.tag_groups)


def _transfer(kind):
    def handler(stub, query, body):
        handover, takeover = body.get("handover_userid"), body.get("takeover_userid")
        ids = body.get("external_userid") or []
        if not ids or len(ids) > MAX_IDS:
            return {"errcode": 40035, "errmsg": "external_userid: 1 to 100 per call"}
        if takeover not in stub.users or stub.users[takeover]["status"] != 1:
            return {"errcode": 40003, "errmsg": "invalid takeover userid"}
        out = []
        for ext in ids:
            code = 0
            if kind == "resigned" and stub.users.get(handover, {}).get("status") != 5:
                code = 40097
            elif handover == takeover:
                code = 40130
            elif (handover, ext) not in stub.follows:
                code = 40131 if ext in stub.contacts else 40096
            elif any(t["external_userid"] == ext and t["status"] == 2 for t in stub.transfers):
                code = 40129
            elif kind == "onjob" and len([t for t in stub.onjob_moves.get(ext, []) if t > stub.now() - ONJOB_WINDOW]) >= ONJOB_LIMIT:
                code = 40128
            if code == 0:
                stub.transfers.append({"kind": kind, "handover": handover, "takeover": takeover, "external_userid": ext,
                                       "status": 2, "requested_at": stub.now(), "message": body.get("transfer_success_msg", "")})  # fmt: skip
                if kind == "onjob":
                    stub.onjob_moves.setdefault(ext, []).append(stub.now())
            out.append({"external_userid": ext, "errcode": code})
        return _ok(customer=out)

    return handler


def _transfer_result(kind):
    def handler(stub, query, body):
        rows = [t for t in stub.transfers if t["kind"] == kind and t["handover"] == body.get("handover_userid") and t["takeover"] == body.get("takeover_userid")]
        return _ok(customer=[{"external_userid": t["external_userid"], "status": t["status"], "takeover_time": t.get("takeover_time", 0)} for t in rows], next_cursor="")

    return handler


def _group_list(stub, query, body):
    owners = set((body.get("owner_filter") or {}).get("userid_list") or [])
    chats = [g for g in stub.groups.values() if not owners or g["owner"] in owners]
    return _ok(group_chat_list=[{"chat_id": g["chat_id"], "status": 0} for g in chats], next_cursor="")


def _group_get(stub, query, body):
    chat = stub.groups.get(body.get("chat_id", ""))
    if chat is None:
        return {"errcode": 40050, "errmsg": "chatid not found"}
    return _ok(group_chat=chat)


def _group_transfer(resigned: bool):
    def handler(stub, query, body):
        ids, owner = body.get("chat_id_list") or [], body.get("new_owner")
        if not ids or len(ids) > MAX_IDS:
            return {"errcode": 40035, "errmsg": "chat_id_list: 1 to 100"}
        failed = []
        for chat_id in ids:
            chat = stub.groups.get(chat_id)
            left = chat is not None and stub.users.get(chat["owner"], {}).get("status") == 5
            if chat is None:
                failed.append({"chat_id": chat_id, "errcode": 90501, "errmsg": "not a customer group"})
            elif resigned and not left:
                failed.append({"chat_id": chat_id, "errcode": 90500, "errmsg": "the owner of this chat is not resigned"})
            elif not resigned and left:
                failed.append({"chat_id": chat_id, "errcode": 90502, "errmsg": "the owner of this chat is resigned"})
            else:
                chat["owner"] = owner
        return _ok(failed_chat_list=failed)

    return handler


def _send(stub, query, body):
    to = [u for u in str(body.get("touser") or "").split("|") if u]
    invalid = [u for u in to if u not in stub.users]
    stub.messages.append({"touser": to, "msgtype": body.get("msgtype"), "content": (body.get(body.get("msgtype") or "text") or {}).get("content", "")})
    return _ok(invaliduser="|".join(invalid), msgid=secrets.token_hex(8))


ROUTES = {
    "/cgi-bin/department/list": _departments,
    "/cgi-bin/user/list": _users,
    "/cgi-bin/externalcontact/get_follow_user_list": _follow_users,
    "/cgi-bin/externalcontact/batch/get_by_user": _batch_by_user,
    "/cgi-bin/externalcontact/get": _get_contact,
    "/cgi-bin/externalcontact/get_corp_tag_list": _tags,
    "/cgi-bin/externalcontact/transfer_customer": _transfer("onjob"),
    "/cgi-bin/externalcontact/resigned/transfer_customer": _transfer("resigned"),
    "/cgi-bin/externalcontact/transfer_result": _transfer_result("onjob"),
    "/cgi-bin/externalcontact/resigned/transfer_result": _transfer_result("resigned"),
    "/cgi-bin/externalcontact/groupchat/list": _group_list,
    "/cgi-bin/externalcontact/groupchat/get": _group_get,
    "/cgi-bin/externalcontact/groupchat/transfer": _group_transfer(resigned=True),
    "/cgi-bin/externalcontact/groupchat/onjob_transfer": _group_transfer(resigned=False),
    "/cgi-bin/message/send": _send,
}


def _control(stub: StubWeCom, path: str, body: dict):
    """The stub's own endpoints, for people trying the demo and for scripts."""
    if path == "/stub/delete_contact":
        return stub.delete_contact(body["userid"], body["external_userid"], by=body.get("by", "staff"))
    if path == "/stub/advance":
        return {"posted": len(stub.advance(float(body.get("hours", 24))))}
    if path == "/stub/refuse":
        stub.refuse(body["external_userid"])
        return {"ok": True}
    if path == "/stub/create_group":
        return stub.create_group(body["chat_id"], body.get("name", ""), body["owner"], [tuple(m) for m in body.get("members", [])])
    if path == "/stub/state":
        return {"users": len(stub.users), "contacts": len(stub.contacts), "follows": len(stub.follows),
                "transfers": [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in t.items()} for t in stub.transfers],
                "messages": stub.messages[-20:]}  # fmt: skip
    return None


class _Handler(BaseHTTPRequestHandler):
    stub: StubWeCom

    def log_message(self, format, *args):  # noqa: A002 - the stub is quiet; tests read its state
        pass

    def _answer(self, status: int, data) -> None:
        raw = json.dumps(data, ensure_ascii=False, default=str).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._answer(200, {"errcode": 47001, "errmsg": "data format error"})
            return
        if url.path.startswith("/stub/"):
            try:
                result = _control(self.stub, url.path, body)
            except (KeyError, TypeError, ValueError) as exc:
                self._answer(400, {"error": f"bad request: {exc}"})
                return
            self._answer(200 if result is not None else 404, result if result is not None else {"error": "unknown"})
            return
        self._answer(200, self.stub.handle(method, url.path, query, body if isinstance(body, dict) else {}))

    def do_GET(self):  # noqa: N802 - http.server's names
        self._serve("GET")

    def do_POST(self):  # noqa: N802
        self._serve("POST")


class StubServer:
    """The stub on a port of this machine (0: any free one), in a daemon thread."""

    _ids = itertools.count(1)

    def __init__(self, stub: StubWeCom | None = None, host: str = "127.0.0.1", port: int = 0):
        self.stub = stub or StubWeCom()
        handler = type(f"StubHandler{next(self._ids)}", (_Handler,), {"stub": self.stub})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="wecom-stub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "StubServer":
        self.stub.address = self.url.removeprefix("http://")
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
