"""The company's half of the chat archive's decryption: encrypt_random_key → the key DecryptData takes.

WeCom encrypts each record's random key with the public key the company uploaded (RSA 2048, PKCS#1 v1.5;
each upload gets a new publickey_ver), and the company opens it with the matching private key: base64
decode, RSA decrypt, and the resulting text goes to the SDK's DecryptData with encrypt_chat_msg (FAQ
常见问题解答, developer.work.weixin.qq.com/document/path/91552). Old records stay under the version that
was current when they were written, so a rotation needs every older private key kept.

Pure Python, no Django; the keys' storage (encrypted at rest) is the services' business.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# The key is handed to the SDK as a C string: text, no NUL. Anything shorter than this cannot be a
# symmetric key of any strength, and the check matters because of implicit rejection (below).
MIN_KEY_LENGTH = 16

PrivateKeyLike = rsa.RSAPrivateKey | bytes | str

WRONG_KEY = "encrypt_random_key does not open to a key: wrong private key for this publickey_ver"


class RandomKeyError(ValueError):
    """encrypt_random_key cannot be opened with this private key (wrong key for the version, or damaged)."""


class UnknownKeyVersion(LookupError):
    """No private key is known for this publickey_ver: the record must be kept aside until it is added."""

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"no private key for publickey_ver {version}")


def load_private_key(pem: bytes | str, password: bytes | None = None) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM, PKCS#1 (BEGIN RSA PRIVATE KEY, what WeCom's guide generates) or PKCS#8."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as e:
        raise ValueError(f"not a usable PEM private key: {e}") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"the chat archive needs an RSA private key, not {type(key).__name__}")
    return key


def _as_key(key: PrivateKeyLike) -> rsa.RSAPrivateKey:
    return key if isinstance(key, rsa.RSAPrivateKey) else load_private_key(key)


def decrypt_random_key(private_key: PrivateKeyLike, encrypt_random_key: str) -> str:
    """The plain random key of a record (what FinanceSdk.decrypt takes)."""
    key = _as_key(private_key)
    try:
        ciphertext = base64.b64decode(encrypt_random_key, validate=True)
    except (binascii.Error, ValueError) as e:
        raise RandomKeyError(f"encrypt_random_key is not base64: {e}") from e
    if len(ciphertext) != key.key_size // 8:
        # Also how a record of another version usually shows itself when the key sizes differ.
        raise RandomKeyError(
            f"encrypt_random_key has {len(ciphertext)} bytes, a {key.key_size}-bit key opens {key.key_size // 8}"
        )
    try:
        plain = key.decrypt(ciphertext, padding.PKCS1v15())
    except ValueError:
        raise RandomKeyError(WRONG_KEY) from None
    # OpenSSL 3.2+ decrypts PKCS#1 v1.5 with implicit rejection: a wrong private key mostly does not
    # fail, it returns pseudo-random bytes of a pseudo-random length. Those are told apart from a real
    # key by their form; handed on, they would only make DecryptData fail later with 10006.
    try:
        text = plain.decode("ascii")
    except UnicodeDecodeError:
        raise RandomKeyError(WRONG_KEY) from None
    if len(text) < MIN_KEY_LENGTH or not text.isprintable():
        raise RandomKeyError(WRONG_KEY)
    return text


class RandomKeyDecryptor:
    """The company's private keys by publickey_ver; PEM parsed once (a 2048-bit parse costs milliseconds)."""

    def __init__(self, keys: Mapping[int, PrivateKeyLike] | None = None) -> None:
        self._keys: dict[int, rsa.RSAPrivateKey] = {}
        for version, key in (keys or {}).items():
            self.add(version, key)

    def add(self, version: int, key: PrivateKeyLike) -> None:
        self._keys[int(version)] = _as_key(key)

    @property
    def versions(self) -> frozenset[int]:
        return frozenset(self._keys)

    def __contains__(self, version: object) -> bool:
        return version in self._keys

    def decrypt(self, publickey_ver: int, encrypt_random_key: str) -> str:
        """The plain random key; UnknownKeyVersion when the version's key is missing (keep the record
        aside), RandomKeyError when the key on file does not open it."""
        key = self._keys.get(int(publickey_ver))
        if key is None:
            raise UnknownKeyVersion(int(publickey_ver))
        return decrypt_random_key(key, encrypt_random_key)


# --- opening many random keys in other processes ---------------------------------------------
# RSA is most of a record's cost and `cryptography` holds the GIL while it runs, so threads do
# not spread it over cores; a pull of thousands of records opens its keys in worker processes
# (spawned: nothing of the parent's database connections or threads goes with them).

_worker: RandomKeyDecryptor | None = None


def init_worker(pems: Mapping[int, bytes]) -> None:
    global _worker
    _worker = RandomKeyDecryptor({v: load_private_key(p) for v, p in pems.items()})


def open_keys(items: list[tuple[int, str]]) -> list[tuple[str, object]]:
    """[(publickey_ver, encrypt_random_key)] → [("ok", key) | ("unknown", version) | ("wrong", why)]."""
    out: list[tuple[str, object]] = []
    for version, encrypted in items:
        try:
            out.append(("ok", _worker.decrypt(version, encrypted)))
        except UnknownKeyVersion:
            out.append(("unknown", int(version)))
        except RandomKeyError as exc:
            out.append(("wrong", str(exc)))
    return out


def rebuild(outcome: tuple[str, object]) -> str | Exception:
    """An open_keys outcome back as the key, or as the exception the same call here would raise."""
    kind, value = outcome
    if kind == "ok":
        return value
    if kind == "unknown":
        return UnknownKeyVersion(int(value))
    return RandomKeyError(str(value))
