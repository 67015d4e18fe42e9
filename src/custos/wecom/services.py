"""Writes of the WeCom connector: its configuration, the callbacks WeCom sends, re-handling them.

Configuring is an admin's act and a ledger entry (`wecom.configured`, secrets never in it). A
callback is checked (signature, freshness, receiver), stored and acknowledged at once; the worker
turns it into ledger entries after (events.py), so WeCom never waits on Custos's own work and a
retry of the same callback is the same row.
"""

import hashlib
import logging
import re
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.core.errors import Forbidden, InvalidInput
from custos.ledger.services import append
from custos.org.models import Employee, Role
from custos.wecom import events, secrets
from custos.wecom.callback_crypto import CallbackCrypto, CallbackError, parse_event
from custos.wecom.models import AccessToken, Callback, Connection

log = logging.getLogger(__name__)
_CORP_ID = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
_SECRET = re.compile(r"^[\x21-\x7e]{8,128}$")
_TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")
_AES_KEY = re.compile(r"^[A-Za-z0-9+/]{43}$")
_AGENT = re.compile(r"^\d{1,12}$")
_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def connection() -> Connection:
    found = Connection.objects.filter(pk=1).first()
    return found or Connection(pk=1)


def require_admin(actor: Employee) -> None:
    policy.require_writer(actor)
    if actor.role != Role.ADMIN:
        raise Forbidden(_("Only an administrator sets up the WeCom connection."))


def _check(value: str, pattern: re.Pattern, message: str) -> str:
    value = (value or "").strip()
    if value and not pattern.match(value):
        raise InvalidInput(message)
    return value


def _check_url(url: str) -> str:
    url = (url or "").strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+(:\d+)?(/[^\s]*)?$", url):
        raise InvalidInput("接口地址应以 http:// 或 https:// 开头，例如 https://qyapi.weixin.qq.com")
    return url


@transaction.atomic
def configure(
    *,
    actor: Employee,
    corp_id: str,
    api_base: str = "",
    agent_id: str = "",
    app_secret: str | None = None,
    contact_secret: str | None = None,
    directory_secret: str | None = None,
    callback_token: str | None = None,
    callback_aes_key: str | None = None,
    observers: list[str] | None = None,
    enabled: bool | None = None,
    transfers_enabled: bool | None = None,
    app_messages_enabled: bool | None = None,
) -> Connection:
    """Save the connection. A secret given as None (or empty) keeps the one stored."""
    require_admin(actor)
    conn = Connection.objects.select_for_update().filter(pk=1).first() or Connection(pk=1)
    conn.corp_id = _check(corp_id, _CORP_ID, "企业ID 只含字母、数字，在管理后台“我的企业”页底部") or conn.corp_id
    if not conn.corp_id:
        raise InvalidInput("请填写企业ID（CorpID）。")
    if api_base:
        conn.api_base = _check_url(api_base)
    conn.agent_id = _check(agent_id, _AGENT, "应用的 AgentId 是一串数字") if agent_id is not None else conn.agent_id
    changed = []
    given = {
        "app_secret_encrypted": (app_secret, _SECRET, "Secret 应是 8 到 128 个可见字符"),
        "contact_secret_encrypted": (contact_secret, _SECRET, "Secret 应是 8 到 128 个可见字符"),
        "directory_secret_encrypted": (directory_secret, _SECRET, "Secret 应是 8 到 128 个可见字符"),
        "callback_token_encrypted": (callback_token, _TOKEN, "回调 Token 是 1 到 32 个英文字母或数字"),
        "callback_aes_key_encrypted": (callback_aes_key, _AES_KEY, "EncodingAESKey 是 43 个字母或数字"),
    }
    for field, (value, pattern, message) in given.items():
        value = _check(value or "", pattern, message)
        if value:
            setattr(conn, field, secrets.seal(field, value))
            changed.append(secrets.SEALED[field])
    if observers is not None:
        cleaned = []
        for uid in observers:
            uid = uid.strip()
            if uid and not _USERID.match(uid):
                raise InvalidInput(f"成员账号 {uid[:30]} 格式不对")
            if uid:
                cleaned.append(uid)
        conn.observers = sorted(set(cleaned))
    if enabled is not None:
        conn.enabled = bool(enabled)
    if transfers_enabled is not None:
        conn.transfers_enabled = bool(transfers_enabled)
    if app_messages_enabled is not None:
        conn.app_messages_enabled = bool(app_messages_enabled)
    if conn.enabled and not (conn.app_secret_encrypted or conn.contact_secret_encrypted):
        raise InvalidInput("启用前请至少填写一个 Secret（自建应用或客户联系）。")
    conn.updated_by = actor
    conn.save()
    if changed:
        AccessToken.objects.all().delete()  # tokens of the old secrets
    append(
        "wecom.configured",
        {
            "corp_id": conn.corp_id,
            "api_base": conn.api_base,
            "agent_id": conn.agent_id,
            "secrets_changed": changed,
            "observers": conn.observers,
            "enabled": conn.enabled,
            "transfers_enabled": conn.transfers_enabled,
            "app_messages_enabled": conn.app_messages_enabled,
        },
        actor_id=actor.pk,
        unit_id=actor.unit_id,
        source="console",
    )
    return conn


def test_connection(*, actor: Employee | None = None) -> tuple[bool, str]:
    """Fetch a token with each secret that is set; say exactly what is wrong if one fails."""
    from custos.wecom.client import NotConfigured, WeComClient, WeComError

    if actor is not None:
        require_admin(actor)
    conn = connection()
    lines, ok = [], True
    try:
        client = WeComClient(conn)
        for kind, label in (("app", "自建应用"), ("contact", "客户联系"), ("directory", "通讯录")):
            if not secrets.open_field(conn, secrets.KINDS[kind]):
                continue
            try:
                client.token(kind, fresh=True)
                lines.append(f"{label}：连接正常")
            except WeComError as exc:
                ok = False
                lines.append(f"{label}：{exc.message}")
        if not lines:
            ok, lines = False, ["还没有填写任何 Secret。"]
    except NotConfigured as exc:
        ok, lines = False, [exc.message]
    message = "；".join(lines)[:300]
    if conn.pk and Connection.objects.filter(pk=1).exists():
        Connection.objects.filter(pk=1).update(last_test_at=timezone.now(), last_test_ok=ok, last_test_message=message)
    return ok, message


# --- callbacks ------------------------------------------------------------------------------


class Refused(Exception):
    """A callback that is not WeCom's: answered 403, logged, never stored as an event."""


def _crypto() -> CallbackCrypto:
    conn = connection()
    token = secrets.open_field(conn, "callback_token_encrypted")
    key = secrets.open_field(conn, "callback_aes_key_encrypted")
    if not (conn.corp_id and token and key):
        raise Refused("回调未配置（企业ID、Token 或 EncodingAESKey 为空）")
    try:
        return CallbackCrypto(token, key, conn.corp_id)
    except CallbackError as exc:
        raise Refused(f"回调配置无效：{exc}") from exc


KEEP_CALLBACKS = timedelta(days=90)


def _record_refusal(reason: str) -> None:
    # Only the reason and the time, and one row per reason a minute: a flood of forged posts can
    # neither fill the table with content nor grow it by a row a request (the log has each one).
    digest = hashlib.sha256(reason.encode()).hexdigest()[:12]
    key = f"refused:{timezone.now().strftime('%Y%m%d%H%M')}:{digest}"
    try:
        with transaction.atomic():
            Callback.objects.create(key=key, status=Callback.Status.REFUSED, outcome=reason[:300])
    except IntegrityError:
        pass


def verify_url(*, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
    """WeCom's GET when the callback URL is saved: answer the decrypted echostr."""
    try:
        crypto = _crypto()
        return crypto.verify_url(msg_signature, timestamp, nonce, echostr)
    except CallbackError as exc:
        log.warning("wecom callback: URL check refused: %s", exc)
        _record_refusal(f"URL 验证失败：{exc}")
        raise Refused(str(exc)) from exc
    except Refused as exc:
        log.warning("wecom callback: URL check refused: %s", exc)
        _record_refusal(str(exc))
        raise


def receive(*, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> Callback | None:
    """Check and store one callback; returns the new row (None for a retry of one already stored)."""
    try:
        crypto = _crypto()
        xml_text = crypto.decrypt_message(body, msg_signature, timestamp, nonce)
        data = parse_event(xml_text)
    except CallbackError as exc:
        log.warning("wecom callback refused: %s", exc)
        _record_refusal(str(exc))
        raise Refused(str(exc)) from exc
    except Refused as exc:
        log.warning("wecom callback refused: %s", exc)
        _record_refusal(str(exc))
        raise
    key = events.callback_key(data)
    try:
        with transaction.atomic():
            row = Callback.objects.create(
                key=key,
                event=str(data.get("Event") or data.get("MsgType") or "")[:64],
                change_type=str(data.get("ChangeType") or "")[:64],
                data=data,
            )
    except IntegrityError:
        return None
    from custos.wecom import tasks

    transaction.on_commit(lambda: tasks.handle_callback(row.pk))
    return row


def handle_callback(callback_id: int) -> Callback | None:
    """The worker's half: the stored callback becomes entries (events.handle)."""
    from custos.wecom.client import NotConfigured, WeComClient

    row = Callback.objects.filter(pk=callback_id).first()
    if row is None:
        return None
    try:
        client = WeComClient()
    except NotConfigured:
        client = None
    return events.handle(row, client)


def retry_waiting() -> int:
    """Callbacks that waited for a member or failed on WeCom: try them again (after a sync, hourly)."""
    ids = list(
        Callback.objects.filter(status__in=[Callback.Status.WAITING_MEMBER, Callback.Status.FAILED, Callback.Status.RECEIVED], attempts__lt=20)
        .order_by("id")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        handle_callback(pk)
    return len(ids)


def prune_callbacks(now=None) -> int:
    """Handled callbacks older than KEEP_CALLBACKS go: what they said is in the ledger already."""
    done = (Callback.Status.DONE, Callback.Status.IGNORED, Callback.Status.REFUSED)
    old = Callback.objects.filter(status__in=done, received_at__lt=(now or timezone.now()) - KEEP_CALLBACKS)
    return old.delete()[0]
