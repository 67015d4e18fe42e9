"""WeCom's server API (qyapi): tokens, errcodes, retries. Every call the connector makes goes here.

- An access_token is fetched per secret and kept (sealed) in the database until shortly before it
  expires, so every web process and worker shares one token instead of each asking WeCom for one
  (WeCom limits gettoken calls).
- A token WeCom calls expired or invalid (40014, 42001) is refreshed once and the call repeated.
- A frequency limit (45009, 45033) or "system busy" (-1) backs off and tries again a few times.
- Anything else raises WeComError with the errcode and its meaning in Chinese (errcodes.py).
Secrets and tokens never reach a log line: URLs are logged without their query.
"""

import logging
import time
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from custos.core import crypto
from custos.core.errors import DomainError
from custos.wecom import errcodes, secrets
from custos.wecom.models import AccessToken, Connection

log = logging.getLogger(__name__)
TIMEOUT_S = 10
TOKEN_MARGIN = timedelta(minutes=5)  # a token is renewed this long before WeCom says it expires
RETRIES = 3


class WeComError(DomainError):
    code = "wecom_error"
    status = 502

    def __init__(self, errcode: int | None, errmsg: str = "", *, message: str | None = None):
        self.errcode, self.errmsg = errcode, errmsg
        super().__init__(message or errcodes.describe(errcode, errmsg))

    @property
    def retryable(self) -> bool:
        return self.errcode is None or self.errcode in errcodes.RETRYABLE


class NotConfigured(DomainError):
    code = "wecom_not_configured"
    status = 409


def backoff_base() -> float:
    return float(getattr(settings, "CUSTOS_WECOM_BACKOFF_S", 1.0))


def secret_for(path: str) -> str:
    """Which secret a path needs: customer contact APIs the contact secret, the directory the
    directory secret, app messages the app's; each falls back to the app secret when unset."""
    if path.startswith("/cgi-bin/externalcontact/"):
        return "contact"
    if path.startswith(("/cgi-bin/department/", "/cgi-bin/user/")):
        return "directory"
    return "app"


class WeComClient:
    def __init__(self, connection: Connection | None = None, *, session: requests.Session | None = None):
        self.connection = connection or Connection.objects.filter(pk=1).first()
        if self.connection is None or not self.connection.corp_id:
            raise NotConfigured("企业微信尚未配置：请先在“企业微信”页填写企业ID和 Secret。")
        self.base = self.connection.api_base.rstrip("/")
        self.session = session or requests.Session()

    # --- secrets and tokens ----------------------------------------------------------------

    def _secret(self, kind: str) -> tuple[str, str]:
        """(the kind actually used, its secret): a missing contact or directory secret falls back to the app's."""
        for candidate in (kind, "app"):
            value = secrets.open_field(self.connection, secrets.KINDS[candidate])
            if value:
                return candidate, value
        raise NotConfigured(f"企业微信的 {kind} Secret 尚未填写。")

    def token(self, kind: str, *, fresh: bool = False) -> str:
        used, secret = self._secret(kind)
        now = timezone.now()
        if not fresh:
            row = AccessToken.objects.filter(secret_kind=used, expires_at__gt=now + TOKEN_MARGIN).first()
            if row is not None:
                return crypto.decrypt(row.token_encrypted, aad=secrets.token_aad(used))
        data = self._request(
            "GET", "/cgi-bin/gettoken", params={"corpid": self.connection.corp_id, "corpsecret": secret}
        )
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeComError(None, message="企业微信没有返回 access_token。")
        expires = now + timedelta(seconds=int(data.get("expires_in") or 7200))
        with transaction.atomic():
            AccessToken.objects.update_or_create(
                secret_kind=used,
                defaults={"token_encrypted": crypto.encrypt(token, aad=secrets.token_aad(used)), "expires_at": expires},
            )
        return token

    # --- calls -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, params=None, body=None) -> dict:
        url = self.base + path
        try:
            response = self.session.request(method, url, params=params, json=body, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            log.warning("wecom %s %s unreachable: %s", method, path, type(exc).__name__)
            raise WeComError(None, message=f"无法连接企业微信接口地址 {self.base}（{type(exc).__name__}）。") from exc
        if response.status_code >= 500:
            raise WeComError(-1, f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise WeComError(None, message=f"企业微信接口 {path} 返回的不是 JSON（HTTP {response.status_code}）。") from exc
        if not isinstance(data, dict):
            raise WeComError(None, message=f"企业微信接口 {path} 的返回格式不对。")
        errcode = int(data.get("errcode") or 0)
        if errcode:
            log.info("wecom %s %s errcode %s", method, path, errcode)
            raise WeComError(errcode, str(data.get("errmsg") or ""))
        return data

    def call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None) -> dict:
        kind = secret_for(path)
        refreshed = False
        for attempt in range(RETRIES + 1):
            query = {**(params or {}), "access_token": self.token(kind, fresh=refreshed)}
            try:
                return self._request(method, path, params=query, body=body)
            except WeComError as exc:
                if exc.errcode in errcodes.TOKEN_EXPIRED and not refreshed:
                    refreshed = True
                    continue
                if (exc.errcode in errcodes.FREQUENCY or exc.errcode == -1) and attempt < RETRIES:
                    time.sleep(backoff_base() * (2**attempt))
                    continue
                raise
        raise WeComError(45009, "retries exhausted")  # pragma: no cover - the loop returns or raises

    def get(self, path: str, **params) -> dict:
        return self.call("GET", path, params=params)

    def post(self, path: str, body: dict) -> dict:
        return self.call("POST", path, body=body)
