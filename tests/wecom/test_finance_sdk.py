"""The Finance SDK adapter (custos.wecom.finance_sdk) against the stand-in library built from C, and the
company's RSA step (custos.wecom.finance_crypto)."""

import base64
import ctypes
import gc
import json
import os
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from custos.wecom import finance_sdk
from custos.wecom.finance_crypto import (
    RandomKeyDecryptor,
    RandomKeyError,
    UnknownKeyVersion,
    decrypt_random_key,
    load_private_key,
)
from custos.wecom.finance_sdk import (
    FinanceApiError,
    FinanceError,
    FinanceLibraryError,
    FinanceProtocolError,
    FinanceSdk,
    FinanceSdkError,
    load_library,
    parse_chat_data,
)
from tests.wecom import sdk_fixtures
from tests.wecom.sdk_fixtures import Record, build_standin_library, standin_encrypt, write_records

# The stand-in library's fixtures, used here by name.
standin_library = sdk_fixtures.standin_library
standin_env = sdk_fixtures.standin_env

CORP_ID = "wwd08c8e7c775ab44d"
SECRET = "zJ6k0naVVQ--archive-secret"


@pytest.fixture(autouse=True)
def no_leaks(standin_library):
    """Every test ends with each NewSlice/NewMediaData/NewSdk of the stand-in freed."""
    yield
    gc.collect()  # FinanceSdk objects dropped without close() are destroyed by their finalizer
    live = (standin_library.live_slices(), standin_library.live_media(), standin_library.live_sdks())
    assert live == (0, 0, 0), "slices, media data, sdk instances not freed"


@pytest.fixture(scope="session")
def rsa_keys():
    """Two versions of the company's key pair (2048 bits, as WeCom asks)."""
    return {version: rsa.generate_private_key(public_exponent=65537, key_size=2048) for version in (1, 2)}


def pem(key: rsa.RSAPrivateKey, fmt=serialization.PrivateFormat.TraditionalOpenSSL, password=None) -> bytes:
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption)


def wecom_encrypt_key(key: rsa.RSAPrivateKey, random_key: str) -> str:
    """encrypt_random_key as WeCom writes it: RSA PKCS#1 v1.5 with the public key, base64."""
    return base64.b64encode(key.public_key().encrypt(random_key.encode(), padding.PKCS1v15())).decode()


def message(seq: int, text: str = "您好，请问大衣还有货吗？") -> dict:
    return {
        "msgid": f"msg{seq}_external",
        "action": "send",
        "from": "wmCustomer01",
        "tolist": ["zhangsan"],
        "roomid": "",
        "msgtime": 1_700_000_000_000 + seq,
        "msgtype": "text",
        "text": {"content": text},
    }


def sealed_record(seq: int, body: bytes | str, *, key: rsa.RSAPrivateKey, version: int) -> tuple[Record, str]:
    random_key = secrets.token_hex(16)
    record = Record(
        seq, f"msg{seq}", version, wecom_encrypt_key(key, random_key), standin_encrypt(random_key, body)
    )
    return record, random_key


def filler_records(seqs) -> list[Record]:
    """Records for paging: well-formed but not meant to be decrypted."""
    return [Record(seq, f"msg{seq}", 1, f"key{seq}", standin_encrypt("k" * 32, f"m{seq}")) for seq in seqs]


@pytest.fixture
def sdk_path(standin_library):
    return standin_library.path


@pytest.fixture
def records_file(tmp_path, standin_env):
    def write(records) -> Path:
        path = write_records(tmp_path / "records.txt", records)
        standin_env.setenv("STANDIN_SDK_DATA", str(path))
        return path

    return write


# -- paging ------------------------------------------------------------------------------------------


def test_2500_records_come_in_pages_of_1000_after_each_cursor(sdk_path, records_file):
    seqs = [10 * i + 3 for i in range(2500)]  # seqs with gaps: the cursor is a seq, not a position
    records_file(reversed(filler_records(seqs)))  # the file's order does not matter

    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        pages = list(sdk.iter_chat_pages(0))
        assert [len(page) for page in pages] == [1000, 1000, 500]
        assert [r["seq"] for page in pages for r in page] == seqs
        first = pages[0][0]
        assert first == {
            "seq": 3,
            "msgid": "msg3",
            "publickey_ver": 1,
            "encrypt_random_key": "key3",
            "encrypt_chat_msg": first["encrypt_chat_msg"],
        }
        # Resuming from a stored cursor: only what comes after it.
        assert [r["seq"] for r in sdk.get_chat_data(seqs[999])][:2] == [seqs[1000], seqs[1001]]
        assert len(sdk.get_chat_data(seqs[999])) == 1000
        assert len(sdk.get_chat_data(seqs[2000])) == 499


def test_records_after_a_cursor(sdk_path, records_file):
    records_file(filler_records([5, 6, 9, 20, 21]))
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        assert [r["seq"] for r in sdk.get_chat_data(0, limit=2)] == [5, 6]
        assert [r["seq"] for r in sdk.get_chat_data(6)] == [9, 20, 21]
        assert [r["seq"] for r in sdk.get_chat_data(7, limit=1)] == [9]  # a cursor between two seqs
        assert sdk.get_chat_data(21) == []
        assert list(sdk.iter_chat_pages(21)) == []
        assert [len(p) for p in sdk.iter_chat_pages(0, limit=2)] == [2, 2, 1]


def test_no_records_at_all(sdk_path, standin_env):
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        assert sdk.get_chat_data(0) == []
        assert json.loads(sdk.get_chat_data_raw(0)) == {"errcode": 0, "errmsg": "ok", "chatdata": []}


def test_limit_errors(sdk_path, records_file):
    records_file(filler_records(range(1, 1200)))
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        assert len(sdk.get_chat_data(0, limit=1000)) == 1000
        for limit in (1001, 0, 2**32 - 1):
            with pytest.raises(FinanceSdkError) as caught:
                sdk.get_chat_data(0, limit=limit)
            assert (caught.value.code, caught.value.call) == (10000, "GetChatData")
            assert caught.value.message == "参数错误，请求参数错误"
            assert "limit" in caught.value.hint
            assert not caught.value.retryable
        # Numbers ctypes would wrap silently into another limit or cursor are refused before the call.
        for kwargs in ({"limit": -1}, {"limit": 2**32}, {"seq": -1}, {"seq": 2**64}, {"timeout": 0}):
            with pytest.raises(ValueError):
                sdk.get_chat_data(kwargs.pop("seq", 0), **kwargs)
        assert len(sdk.get_chat_data(2**64 - 1)) == 0  # the largest cursor is still a cursor


def test_wrong_secret_fails_at_init(sdk_path, standin_env, standin_library):
    standin_env.setenv("STANDIN_SDK_SECRET", SECRET)
    with pytest.raises(FinanceSdkError) as caught:
        FinanceSdk(sdk_path, CORP_ID, "not-the-secret").open()
    assert (caught.value.code, caught.value.call) == (10000, "Init")
    assert "secret" in caught.value.hint
    assert standin_library.live_sdks() == 0  # the failed instance was destroyed
    with pytest.raises(FinanceSdkError, match="10000"):
        FinanceSdk(sdk_path, "", SECRET).open()
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        assert sdk.is_open
        assert SECRET not in repr(sdk)


def test_an_error_in_wecoms_answer_is_not_an_empty_page(sdk_path, records_file, standin_env):
    records_file(filler_records([1, 2]))
    standin_env.setenv("STANDIN_SDK_CHAT_ERRCODE", "301053")
    standin_env.setenv("STANDIN_SDK_CHAT_ERRMSG", "corp is not open msgaudit")
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk, pytest.raises(FinanceApiError) as caught:
        sdk.get_chat_data(0)
    assert isinstance(caught.value, FinanceSdkError)
    assert caught.value.code == 301053
    assert caught.value.message == "企业未开启会话内容存档（corp is not open msgaudit）"
    assert not caught.value.retryable


def test_a_proxy_is_handed_to_the_sdk(sdk_path, records_file):
    records_file(filler_records([1]))
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        assert len(sdk.get_chat_data(0, proxy="socks5://10.0.0.1:8081", passwd="user:pw")) == 1
        with pytest.raises(FinanceSdkError) as caught:
            sdk.get_chat_data(0, proxy="ftp://10.0.0.1")
    assert caught.value.code == 10001
    assert caught.value.retryable


# -- decryption --------------------------------------------------------------------------------------


def test_decrypt_with_the_right_key(sdk_path, records_file, rsa_keys):
    original = message(1, "您好\n这件大衣还有 M 码吗？")
    record, _ = sealed_record(1, json.dumps(original, ensure_ascii=False), key=rsa_keys[1], version=1)
    # Real messages can carry raw control characters inside their strings (strict JSON refuses them).
    raw_body = '{"msgid":"m2","msgtype":"text","text":{"content":"第一行\n第二行\t完"}}'
    record2, _ = sealed_record(2, raw_body, key=rsa_keys[1], version=1)
    records_file([record, record2])

    keys = RandomKeyDecryptor({1: pem(rsa_keys[1]).decode()})
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        first, second = sdk.get_chat_data(0)
        plain_key = keys.decrypt(first["publickey_ver"], first["encrypt_random_key"])
        assert sdk.decrypt(plain_key, first["encrypt_chat_msg"]) == original
        assert (
            sdk.decrypt_raw(plain_key, first["encrypt_chat_msg"])
            == json.dumps(original, ensure_ascii=False).encode()
        )
        opened = sdk.decrypt(
            keys.decrypt(second["publickey_ver"], second["encrypt_random_key"]), second["encrypt_chat_msg"]
        )
    assert opened["text"]["content"] == "第一行\n第二行\t完"


def test_decrypt_with_a_wrong_key(sdk_path, records_file, rsa_keys):
    record, random_key = sealed_record(1, json.dumps(message(1)), key=rsa_keys[1], version=1)
    records_file([record])
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        (row,) = sdk.get_chat_data(0)
        with pytest.raises(FinanceSdkError) as caught:
            sdk.decrypt(secrets.token_hex(16), row["encrypt_chat_msg"])
        assert (caught.value.code, caught.value.call) == (10006, "DecryptData")
        assert caught.value.message == "解密失败"
        with pytest.raises(FinanceSdkError) as caught:
            sdk.decrypt("", row["encrypt_chat_msg"])
        assert caught.value.code == 10008
        with pytest.raises(FinanceSdkError, match="10006"):
            sdk.decrypt(random_key, "not base64!")
        assert sdk.decrypt(random_key, row["encrypt_chat_msg"])["msgid"] == "msg1_external"

    # The RSA step with the private key of another version: OpenSSL's implicit rejection mostly returns
    # pseudo-random bytes instead of failing, so the form of the result is what gives it away.
    for _ in range(20):
        with pytest.raises(RandomKeyError, match="wrong private key"):
            decrypt_random_key(rsa_keys[2], wecom_encrypt_key(rsa_keys[1], secrets.token_hex(16)))
    with pytest.raises(RandomKeyError, match="not base64"):
        decrypt_random_key(rsa_keys[1], "@@@")
    with pytest.raises(RandomKeyError, match="has 3 bytes"):
        decrypt_random_key(rsa_keys[1], base64.b64encode(b"abc").decode())


def test_decrypt_needs_no_init(sdk_path, standin_env, standin_library):
    sdk = FinanceSdk(sdk_path, CORP_ID, SECRET)
    assert sdk.decrypt("k" * 32, standin_encrypt("k" * 32, '{"msgtype":"text"}')) == {"msgtype": "text"}
    assert standin_library.live_sdks() == 0


def test_records_of_a_rotated_key(sdk_path, records_file, rsa_keys):
    """Records before a rotation stay under version 1; without that key they are set aside, not lost."""
    old, _ = sealed_record(1, json.dumps(message(1, "旧")), key=rsa_keys[1], version=1)
    new, _ = sealed_record(2, json.dumps(message(2, "新")), key=rsa_keys[2], version=2)
    records_file([old, new])
    keys = RandomKeyDecryptor({2: pem(rsa_keys[2], serialization.PrivateFormat.PKCS8)})
    opened, aside = {}, []
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        rows = sdk.get_chat_data(0)
        for row in rows:
            try:
                random_key = keys.decrypt(row["publickey_ver"], row["encrypt_random_key"])
            except UnknownKeyVersion as e:
                aside.append((e.version, row))
                continue
            opened[row["seq"]] = sdk.decrypt(random_key, row["encrypt_chat_msg"])["text"]["content"]
        assert opened == {2: "新"} and [version for version, _ in aside] == [1]

        # The old key is added later (from an encrypted PEM here): the records set aside open.
        keys.add(1, load_private_key(pem(rsa_keys[1], password=b"pw"), password=b"pw"))
        assert keys.versions == {1, 2} and 1 in keys
        _, row = aside[0]
        random_key = keys.decrypt(row["publickey_ver"], row["encrypt_random_key"])
        assert sdk.decrypt(random_key, row["encrypt_chat_msg"])["text"]["content"] == "旧"


def test_private_keys_are_rsa_pem(rsa_keys):
    with pytest.raises(ValueError, match="not a usable PEM"):
        load_private_key("-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(ValueError, match="not a usable PEM"):
        load_private_key(pem(rsa_keys[1], password=b"pw"))  # encrypted, no password given
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="RSA private key"):
        load_private_key(ec_pem)
    with pytest.raises(UnknownKeyVersion) as caught:
        RandomKeyDecryptor().decrypt(7, "x")
    assert caught.value.version == 7


# -- media -------------------------------------------------------------------------------------------


@pytest.fixture
def media(tmp_path, standin_env):
    """Media files in the stand-in's folder, 4 KiB chunks instead of 512."""
    standin_env.setenv("STANDIN_SDK_MEDIA_CHUNK", "4096")

    def put(name: str, data: bytes) -> bytes:
        (tmp_path / name).write_bytes(data)
        return data

    return put


def test_media_comes_in_chunks(sdk_path, media):
    data = media("sdkfileid-video", os.urandom(10 * 4096 + 123) + b"\0\0tail")  # binary, with NULs
    exact = media("sdkfileid-exact", os.urandom(3 * 4096))
    empty = media("sdkfileid-empty", b"")
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        chunks = list(sdk.iter_media_chunks("sdkfileid-video"))
        assert len(chunks) == 11
        assert b"".join(c.data for c in chunks) == data
        assert chunks[0].next_index == "Range:bytes=4096-8191"  # the real SDK's form
        assert [c.finished for c in chunks] == [False] * 10 + [True]
        assert chunks[-1].next_index == ""
        assert b"".join(sdk.iter_media("sdkfileid-exact")) == exact
        assert [len(c) for c in sdk.iter_media("sdkfileid-exact")] == [4096] * 3
        assert b"".join(sdk.iter_media("sdkfileid-empty")) == empty
        assert sdk.get_media_chunk("sdkfileid-empty") == finance_sdk.MediaChunk(b"", "", True)


def test_media_resumes_from_a_stored_index(sdk_path, media, standin_env):
    data = media("sdkfileid-file", os.urandom(9 * 4096 + 1))
    standin_env.setenv("STANDIN_SDK_MEDIA_FAIL_AT", "4")  # the 4th call of the instance: a network error
    stored, index = bytearray(), ""
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk, pytest.raises(FinanceSdkError) as caught:
        for chunk in sdk.iter_media_chunks("sdkfileid-file"):
            stored += chunk.data  # what a background job persists: the data, then the index after it
            index = chunk.next_index
    assert caught.value.code == 10001 and caught.value.retryable
    assert len(stored) == 3 * 4096 and index == "Range:bytes=12288-16383"

    standin_env.delenv("STANDIN_SDK_MEDIA_FAIL_AT")
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:  # another process, later: only the index is known
        for chunk in sdk.iter_media_chunks("sdkfileid-file", index):
            stored += chunk.data
    assert bytes(stored) == data


def test_media_errors(sdk_path, media):
    media("sdkfileid-ok", b"x" * 5000)
    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        for fileid, index, code in (
            ("sdkfileid-missing", "", 10005),
            ("../etc/passwd", "", 10005),
            ("", "", 10000),
            ("sdkfileid-ok", "bytes=7", 10000),
            ("sdkfileid-ok", "Range:bytes=999999-1000000", 10000),
        ):
            with pytest.raises(FinanceSdkError) as caught:
                sdk.get_media_chunk(fileid, index)
            assert (caught.value.code, caught.value.call) == (code, "GetMediaData"), fileid
        assert sdk.get_media_chunk("sdkfileid-ok", "Range:bytes=4096-8191") == (b"x" * 904, "", True)


# -- the library itself ------------------------------------------------------------------------------


def test_every_function_is_declared(sdk_path):
    library = load_library(sdk_path)
    assert load_library(os.path.relpath(sdk_path)) is library  # loaded once per file, however named
    for name, (argtypes, restype) in finance_sdk._SIGNATURES.items():
        function = getattr(library, name)
        assert function.argtypes == argtypes and function.restype is restype, name
    pointer_results = {
        "NewSdk",
        "NewSlice",
        "NewMediaData",
        "GetContentFromSlice",
        "GetOutIndexBuf",
        "GetData",
    }
    assert {n for n, (_, r) in finance_sdk._SIGNATURES.items() if r is ctypes.c_void_p} == pointer_results


def test_a_missing_or_foreign_library_is_a_clear_error(tmp_path):
    with pytest.raises(FinanceLibraryError, match="not found"):
        FinanceSdk(tmp_path / "nowhere" / "libWeWorkFinanceSdk_C.so", CORP_ID, SECRET)
    text = tmp_path / "text.so"
    text.write_text("not a library")
    with pytest.raises(FinanceLibraryError, match="cannot be loaded"):
        FinanceSdk(text, CORP_ID, SECRET)

    partial = tmp_path / "partial.c"
    partial.write_text(
        "void* NewSdk(void) { return 0; }\nint Init(void* s, const char* c, const char* k) { return 0; }\n"
    )
    built = build_standin_library(tmp_path / "partial", partial)
    with pytest.raises(FinanceLibraryError) as caught:
        load_library(built)
    assert "lacks GetChatData, DecryptData, GetMediaData, DestroySdk" in str(caught.value)
    assert "IsMediaDataFinish" in str(caught.value)


def test_an_sdk_is_used_only_while_open(sdk_path, standin_env, standin_library):
    sdk = FinanceSdk(sdk_path, CORP_ID, SECRET)
    with pytest.raises(FinanceError, match="not open"):
        sdk.get_chat_data(0)
    with sdk:
        assert standin_library.live_sdks() == 1
        assert sdk.open() is sdk and standin_library.live_sdks() == 1  # open twice: still one instance
    assert standin_library.live_sdks() == 0
    sdk.close()  # twice: nothing
    with pytest.raises(FinanceError, match="not open"):
        sdk.get_media_chunk("x")
    FinanceSdk(sdk_path, CORP_ID, SECRET).open()  # dropped without close(): no_leaks checks DestroySdk ran


def test_error_table():
    for code in range(10000, 10012):
        error = FinanceSdkError(code, call="GetChatData")
        assert not error.message.isascii(), code  # a Chinese message for each
        assert str(error).startswith(f"GetChatData: {code} ")
    assert {c for c in range(10000, 10012) if FinanceSdkError(c).retryable} == {10001, 10002, 10003, 10008}
    assert FinanceSdkError(12345).message == "未知错误（返回码 12345）"
    assert FinanceApiError(-1, "system busy").retryable


def test_parse_chat_data_edges():
    assert parse_chat_data(b'{"errcode":0,"errmsg":"ok","chatdata":null}') == []
    for raw in (b"<html>", b"[]", b'{"errcode":0,"chatdata":{}}', b'{"errcode":0,"chatdata":[{"seq":1}]}'):
        with pytest.raises(FinanceProtocolError):
            parse_chat_data(raw)
    with pytest.raises(FinanceApiError) as caught:
        parse_chat_data(b'{"errcode":48002,"errmsg":"api forbidden","chatdata":[]}')
    assert "会话内容存档的 Secret" in caught.value.message


# -- memory ------------------------------------------------------------------------------------------


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux's /proc/self/statm")
def test_20000_cycles_leak_nothing(sdk_path, records_file, media, standin_library, rsa_keys):
    body = json.dumps(message(1, "大" * 1500), ensure_ascii=False)  # ~4.5 KB: a leaked copy each cycle shows
    record, _ = sealed_record(1, body, key=rsa_keys[1], version=1)
    random_key = decrypt_random_key(rsa_keys[1], record.encrypt_random_key)
    records_file([record, *filler_records(range(2, 400))])
    media("sdkfileid-m", os.urandom(3 * 4096))

    def cycles(n: int) -> None:
        for i in range(n):
            page = sdk.get_chat_data(i % 390, limit=5)
            assert len(page) == 5
            assert sdk.decrypt(random_key, record.encrypt_chat_msg)["msgtype"] == "text"
            if i % 20 == 0:
                assert sum(len(c) for c in sdk.iter_media("sdkfileid-m")) == 3 * 4096
            if i % 50 == 0:
                with pytest.raises(FinanceSdkError):
                    sdk.get_chat_data(0, limit=1001)  # error paths free their slices too

    with FinanceSdk(sdk_path, CORP_ID, SECRET) as sdk:
        cycles(2000)  # warm-up: allocator arenas, interned strings, ctypes' caches
        gc.collect()
        before = rss_bytes()
        cycles(20_000)
        gc.collect()
        grown = rss_bytes() - before
        assert (standin_library.live_slices(), standin_library.live_media()) == (0, 0)
    assert grown < 4 * 1024 * 1024, f"RSS grew by {grown / 1024 / 1024:.1f} MB over 20,000 cycles"


def test_a_leaking_adapter_would_be_caught(sdk_path, standin_env, standin_library):
    """The counters the leak checks rely on do move: a slice allocated and not freed shows."""
    library = load_library(sdk_path)
    slice_ptr = library.NewSlice()
    try:
        assert standin_library.live_slices() == 1
    finally:
        library.FreeSlice(slice_ptr)
    assert standin_library.live_slices() == 0
