"""WeCom's chat archive Finance SDK (会话内容存档, libWeWorkFinanceSdk_C.so) through ctypes.

The company downloads the library from WeCom; it cannot come from a package registry, so it is
loaded from a configured path. Pure Python, no Django: the services build on it.

The C API followed here is the vendor's header WeWorkFinanceSdk_C.h (SDK v1.x/v2/v3 ship the same
declarations), as vendored in bullsoft/wework-finance-sdk (C_sdk/WeWorkFinanceSdk_C.h) and
flipped-aurora/gin-vue-admin (server/wechat/wechat-2/work/msgaudit/lib/WeWorkFinanceSdk_C.h):

    WeWorkFinanceSdk_t* NewSdk();
    int   Init(WeWorkFinanceSdk_t* sdk, const char* corpid, const char* secret);
    int   GetChatData(WeWorkFinanceSdk_t* sdk, unsigned long long seq, unsigned int limit,
                      const char *proxy, const char* passwd, int timeout, Slice_t* chatDatas);
    int   DecryptData(const char* encrypt_key, const char* encrypt_msg, Slice_t* msg);
    int   GetMediaData(WeWorkFinanceSdk_t* sdk, const char* indexbuf, const char* sdkFileid,
                       const char *proxy, const char* passwd, int timeout, MediaData_t* media_data);
    void  DestroySdk(WeWorkFinanceSdk_t* sdk);
    Slice_t* NewSlice();              void FreeSlice(Slice_t* slice);
    char* GetContentFromSlice(Slice_t* slice);   int GetSliceLen(Slice_t* slice);
    MediaData_t* NewMediaData();      void FreeMediaData(MediaData_t* media_data);
    char* GetOutIndexBuf(MediaData_t*);  char* GetData(MediaData_t*);
    int   GetIndexLen(MediaData_t*);     int GetDataLen(MediaData_t*);
    int   IsMediaDataFinish(MediaData_t*);

Behaviour from the official documentation (developer.work.weixin.qq.com, 获取会话内容 document/path/91774
and its FAQ 常见问题解答 document/path/91552) and the vendor's sample tool_testSdk.cpp:
- GetChatData returns the records with seq > the given seq, at most `limit` (1..1000) of them, as
  JSON {"errcode":0,"errmsg":"ok","chatdata":[{"seq","msgid","publickey_ver","encrypt_random_key",
  "encrypt_chat_msg"}]}; the SDK's return code and the JSON's errcode are two different failures.
- encrypt_random_key is opened by the company (finance_crypto), and DecryptData takes that plain key.
- Media comes in chunks of at most 512 KiB: the first call takes an empty indexbuf, each next call the
  outindexbuf of the previous one (like "Range:bytes=524288-1048575"), until is_finish.
- One sdk handle serves any number of calls, but is not for concurrent use: one FinanceSdk per thread.
"""

from __future__ import annotations

import ctypes
import json
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypedDict

MAX_LIMIT = 1000  # GetChatData: "最大值1000条，超过1000条会返回错误"
DEFAULT_TIMEOUT = 30  # seconds; the vendor's sample suggests 5 for a pull, media chunks need longer

# Return codes of the SDK: the header's list, with the FAQ (91552) saying 10004 and 10007 are no longer
# returned and what to check for each. (message, what to do).
SDK_ERRORS: dict[int, tuple[str, str]] = {
    10000: (
        "参数错误，请求参数错误",
        "检查 Init 的 corpid、secret；GetChatData 的 limit 是否未填或大于 1000；GetMediaData 的 sdkfileid 是否为空、indexbuf 是否正常",
    ),
    10001: ("网络错误，网络请求错误", "检查网络是否异常、波动；使用代理时检查代理地址与用户名密码"),
    10002: ("数据解析失败", "建议重试；仍失败请带上接口参数与调用时间反馈企业微信"),
    10003: ("系统调用失败", "建议重试；仍失败请带上接口参数与调用时间反馈企业微信"),
    10004: ("密钥错误导致加密失败", "已废弃，目前不会返回"),
    10005: ("fileid 错误", "检查传入 GetMediaData 的 sdkfileid"),
    10006: (
        "解密失败",
        "检查是否先 base64 解码、再用对应版本的私钥 RSA 解密 encrypt_random_key，再调用 DecryptData",
    ),
    10007: ("找不到消息加密版本的私钥，需要重新传入私钥对", "已废弃，目前不会返回"),
    10008: ("解析 encrypt_key 出错", "建议重试；仍失败请带上接口参数与调用时间反馈企业微信"),
    10009: ("IP 非法", "检查 SDK 访问外网的 IP 是否与管理端设置的可信 IP 一致"),
    10010: ("数据过期", "只能拉取近 5 天内的数据"),
    10011: ("证书错误", "OpenSSL 版本的 SDK 校验 SSL 证书失败"),
}
# The FAQ says to retry these; the others need a change of configuration, key or input first.
RETRYABLE_SDK_CODES = frozenset({10001, 10002, 10003, 10008})

# errcode values seen in GetChatData's JSON (WeCom's global error codes, not the SDK's own).
API_ERRORS: dict[int, str] = {
    -1: "系统繁忙，请稍后重试",
    40001: "不合法的 secret 参数：应填会话内容存档的 Secret",
    48002: "API 接口无权限调用：应使用会话内容存档的 Secret，并检查可信 IP",
    301053: "企业未开启会话内容存档",
}


class FinanceError(Exception):
    """Anything that went wrong with the Finance SDK."""


class FinanceLibraryError(FinanceError):
    """The library cannot be used: missing, not loadable here, or without a function of the API."""


class FinanceSdkError(FinanceError):
    """A call of the SDK returned a non-zero code (10000..10011)."""

    def __init__(self, code: int, message: str | None = None, *, call: str = "") -> None:
        known = SDK_ERRORS.get(code)
        self.code = code
        self.message = message or (known[0] if known else f"未知错误（返回码 {code}）")
        self.hint = known[1] if known else ""
        self.call = call
        super().__init__(f"{call + ': ' if call else ''}{code} {self.message}")

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE_SDK_CODES


class FinanceApiError(FinanceSdkError):
    """GetChatData returned 0 but WeCom's JSON carries errcode != 0 (wrong secret, untrusted IP...)."""

    def __init__(self, code: int, errmsg: str, *, call: str = "GetChatData") -> None:
        known = API_ERRORS.get(code)
        super().__init__(code, f"{known}（{errmsg}）" if known else errmsg, call=call)
        self.errmsg = errmsg

    @property
    def retryable(self) -> bool:
        return self.code == -1


class FinanceProtocolError(FinanceError):
    """The SDK answered 0 but with something this adapter cannot read (bad JSON, a missing index)."""


class ChatRecord(TypedDict):
    """One record of GetChatData, still encrypted. Fields WeCom may add later are kept in the dict."""

    seq: int
    msgid: str
    publickey_ver: int
    encrypt_random_key: str
    encrypt_chat_msg: str


class MediaChunk(NamedTuple):
    data: bytes
    next_index: str  # outindexbuf: what to pass to continue after this chunk ("" once finished)
    finished: bool


# Every function of the header with its argtypes and restype. All pointers are c_void_p: a ctypes
# function without restype returns a C int, which cuts a 64-bit pointer to 32 bits (the classic crash),
# and char* results are c_void_p rather than c_char_p because c_char_p copies up to the first NUL:
# media data is binary, and the lengths come from GetSliceLen/GetDataLen. The structs stay opaque:
# the header provides accessors "for other languages such as python", so their layout is not relied on.
_vp, _cp, _int = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
_SIGNATURES: dict[str, tuple[list[Any], Any]] = {
    "NewSdk": ([], _vp),
    "Init": ([_vp, _cp, _cp], _int),
    "GetChatData": ([_vp, ctypes.c_ulonglong, ctypes.c_uint, _cp, _cp, _int, _vp], _int),
    "DecryptData": ([_cp, _cp, _vp], _int),
    "GetMediaData": ([_vp, _cp, _cp, _cp, _cp, _int, _vp], _int),
    "DestroySdk": ([_vp], None),
    "NewSlice": ([], _vp),
    "FreeSlice": ([_vp], None),
    "GetContentFromSlice": ([_vp], _vp),
    "GetSliceLen": ([_vp], _int),
    "NewMediaData": ([], _vp),
    "FreeMediaData": ([_vp], None),
    "GetOutIndexBuf": ([_vp], _vp),
    "GetData": ([_vp], _vp),
    "GetIndexLen": ([_vp], _int),
    "GetDataLen": ([_vp], _int),
    "IsMediaDataFinish": ([_vp], _int),
}


class FinanceLibrary:
    """The loaded library with every function declared; one per path (see load_library)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise FinanceLibraryError(f"WeCom Finance SDK library not found: {path}")
        try:
            self.cdll = ctypes.CDLL(str(path))
        except OSError as e:  # not a shared object, another architecture, a missing GLIBC/libcurl...
            raise FinanceLibraryError(f"WeCom Finance SDK library cannot be loaded from {path}: {e}") from e
        missing = [name for name in _SIGNATURES if not hasattr(self.cdll, name)]
        if missing:
            raise FinanceLibraryError(f"{path} is not the WeCom Finance SDK: it lacks {', '.join(missing)}")
        for name, (argtypes, restype) in _SIGNATURES.items():
            function = getattr(self.cdll, name)
            function.argtypes = argtypes
            function.restype = restype
            setattr(self, name, function)

    # Declared for the type checker; bound in __init__.
    NewSdk: Any
    Init: Any
    GetChatData: Any
    DecryptData: Any
    GetMediaData: Any
    DestroySdk: Any
    NewSlice: Any
    FreeSlice: Any
    GetContentFromSlice: Any
    GetSliceLen: Any
    NewMediaData: Any
    FreeMediaData: Any
    GetOutIndexBuf: Any
    GetData: Any
    GetIndexLen: Any
    GetDataLen: Any
    IsMediaDataFinish: Any

    def slice_bytes(self, slice_ptr: int) -> bytes:
        content = self.GetContentFromSlice(slice_ptr)
        length = self.GetSliceLen(slice_ptr)
        if not content or length <= 0:
            return b""
        # string_at copies: the bytes stay valid after FreeSlice. A trailing NUL, if a version of the
        # SDK counted it in the length, would break json.loads.
        return ctypes.string_at(content, length).rstrip(b"\0")


_libraries: dict[Path, FinanceLibrary] = {}
_libraries_lock = threading.Lock()


def load_library(path: str | Path) -> FinanceLibrary:
    """The library at `path`, loaded and declared once per process.

    The path is made absolute first: a bare name would make dlopen search LD_LIBRARY_PATH and the system
    folders, loading whatever library of that name it finds there. A library never unloads (dlclose under
    live pointers is unsafe): a new SDK version goes under a new path, or takes a restart of the workers.
    """
    resolved = Path(path).expanduser().resolve()
    with _libraries_lock:
        library = _libraries.get(resolved)
        if library is None:
            library = _libraries[resolved] = FinanceLibrary(resolved)
        return library


def _c_text(value: str | None) -> bytes:
    # The vendor's sample and the wrappers built on it pass "" (never NULL) for an unused proxy/passwd
    # and for the first indexbuf; NULL is not documented as accepted.
    return (value or "").encode()


class FinanceSdk:
    """One SDK instance of a company: NewSdk/Init on open (or `with`), DestroySdk on close.

    Not for concurrent use (the vendor: one sdk per thread). decrypt() does not need open(): DecryptData
    takes no sdk, so records kept aside can be opened later without Init.
    """

    def __init__(self, library_path: str | Path, corp_id: str, secret: str) -> None:
        self.library = load_library(library_path)
        self.corp_id = corp_id
        self._secret = secret
        self._sdk: int | None = None
        self._finalizer: weakref.finalize | None = None

    def __repr__(self) -> str:  # never the secret
        state = "open" if self._sdk else "closed"
        return f"<FinanceSdk {self.corp_id} {state} {self.library.path}>"

    # -- life cycle ---------------------------------------------------------------------------------
    def open(self) -> FinanceSdk:
        if self._sdk is not None:
            return self
        lib = self.library
        sdk = lib.NewSdk()
        if not sdk:
            raise FinanceLibraryError("NewSdk returned NULL")
        code = lib.Init(sdk, self.corp_id.encode(), self._secret.encode())
        if code != 0:
            lib.DestroySdk(sdk)  # as the vendor's sample does after a failed Init
            raise FinanceSdkError(code, call="Init")
        self._sdk = sdk
        # A job that dies without close() still frees the native instance when this object goes.
        self._finalizer = weakref.finalize(self, lib.DestroySdk, sdk)
        return self

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # DestroySdk, once
        self._finalizer = None
        self._sdk = None

    @property
    def is_open(self) -> bool:
        return self._sdk is not None

    def __enter__(self) -> FinanceSdk:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _handle(self) -> int:
        # A NULL sdk handed to the real library is undefined behaviour (likely a crash), not an error code.
        if self._sdk is None:
            raise FinanceError("the FinanceSdk is not open: use `with FinanceSdk(...)` or call open()")
        return self._sdk

    # -- chat records ------------------------------------------------------------------------------
    def get_chat_data_raw(
        self,
        seq: int,
        limit: int = MAX_LIMIT,
        *,
        timeout: int = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        passwd: str | None = None,
    ) -> bytes:
        """GetChatData's JSON as returned (for logging or replay); SDK return codes raise."""
        sdk = self._handle()
        # ctypes would wrap a negative or oversized number silently into another cursor or limit.
        if not 0 <= seq < 1 << 64:
            raise ValueError(f"seq out of range for unsigned long long: {seq}")
        if not 0 <= limit < 1 << 32:
            raise ValueError(f"limit out of range for unsigned int: {limit}")
        _check_timeout(timeout)
        lib = self.library
        slice_ptr = lib.NewSlice()
        if not slice_ptr:
            raise MemoryError("NewSlice returned NULL")
        try:
            code = lib.GetChatData(sdk, seq, limit, _c_text(proxy), _c_text(passwd), timeout, slice_ptr)
            if code != 0:
                raise FinanceSdkError(code, call="GetChatData")
            return lib.slice_bytes(slice_ptr)
        finally:
            lib.FreeSlice(slice_ptr)

    def get_chat_data(
        self,
        seq: int,
        limit: int = MAX_LIMIT,
        *,
        timeout: int = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        passwd: str | None = None,
    ) -> list[ChatRecord]:
        """The records after `seq` (the largest seq already stored; 0 the first time), at most `limit`.

        The SDK decides what limit it accepts (1..1000; otherwise FinanceSdkError 10000).
        """
        raw = self.get_chat_data_raw(seq, limit, timeout=timeout, proxy=proxy, passwd=passwd)
        return parse_chat_data(raw)

    def iter_chat_pages(
        self,
        seq: int,
        limit: int = MAX_LIMIT,
        *,
        timeout: int = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        passwd: str | None = None,
    ) -> Iterator[list[ChatRecord]]:
        """Pages of records from after `seq` until an empty page; the caller stores each page and its
        cursor before taking the next (a page is only read when the previous one was consumed)."""
        while True:
            page = self.get_chat_data(seq, limit, timeout=timeout, proxy=proxy, passwd=passwd)
            if not page:
                return
            yield page
            last = max(record["seq"] for record in page)
            if last <= seq:  # an SDK that does not advance would loop forever
                raise FinanceProtocolError(f"GetChatData after seq {seq} returned nothing newer")
            seq = last

    # -- decryption --------------------------------------------------------------------------------
    def decrypt_raw(self, random_key_plain: str | bytes, encrypt_chat_msg: str) -> bytes:
        """DecryptData: the message's plain JSON bytes. `random_key_plain` is encrypt_random_key after the
        company's RSA step (finance_crypto), not the base64 text of the record."""
        key = random_key_plain.encode() if isinstance(random_key_plain, str) else random_key_plain
        lib = self.library
        slice_ptr = lib.NewSlice()
        if not slice_ptr:
            raise MemoryError("NewSlice returned NULL")
        try:
            code = lib.DecryptData(key, encrypt_chat_msg.encode(), slice_ptr)
            if code != 0:
                raise FinanceSdkError(code, call="DecryptData")
            return lib.slice_bytes(slice_ptr)
        finally:
            lib.FreeSlice(slice_ptr)

    def decrypt(self, random_key_plain: str | bytes, encrypt_chat_msg: str) -> dict[str, Any]:
        """DecryptData, parsed: the message (msgid, action, from, tolist, roomid, msgtime, msgtype...)."""
        raw = self.decrypt_raw(random_key_plain, encrypt_chat_msg)
        try:
            # strict=False: real messages carry raw control characters (newlines, tabs) inside their
            # strings, which strict JSON rejects (other wrappers strip every byte < 0x20 instead, losing them).
            message = json.loads(raw.decode("utf-8"), strict=False)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise FinanceProtocolError(f"DecryptData returned a message that is not JSON: {e}") from e
        if not isinstance(message, dict):
            raise FinanceProtocolError("DecryptData returned JSON that is not an object")
        return message

    # -- media -------------------------------------------------------------------------------------
    def get_media_chunk(
        self,
        sdkfileid: str,
        index_buf: str = "",
        *,
        timeout: int = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        passwd: str | None = None,
    ) -> MediaChunk:
        """One GetMediaData call: the chunk at `index_buf` ("" for the first) and the index of the next."""
        sdk = self._handle()
        _check_timeout(timeout)
        lib = self.library
        media = lib.NewMediaData()
        if not media:
            raise MemoryError("NewMediaData returned NULL")
        try:
            code = lib.GetMediaData(
                sdk, _c_text(index_buf), sdkfileid.encode(), _c_text(proxy), _c_text(passwd), timeout, media
            )
            if code != 0:
                raise FinanceSdkError(code, call="GetMediaData")
            data_ptr, data_len = lib.GetData(media), lib.GetDataLen(media)
            data = ctypes.string_at(data_ptr, data_len) if data_ptr and data_len > 0 else b""
            index_ptr, index_len = lib.GetOutIndexBuf(media), lib.GetIndexLen(media)
            # The vendor's sample reads outindexbuf as a C string; the length bounds the read and
            # anything from a NUL on is dropped, whichever way a version counts it.
            raw_index = ctypes.string_at(index_ptr, index_len) if index_ptr and index_len > 0 else b""
            next_index = raw_index.split(b"\0", 1)[0].decode("ascii", errors="strict")
            finished = lib.IsMediaDataFinish(media) != 0
        except UnicodeDecodeError as e:
            raise FinanceProtocolError(f"GetMediaData returned an outindexbuf that is not text: {e}") from e
        finally:
            lib.FreeMediaData(media)
        if not finished and not next_index:
            # Passing "" again would start the file over, forever.
            raise FinanceProtocolError(f"GetMediaData for {sdkfileid} is not finished but gave no next index")
        return MediaChunk(data, next_index if not finished else "", finished)

    def iter_media_chunks(
        self,
        sdkfileid: str,
        index_buf: str = "",
        *,
        timeout: int = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        passwd: str | None = None,
    ) -> Iterator[MediaChunk]:
        """The chunks from `index_buf` on (resumable: store each chunk's data, then its next_index, and
        start again from the last stored next_index after a failure or a restart)."""
        while True:
            chunk = self.get_media_chunk(sdkfileid, index_buf, timeout=timeout, proxy=proxy, passwd=passwd)
            yield chunk
            if chunk.finished:
                return
            if chunk.next_index == index_buf and not chunk.data:
                raise FinanceProtocolError(
                    f"GetMediaData for {sdkfileid} does not advance from {index_buf!r}"
                )
            index_buf = chunk.next_index

    def iter_media(
        self,
        sdkfileid: str,
        *,
        timeout: int = DEFAULT_TIMEOUT,
        proxy: str | None = None,
        passwd: str | None = None,
    ) -> Iterator[bytes]:
        """The whole media file, chunk by chunk, from its start."""
        for chunk in self.iter_media_chunks(sdkfileid, timeout=timeout, proxy=proxy, passwd=passwd):
            if chunk.data:
                yield chunk.data


def _check_timeout(timeout: int) -> None:
    if not 0 < timeout < 1 << 31:
        raise ValueError(f"timeout must be a positive number of seconds: {timeout}")


def parse_chat_data(raw: bytes) -> list[ChatRecord]:
    """GetChatData's JSON → its records; errcode != 0 raises FinanceApiError."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FinanceProtocolError(f"GetChatData returned something that is not JSON: {e}") from e
    if not isinstance(body, dict):
        raise FinanceProtocolError("GetChatData returned JSON that is not an object")
    errcode = body.get("errcode", 0)
    if errcode != 0:
        raise FinanceApiError(int(errcode), str(body.get("errmsg", "")))
    chatdata = body.get("chatdata")
    if chatdata is None:  # null rather than [] when there is nothing, as some companies have seen
        chatdata = []
    if not isinstance(chatdata, list):
        raise FinanceProtocolError("GetChatData's chatdata is not a list")
    records: list[ChatRecord] = []
    for item in chatdata:
        if not isinstance(item, dict):
            raise FinanceProtocolError(f"GetChatData returned a record that is not an object: {item!r:.200}")
        try:
            item["seq"] = int(item["seq"])
            item["publickey_ver"] = int(item["publickey_ver"])
            for field in ("msgid", "encrypt_random_key", "encrypt_chat_msg"):
                if not isinstance(item[field], str):
                    raise TypeError(field)
        except (KeyError, TypeError, ValueError) as e:
            raise FinanceProtocolError(
                f"GetChatData returned a record with a missing or bad field ({e}): {item!r:.200}"
            ) from e
        records.append(item)
    return records
