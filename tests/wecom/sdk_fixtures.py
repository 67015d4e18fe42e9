"""The stand-in Finance SDK (standin_sdk/standin_sdk.c) for tests: built once per test session with gcc.

A test module (or a conftest) takes the fixtures by binding them to its own names, which pytest finds and
ruff does not mistake for unused imports:
    from tests.wecom import sdk_fixtures
    standin_library = sdk_fixtures.standin_library
    standin_env = sdk_fixtures.standin_env
The records go to write_records(); standin_encrypt() is the stand-in's DecryptData run backwards.
"""

from __future__ import annotations

import base64
import ctypes
import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCE = Path(__file__).parent / "standin_sdk" / "standin_sdk.c"
LIBRARY_NAME = "libWeWorkFinanceSdk_C.so"  # the vendor's file name, so paths look like a real install
ENV_VARS = (
    "STANDIN_SDK_DATA",
    "STANDIN_SDK_SECRET",
    "STANDIN_SDK_CHAT_ERRCODE",
    "STANDIN_SDK_CHAT_ERRMSG",
    "STANDIN_SDK_MEDIA_DIR",
    "STANDIN_SDK_MEDIA_CHUNK",
    "STANDIN_SDK_MEDIA_FAIL_AT",
)


def build_standin_library(dest_dir: Path, source: Path = SOURCE) -> Path:
    """Compile a C file into dest_dir/libWeWorkFinanceSdk_C.so; skipped without gcc, failed on CI."""
    gcc = shutil.which("gcc")
    if gcc is None:
        reason = "gcc is not installed: the stand-in WeCom Finance SDK cannot be built"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI=true: every CI machine must have it)")
        pytest.skip(reason)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / LIBRARY_NAME
    result = subprocess.run(
        [gcc, "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o", str(target), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(f"gcc could not build {source.name}:\n{result.stderr}")
    return target


def standin_encrypt(random_key: str, message: bytes | str) -> str:
    """encrypt_chat_msg as the stand-in's DecryptData opens it with `random_key` (see standin_sdk.c)."""
    body = message.encode() if isinstance(message, str) else message
    checksum = 2166136261
    for byte in body:
        checksum = ((checksum ^ byte) * 16777619) & 0xFFFFFFFF
    plain = b"WWSD" + checksum.to_bytes(4, "big") + body
    key = random_key.encode()
    out = bytes(b ^ key[i % len(key)] ^ ((i * 31 + 7) & 0xFF) for i, b in enumerate(plain))
    return base64.b64encode(out).decode()


@dataclass(frozen=True)
class Record:
    seq: int
    msgid: str
    publickey_ver: int
    encrypt_random_key: str
    encrypt_chat_msg: str

    def line(self) -> str:
        return "\t".join(
            (
                str(self.seq),
                self.msgid,
                str(self.publickey_ver),
                self.encrypt_random_key,
                self.encrypt_chat_msg,
            )
        )


def write_records(path: Path, records: Iterable[Record]) -> Path:
    path.write_text("".join(record.line() + "\n" for record in records))
    return path


class Standin:
    """The counters the stand-in exports beside the SDK's API, read through the same loaded library."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cdll = ctypes.CDLL(str(path))
        for name in ("StandinLiveSlices", "StandinLiveMediaData", "StandinLiveSdks"):
            getattr(self._cdll, name).restype = ctypes.c_long
            getattr(self._cdll, name).argtypes = []

    def live_slices(self) -> int:
        return self._cdll.StandinLiveSlices()

    def live_media(self) -> int:
        return self._cdll.StandinLiveMediaData()

    def live_sdks(self) -> int:
        return self._cdll.StandinLiveSdks()


@pytest.fixture(scope="session")
def standin_library(tmp_path_factory: pytest.TempPathFactory) -> Standin:
    return Standin(build_standin_library(tmp_path_factory.mktemp("standin_sdk")))


@pytest.fixture
def standin_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A clean stand-in configuration for the test (nothing inherited from the environment)."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STANDIN_SDK_MEDIA_DIR", str(tmp_path))
    yield monkeypatch
