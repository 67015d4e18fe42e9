"""WeCom callback message encryption (企业微信回调加解密, the scheme of WeCom's WXBizMsgCrypt).

WeCom signs and encrypts every callback it sends (the URL check GET, event POSTs) and expects
passive replies encrypted the same way:

- key = base64-decode(EncodingAESKey + "="), 32 bytes; AES-256-CBC with IV = key[:16];
  PKCS#7 padding to 32-byte blocks (not AES's 16: WeCom's SDKs all pad to 32);
- plaintext = 16 random bytes | 4-byte big-endian length | message | receiveid (the CorpID, or
  the suite id for a third-party app), so a message made for another corp does not decrypt here;
- msg_signature = SHA-1 of [token, timestamp, nonce, ciphertext] sorted and joined.

Errors carry WeCom's own SDK codes (-40001..-40011) so they read the same as in WeCom's docs, plus
one code of ours for the timestamp window, which WeCom's SDK does not check.

The XML parser is expat driven by hand: a DOCTYPE or entity declaration is refused before expat
acts on it (no entity expansion, no external fetch), which is what defusedxml would give us
without adding a dependency.
"""

import base64
import hashlib
import hmac
import re
import secrets
import struct
import time
from enum import IntEnum
from typing import TypeAlias
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class ErrorCode(IntEnum):
    VALIDATE_SIGNATURE = -40001
    PARSE_XML = -40002
    COMPUTE_SIGNATURE = -40003
    ILLEGAL_AES_KEY = -40004
    VALIDATE_RECEIVE_ID = -40005
    ENCRYPT_AES = -40006
    DECRYPT_AES = -40007
    ILLEGAL_BUFFER = -40008
    ENCODE_BASE64 = -40009
    DECODE_BASE64 = -40010
    GEN_RETURN_XML = -40011
    # Ours, outside WeCom's range: its SDK leaves replay protection to the caller.
    TIMESTAMP_OUT_OF_WINDOW = -40100


class CallbackError(ValueError):
    """A callback that must be refused (or a reply that cannot be built): `code` and a Chinese message."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(f"{int(code)} {message}")
        self.code = code
        self.message = message


EventValue: TypeAlias = "str | dict[str, EventValue] | list[EventValue]"

_BLOCK = 32
_RANDOM_LEN = 16
_HEADER_LEN = _RANDOM_LEN + 4
_KEY_RE = re.compile(r"[A-Za-z0-9+/]{43}")
# The reply embeds the nonce in CDATA and the timestamp bare: keep both to characters that
# cannot close a section or open a tag.
_NONCE_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")
# WeCom's events nest a few levels; the cap keeps parse_event's recursion far from RecursionError.
_MAX_XML_DEPTH = 32


def _decode_aes_key(encoding_aes_key: str) -> bytes:
    if not isinstance(encoding_aes_key, str) or not _KEY_RE.fullmatch(encoding_aes_key):
        raise CallbackError(ErrorCode.ILLEGAL_AES_KEY, "EncodingAESKey 非法：应为 43 个 Base64 字符")
    key = base64.b64decode(encoding_aes_key + "=", validate=True)
    if len(key) != 32:  # cannot happen for 43 valid characters; kept as the spec's own check
        raise CallbackError(ErrorCode.ILLEGAL_AES_KEY, "EncodingAESKey 非法：解码后不是 32 字节")
    return key


def _pad(data: bytes) -> bytes:
    n = _BLOCK - len(data) % _BLOCK
    return data + bytes([n]) * n


def _unpad(data: bytes) -> bytes:
    n = data[-1]
    if not 1 <= n <= _BLOCK or data[-n:] != bytes([n]) * n:
        raise CallbackError(ErrorCode.ILLEGAL_BUFFER, "非法缓冲区：PKCS#7 填充不合法")
    return data[:-n]


class _Refused(Exception):
    """Raised from inside an expat handler: stops the parse before expat acts on the construct."""


def _refuse_dtd(*_args: object) -> None:
    raise _Refused("含 DOCTYPE 或实体声明，已拒绝")


def _parse_xml(data: str | bytes) -> Element:
    """Parse without DTDs: a DOCTYPE or entity declaration is an error, never expanded."""
    if not isinstance(data, str | bytes):
        raise CallbackError(ErrorCode.PARSE_XML, "XML 解析失败：内容不是文本")
    builder = TreeBuilder()
    depth = 0

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        if depth > _MAX_XML_DEPTH:
            raise _Refused("嵌套过深")
        builder.start(tag, attrs)

    def end(tag: str) -> None:
        nonlocal depth
        depth -= 1
        builder.end(tag)

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise CallbackError(ErrorCode.PARSE_XML, f"XML 解析失败：{exc}") from None
    except (expat.ExpatError, LookupError, ValueError) as exc:  # LookupError: unknown encoding=
        raise CallbackError(ErrorCode.PARSE_XML, f"XML 解析失败：{exc}") from None
    root = builder.close()
    if root.tag != "xml":
        raise CallbackError(ErrorCode.PARSE_XML, "XML 解析失败：根元素不是 <xml>")
    return root


def _value(element: Element) -> EventValue:
    if len(element) == 0:
        return element.text or ""
    groups: dict[str, list[EventValue]] = {}
    for child in element:
        groups.setdefault(child.tag, []).append(_value(child))
    return {tag: values[0] if len(values) == 1 else values for tag, values in groups.items()}


def parse_event(xml_text: str | bytes) -> dict[str, EventValue]:
    """The decrypted message/event XML as {tag: text}.

    An element with children (BatchJob, MemChangeList...) becomes a nested dict by the same
    rule; a tag that repeats becomes a list, one that appears once stays a scalar, so a caller
    reading e.g. MemChangeList/Item must accept both. Attributes are ignored (WeCom sends none).
    """
    value = _value(_parse_xml(xml_text))
    return value if isinstance(value, dict) else {}


def _check_fresh(timestamp: str | None, now: float | None, max_age_s: int) -> None:
    if not timestamp or not _TIMESTAMP_RE.fullmatch(timestamp):
        raise CallbackError(ErrorCode.TIMESTAMP_OUT_OF_WINDOW, "时间戳格式不合法")
    age = (time.time() if now is None else now) - int(timestamp)
    # Symmetric window: a replay is old, but a sender clock set ahead (or a forged date meant to
    # stay "fresh" for long) shows up as a future timestamp.
    if age > max_age_s:
        raise CallbackError(
            ErrorCode.TIMESTAMP_OUT_OF_WINDOW, f"时间戳已过期（超过 {max_age_s} 秒），疑似重放"
        )
    if age < -max_age_s:
        raise CallbackError(ErrorCode.TIMESTAMP_OUT_OF_WINDOW, f"时间戳超前当前时间 {max_age_s} 秒以上")


class CallbackCrypto:
    """One callback configuration: the app's Token, EncodingAESKey and the expected receiveid."""

    parse_event = staticmethod(parse_event)

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not token:
            # With an empty token the signature is computable by anyone from public values.
            raise CallbackError(ErrorCode.COMPUTE_SIGNATURE, "Token 为空，无法计算签名")
        self._token = token
        self._key = _decode_aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode("utf-8")

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        # str order is code-point order, which is the UTF-8 byte order WeCom's SDKs sort by.
        joined = "".join(sorted([self._token, timestamp, nonce, encrypted]))
        try:
            data = joined.encode("utf-8")
        except UnicodeEncodeError:
            raise CallbackError(ErrorCode.COMPUTE_SIGNATURE, "签名计算失败：参数含非法字符") from None
        return hashlib.sha1(data).hexdigest()  # noqa: S324 -- SHA-1 is fixed by WeCom's protocol

    def _check_signature(
        self, msg_signature: str | None, timestamp: str | None, nonce: str | None, encrypted: str
    ) -> None:
        if not (msg_signature and timestamp and nonce):
            raise CallbackError(
                ErrorCode.VALIDATE_SIGNATURE, "签名校验失败：缺少 msg_signature、timestamp 或 nonce"
            )
        expected = self.signature(timestamp, nonce, encrypted).encode("ascii")
        if not hmac.compare_digest(expected, msg_signature.encode("utf-8", "replace")):
            raise CallbackError(ErrorCode.VALIDATE_SIGNATURE, "签名校验失败：msg_signature 不匹配")

    def encrypt(self, message: str) -> str:
        """The base64 ciphertext of `message` (an Encrypt value, or an echostr for a stub server)."""
        return self._encrypt_with(secrets.token_bytes(_RANDOM_LEN), message)

    def _encrypt_with(self, random16: bytes, message: str) -> str:
        try:
            data = message.encode("utf-8")
            plain = random16 + struct.pack(">I", len(data)) + data + self._receive_id
        except (UnicodeEncodeError, struct.error):
            raise CallbackError(ErrorCode.ENCRYPT_AES, "AES 加密失败：消息不是合法文本或过长") from None
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode("ascii")

    def _decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text
            raise CallbackError(ErrorCode.DECODE_BASE64, "Base64 解码失败") from None
        if not raw or len(raw) % _BLOCK:
            raise CallbackError(
                ErrorCode.DECRYPT_AES, f"AES 解密失败：密文长度 {len(raw)} 不是 {_BLOCK} 的整数倍"
            )
        decryptor = self._cipher().decryptor()
        # The signature was checked first, so the distinct errors below are no padding oracle:
        # an attacker without the token never gets this far.
        body = _unpad(decryptor.update(raw) + decryptor.finalize())
        if len(body) < _HEADER_LEN:
            raise CallbackError(ErrorCode.ILLEGAL_BUFFER, "非法缓冲区：明文短于 20 字节的头部")
        (length,) = struct.unpack(">I", body[_RANDOM_LEN:_HEADER_LEN])
        if _HEADER_LEN + length > len(body):
            raise CallbackError(ErrorCode.ILLEGAL_BUFFER, "非法缓冲区：消息长度字段超出明文末尾")
        message, receive_id = body[_HEADER_LEN : _HEADER_LEN + length], body[_HEADER_LEN + length :]
        if receive_id != self._receive_id:
            raise CallbackError(
                ErrorCode.VALIDATE_RECEIVE_ID, "receiveid 校验失败：消息不是发给本企业/应用的"
            )
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError:
            raise CallbackError(ErrorCode.ILLEGAL_BUFFER, "非法缓冲区：消息不是合法的 UTF-8") from None

    def verify_url(
        self, msg_signature: str | None, timestamp: str | None, nonce: str | None, echostr: str | None
    ) -> str:
        """The plaintext echostr to answer WeCom's URL check with (parameters already URL-decoded).

        No timestamp window here: a replayed check only gets back the echostr its capture showed.
        """
        if not echostr:
            raise CallbackError(ErrorCode.VALIDATE_SIGNATURE, "签名校验失败：缺少 echostr")
        self._check_signature(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt_message(
        self,
        post_body: bytes | str,
        msg_signature: str | None,
        timestamp: str | None,
        nonce: str | None,
        *,
        now: float | None = None,
        max_age_s: int = 300,
    ) -> str:
        """The inner plaintext XML of a callback POST, after signature, freshness and receiveid checks."""
        root = _parse_xml(post_body)
        found = root.findall("Encrypt")
        # Exactly one: with two, which one was signed and which one is read could differ.
        encrypted = (found[0].text or "").strip() if len(found) == 1 and len(found[0]) == 0 else ""
        if not encrypted:
            raise CallbackError(ErrorCode.PARSE_XML, "XML 解析失败：应有且只有一个非空的 <Encrypt>")
        self._check_signature(msg_signature, timestamp, nonce, encrypted)
        _check_fresh(timestamp, now, max_age_s)
        return self._decrypt(encrypted)

    def encrypt_message(self, reply_xml: str, nonce: str, timestamp: str | int | None = None) -> str:
        """The encrypted, signed reply XML (a passive reply, or the body a stub WeCom posts)."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        if not isinstance(nonce, str) or not _NONCE_RE.fullmatch(nonce) or not _TIMESTAMP_RE.fullmatch(ts):
            raise CallbackError(ErrorCode.GEN_RETURN_XML, "生成回包 XML 失败：nonce 或 timestamp 含非法字符")
        encrypted = self.encrypt(reply_xml)
        signature = self.signature(ts, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{ts}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
