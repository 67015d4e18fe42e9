"""What the chat-archive tests share: RSA keys, records the stand-in SDK serves, a configured company.

Records are built as WeCom builds them: a random key per record, RSA-encrypted (PKCS#1 v1.5) with the
public key of its publickey_ver, and the message encrypted with that random key in the stand-in's
DecryptData scheme (sdk_fixtures.standin_encrypt).
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from custos.wecom import archive_keys
from custos.wecom.models import Connection, MemberLink
from tests.wecom import sdk_fixtures

START = datetime.now(UTC) - timedelta(days=2)


def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


_KEYS: dict[int, rsa.RSAPrivateKey] = {}


def rsa_key(version: int) -> rsa.RSAPrivateKey:
    """One 2048-bit key per version for the whole session (generating one takes a while)."""
    if version not in _KEYS:
        _KEYS[version] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return _KEYS[version]


def ms(minutes: float) -> int:
    return int((START + timedelta(minutes=minutes)).timestamp() * 1000)


def message(msgid: str, msgtype: str = "text", *, sender="sales_a", to=("wmCustomer1",), roomid="", minute=0.0, **content):
    body = {"msgid": msgid, "action": "send", "from": sender, "tolist": list(to), "roomid": roomid,
            "msgtime": ms(minute), "msgtype": msgtype}  # fmt: skip
    body.update(content or {"text": {"content": f"消息 {msgid}"}})
    return body


def record(seq: int, body: dict, version: int = 1) -> sdk_fixtures.Record:
    random_key = secrets.token_urlsafe(24)
    public = rsa_key(version).public_key()
    encrypted_key = base64.b64encode(public.encrypt(random_key.encode(), padding.PKCS1v15())).decode()
    chat = sdk_fixtures.standin_encrypt(random_key, json.dumps(body, ensure_ascii=False))
    return sdk_fixtures.Record(seq, body["msgid"], version, encrypted_key, chat)


class Archive:
    def __init__(self, company, library: Path, env: pytest.MonkeyPatch, tmp_path: Path):
        self.company, self.library, self.env, self.dir = company, library, env, tmp_path
        self.media_dir = tmp_path  # standin_env points STANDIN_SDK_MEDIA_DIR here

    def serve(self, records) -> None:
        """What GetChatData answers from the next SDK instance on."""
        path = sdk_fixtures.write_records(self.dir / "records.tsv", records)
        self.env.setenv("STANDIN_SDK_DATA", str(path))

    def media(self, sdkfileid: str, data: bytes) -> None:
        (self.media_dir / sdkfileid).write_bytes(data)

    def add_key(self, version: int):
        return archive_keys.add_key(actor=None, version=version, pem=pem(rsa_key(version)))


@pytest.fixture
def archive(company, standin_library, standin_env, tmp_path, settings):
    """A company whose chat archive is set up on the stand-in SDK: members linked, key 1 on file."""
    settings.CUSTOS_WECOM_MEDIA_RETRY_S = 0
    Connection.objects.update_or_create(pk=1, defaults={"corp_id": "wwcustostest"})
    for employee in (company.sales_a, company.sales_a_peer, company.service_a, company.sales_b, company.manager_a):
        MemberLink.objects.create(userid=employee.user.username, employee=employee, name=employee.name)
    standin_env.setenv("STANDIN_SDK_SECRET", "archive-secret")
    archive_keys.configure(actor=None, secret="archive-secret", sdk_path=str(standin_library.path), enabled=True)
    helper = Archive(company, standin_library.path, standin_env, tmp_path)
    helper.add_key(1)
    return helper
