/*
 * A stand-in for WeCom's libWeWorkFinanceSdk_C.so (会话内容存档), built by the tests with
 *     gcc -shared -fPIC -O2 -o libWeWorkFinanceSdk_C.so standin_sdk.c
 * so the ctypes adapter (custos.wecom.finance_sdk) meets real native memory, return codes and paging.
 * Same exported names and signatures as the vendor's WeWorkFinanceSdk_C.h (as vendored in
 * bullsoft/wework-finance-sdk, C_sdk/WeWorkFinanceSdk_C.h); return codes as in the header and the FAQ
 * (developer.work.weixin.qq.com/document/path/91552). No network, no real cryptography.
 *
 * Configured from the environment at Init (each sdk instance keeps what it read then):
 *   STANDIN_SDK_DATA         records, one a line: seq \t msgid \t publickey_ver \t encrypt_random_key \t
 *                            encrypt_chat_msg ('#' lines and empty lines skipped; any order)
 *   STANDIN_SDK_SECRET       the secret Init accepts (unset: any non-empty secret)
 *   STANDIN_SDK_CHAT_ERRCODE, STANDIN_SDK_CHAT_ERRMSG
 *                            GetChatData returns 0 with this errcode in its JSON (WeCom's server errors)
 *   STANDIN_SDK_MEDIA_DIR    media files, named by their sdkfileid
 *   STANDIN_SDK_MEDIA_CHUNK  bytes per GetMediaData chunk (default 512 KiB, the real SDK's size)
 *   STANDIN_SDK_MEDIA_FAIL_AT  the Nth GetMediaData call of the instance (from 1) fails once with 10001
 *
 * DecryptData's "encryption": base64(p[i] ^ key[i % keylen] ^ (i * 31 + 7)) with
 * p = "WWSD" + FNV-1a 32-bit of the message (big-endian) + the message, so a wrong key fails with 10006.
 *
 * Extra exports for the tests: StandinLiveSlices(), StandinLiveMediaData(), StandinLiveSdks() count
 * what was allocated and not yet freed.
 */
#define _POSIX_C_SOURCE 200809L /* getline */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

enum {
    ERR_PARAM = 10000,
    ERR_NETWORK = 10001,
    ERR_PARSE = 10002,
    ERR_SYSTEM = 10003,
    ERR_FILEID = 10005,
    ERR_DECRYPT = 10006,
    ERR_ENCRYPT_KEY = 10008,
};

#define MAX_LIMIT 1000u
#define DEFAULT_CHUNK (512 * 1024)

typedef struct Slice_t {
    char* buf;
    int len;
} Slice_t;

typedef struct MediaData {
    char* outindexbuf;
    int out_len;
    char* data;
    int data_len;
    int is_finish;
} MediaData_t;

typedef struct {
    unsigned long long seq;
    char* msgid;
    int publickey_ver;
    char* random_key;
    char* chat_msg;
} Record;

typedef struct WeWorkFinanceSdk_t {
    int initialized;
    Record* records;
    size_t count;
    int chat_errcode;
    char chat_errmsg[256];
    char media_dir[4096];
    long chunk;
    long media_calls;
    long media_fail_at;
} WeWorkFinanceSdk_t;

static long live_slices, live_media, live_sdks;

static void count(long* counter, long delta) { __atomic_add_fetch(counter, delta, __ATOMIC_SEQ_CST); }

EXPORT long StandinLiveSlices(void) { return __atomic_load_n(&live_slices, __ATOMIC_SEQ_CST); }
EXPORT long StandinLiveMediaData(void) { return __atomic_load_n(&live_media, __ATOMIC_SEQ_CST); }
EXPORT long StandinLiveSdks(void) { return __atomic_load_n(&live_sdks, __ATOMIC_SEQ_CST); }

static char* dup_text(const char* s) {
    size_t n = strlen(s);
    char* copy = malloc(n + 1);
    if (copy) memcpy(copy, s, n + 1);
    return copy;
}

/* Fields are written into JSON as they are: they must need no escaping (base64, ids, numbers). */
static int json_safe(const char* s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == '"' || c == '\\') return 0;
    }
    return 1;
}

static void free_records(WeWorkFinanceSdk_t* sdk) {
    for (size_t i = 0; i < sdk->count; i++) {
        free(sdk->records[i].msgid);
        free(sdk->records[i].random_key);
        free(sdk->records[i].chat_msg);
    }
    free(sdk->records);
    sdk->records = NULL;
    sdk->count = 0;
}

static int by_seq(const void* a, const void* b) {
    unsigned long long x = ((const Record*)a)->seq, y = ((const Record*)b)->seq;
    return x < y ? -1 : x > y;
}

/* Reads the whole file; returns 0 or an SDK code. */
static int load_records(WeWorkFinanceSdk_t* sdk, const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "standin_sdk: cannot open STANDIN_SDK_DATA %s\n", path);
        return ERR_SYSTEM;
    }
    size_t capacity = 0;
    char* line = NULL;
    size_t line_cap = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &line_cap, f)) != -1) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
        if (got == 0 || line[0] == '#') continue;
        char* fields[5];
        char* cursor = line;
        int n = 0;
        for (; n < 5 && cursor; n++) {
            fields[n] = cursor;
            char* tab = strchr(cursor, '\t');
            if (tab) *tab = '\0';
            cursor = tab ? tab + 1 : NULL;
        }
        if (n != 5 || cursor) {
            rc = ERR_PARSE;
            break;
        }
        char* end;
        unsigned long long seq = strtoull(fields[0], &end, 10);
        if (*end || !json_safe(fields[1]) || !json_safe(fields[3]) || !json_safe(fields[4])) {
            rc = ERR_PARSE;
            break;
        }
        long version = strtol(fields[2], &end, 10);
        if (*end) {
            rc = ERR_PARSE;
            break;
        }
        if (sdk->count == capacity) {
            capacity = capacity ? capacity * 2 : 256;
            Record* grown = realloc(sdk->records, capacity * sizeof(Record));
            if (!grown) {
                rc = ERR_SYSTEM;
                break;
            }
            sdk->records = grown;
        }
        Record* r = &sdk->records[sdk->count++];
        r->seq = seq;
        r->publickey_ver = (int)version;
        r->msgid = dup_text(fields[1]);
        r->random_key = dup_text(fields[3]);
        r->chat_msg = dup_text(fields[4]);
        if (!r->msgid || !r->random_key || !r->chat_msg) {
            rc = ERR_SYSTEM;
            break;
        }
    }
    free(line);
    fclose(f);
    if (rc) {
        fprintf(stderr, "standin_sdk: bad record line in %s (record %zu)\n", path, sdk->count);
        return rc;
    }
    qsort(sdk->records, sdk->count, sizeof(Record), by_seq);
    return 0;
}

EXPORT WeWorkFinanceSdk_t* NewSdk(void) {
    WeWorkFinanceSdk_t* sdk = calloc(1, sizeof(WeWorkFinanceSdk_t));
    if (sdk) count(&live_sdks, 1);
    return sdk;
}

EXPORT int Init(WeWorkFinanceSdk_t* sdk, const char* corpid, const char* secret) {
    if (!sdk || !corpid || !*corpid || !secret || !*secret) return ERR_PARAM;
    /* The FAQ: 10000 "检查Init接口corpid、secret参数". */
    const char* expected = getenv("STANDIN_SDK_SECRET");
    if (expected && strcmp(expected, secret) != 0) return ERR_PARAM;

    free_records(sdk);
    sdk->initialized = 0;
    const char* data = getenv("STANDIN_SDK_DATA");
    if (data && *data) {
        int rc = load_records(sdk, data);
        if (rc) {
            free_records(sdk);
            return rc;
        }
    }
    const char* errcode = getenv("STANDIN_SDK_CHAT_ERRCODE");
    sdk->chat_errcode = errcode ? atoi(errcode) : 0;
    const char* errmsg = getenv("STANDIN_SDK_CHAT_ERRMSG");
    snprintf(sdk->chat_errmsg, sizeof sdk->chat_errmsg, "%s", errmsg && json_safe(errmsg) ? errmsg : "error");
    const char* dir = getenv("STANDIN_SDK_MEDIA_DIR");
    snprintf(sdk->media_dir, sizeof sdk->media_dir, "%s", dir ? dir : "");
    const char* chunk = getenv("STANDIN_SDK_MEDIA_CHUNK");
    sdk->chunk = chunk ? atol(chunk) : DEFAULT_CHUNK;
    if (sdk->chunk <= 0) sdk->chunk = DEFAULT_CHUNK;
    const char* fail_at = getenv("STANDIN_SDK_MEDIA_FAIL_AT");
    sdk->media_fail_at = fail_at ? atol(fail_at) : 0;
    sdk->media_calls = 0;
    sdk->initialized = 1;
    return 0;
}

EXPORT void DestroySdk(WeWorkFinanceSdk_t* sdk) {
    if (!sdk) return;
    free_records(sdk);
    free(sdk);
    count(&live_sdks, -1);
}

EXPORT Slice_t* NewSlice(void) {
    Slice_t* slice = calloc(1, sizeof(Slice_t));
    if (slice) count(&live_slices, 1);
    return slice;
}

EXPORT void FreeSlice(Slice_t* slice) {
    if (!slice) return;
    free(slice->buf);
    free(slice);
    count(&live_slices, -1);
}

EXPORT char* GetContentFromSlice(Slice_t* slice) { return slice ? slice->buf : NULL; }
EXPORT int GetSliceLen(Slice_t* slice) { return slice ? slice->len : 0; }

/* Takes ownership of buf (NUL-terminated, len bytes before the NUL). */
static void slice_set(Slice_t* slice, char* buf, size_t len) {
    free(slice->buf);
    slice->buf = buf;
    slice->len = (int)len;
}

static int proxy_ok(const char* proxy) {
    /* The SDK would fail to connect through anything but an http(s) or socks5 proxy URL. */
    return !proxy || !*proxy || !strncmp(proxy, "http://", 7) || !strncmp(proxy, "https://", 8) ||
           !strncmp(proxy, "socks5://", 9);
}

EXPORT int GetChatData(WeWorkFinanceSdk_t* sdk, unsigned long long seq, unsigned int limit, const char* proxy,
                       const char* passwd, int timeout, Slice_t* chatDatas) {
    (void)passwd;
    if (!sdk || !sdk->initialized || !chatDatas || limit == 0 || limit > MAX_LIMIT || timeout <= 0)
        return ERR_PARAM;
    if (!proxy_ok(proxy)) return ERR_NETWORK;
    if (sdk->chat_errcode) {
        size_t size = strlen(sdk->chat_errmsg) + 64;
        char* buf = malloc(size);
        if (!buf) return ERR_SYSTEM;
        int n = snprintf(buf, size, "{\"errcode\":%d,\"errmsg\":\"%s\",\"chatdata\":[]}", sdk->chat_errcode,
                         sdk->chat_errmsg);
        slice_set(chatDatas, buf, (size_t)n);
        return 0;
    }
    /* Records after seq: the first with a larger seq, by binary search. */
    size_t lo = 0, hi = sdk->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sdk->records[mid].seq <= seq) lo = mid + 1;
        else hi = mid;
    }
    size_t end = lo + limit < sdk->count ? lo + limit : sdk->count;
    size_t size = 64;
    for (size_t i = lo; i < end; i++) {
        const Record* r = &sdk->records[i];
        size += strlen(r->msgid) + strlen(r->random_key) + strlen(r->chat_msg) + 160;
    }
    char* buf = malloc(size);
    if (!buf) return ERR_SYSTEM;
    size_t at = (size_t)snprintf(buf, size, "{\"errcode\":0,\"errmsg\":\"ok\",\"chatdata\":[");
    for (size_t i = lo; i < end; i++) {
        const Record* r = &sdk->records[i];
        at += (size_t)snprintf(buf + at, size - at,
                               "%s{\"seq\":%llu,\"msgid\":\"%s\",\"publickey_ver\":%d,"
                               "\"encrypt_random_key\":\"%s\",\"encrypt_chat_msg\":\"%s\"}",
                               i == lo ? "" : ",", r->seq, r->msgid, r->publickey_ver, r->random_key, r->chat_msg);
    }
    at += (size_t)snprintf(buf + at, size - at, "]}");
    slice_set(chatDatas, buf, at);
    return 0;
}

static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard padded base64; returns a malloc'd buffer and its length, or NULL. */
static unsigned char* b64_decode(const char* text, size_t* out_len) {
    size_t n = strlen(text);
    if (n == 0 || n % 4) return NULL;
    size_t pad = (text[n - 1] == '=') + (n > 1 && text[n - 2] == '=');
    unsigned char* out = malloc(n / 4 * 3);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)text[i + j];
            int last_group = i + 4 == n;
            v[j] = (c == '=' && last_group && j >= 4 - (int)pad) ? 0 : b64_value(c);
            if (v[j] < 0) {
                free(out);
                return NULL;
            }
        }
        unsigned triple = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        out[o++] = (unsigned char)(triple >> 16);
        out[o++] = (unsigned char)(triple >> 8);
        out[o++] = (unsigned char)triple;
    }
    *out_len = o - pad;
    return out;
}

static unsigned fnv1a(const unsigned char* p, size_t n) {
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

EXPORT int DecryptData(const char* encrypt_key, const char* encrypt_msg, Slice_t* msg) {
    if (!msg || !encrypt_msg) return ERR_PARAM;
    if (!encrypt_key || !*encrypt_key) return ERR_ENCRYPT_KEY;
    size_t n;
    unsigned char* p = b64_decode(encrypt_msg, &n);
    if (!p) return ERR_DECRYPT;
    size_t key_len = strlen(encrypt_key);
    for (size_t i = 0; i < n; i++)
        p[i] ^= (unsigned char)encrypt_key[i % key_len] ^ (unsigned char)(i * 31 + 7);
    if (n < 8 || memcmp(p, "WWSD", 4) != 0) {
        free(p);
        return ERR_DECRYPT;
    }
    unsigned sum = (unsigned)p[4] << 24 | (unsigned)p[5] << 16 | (unsigned)p[6] << 8 | p[7];
    if (sum != fnv1a(p + 8, n - 8)) {
        free(p);
        return ERR_DECRYPT;
    }
    char* buf = malloc(n - 8 + 1);
    if (!buf) {
        free(p);
        return ERR_SYSTEM;
    }
    memcpy(buf, p + 8, n - 8);
    buf[n - 8] = '\0';
    free(p);
    slice_set(msg, buf, n - 8);
    return 0;
}

EXPORT MediaData_t* NewMediaData(void) {
    MediaData_t* media = calloc(1, sizeof(MediaData_t));
    if (media) count(&live_media, 1);
    return media;
}

EXPORT void FreeMediaData(MediaData_t* media_data) {
    if (!media_data) return;
    free(media_data->outindexbuf);
    free(media_data->data);
    free(media_data);
    count(&live_media, -1);
}

EXPORT char* GetOutIndexBuf(MediaData_t* media_data) { return media_data ? media_data->outindexbuf : NULL; }
EXPORT char* GetData(MediaData_t* media_data) { return media_data ? media_data->data : NULL; }
EXPORT int GetIndexLen(MediaData_t* media_data) { return media_data ? media_data->out_len : 0; }
EXPORT int GetDataLen(MediaData_t* media_data) { return media_data ? media_data->data_len : 0; }
EXPORT int IsMediaDataFinish(MediaData_t* media_data) { return media_data ? media_data->is_finish : 0; }

EXPORT int GetMediaData(WeWorkFinanceSdk_t* sdk, const char* indexbuf, const char* sdkFileid, const char* proxy,
                        const char* passwd, int timeout, MediaData_t* media_data) {
    (void)passwd;
    if (!sdk || !sdk->initialized || !media_data || !sdkFileid || !*sdkFileid || timeout <= 0) return ERR_PARAM;
    if (!proxy_ok(proxy)) return ERR_NETWORK;
    sdk->media_calls++;
    if (sdk->media_calls == sdk->media_fail_at) return ERR_NETWORK;

    /* The index is the real SDK's form, "Range:bytes=524288-1048575"; empty for the first chunk. */
    long long start = 0, last = 0;
    if (indexbuf && *indexbuf) {
        int used = 0;
        if (sscanf(indexbuf, "Range:bytes=%lld-%lld%n", &start, &last, &used) != 2 || indexbuf[used] || start < 0)
            return ERR_PARAM;
    }
    if (!*sdk->media_dir || strchr(sdkFileid, '/') || sdkFileid[0] == '.') return ERR_FILEID;
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", sdk->media_dir, sdkFileid);
    FILE* f = fopen(path, "rb");
    if (!f) return ERR_FILEID;
    fseek(f, 0, SEEK_END);
    long long size = ftell(f);
    if (start > size) {
        fclose(f);
        return ERR_PARAM;
    }
    long long n = size - start < sdk->chunk ? size - start : sdk->chunk;
    char* data = malloc((size_t)n + 1);
    if (!data) {
        fclose(f);
        return ERR_SYSTEM;
    }
    fseek(f, (long)start, SEEK_SET);
    if ((long long)fread(data, 1, (size_t)n, f) != n) {
        free(data);
        fclose(f);
        return ERR_SYSTEM;
    }
    fclose(f);

    int finished = start + n >= size;
    char next[64] = "";
    if (!finished) snprintf(next, sizeof next, "Range:bytes=%lld-%lld", start + n, start + n + sdk->chunk - 1);
    char* index = dup_text(next);
    if (!index) {
        free(data);
        return ERR_SYSTEM;
    }
    free(media_data->data);
    free(media_data->outindexbuf);
    media_data->data = data;
    media_data->data_len = (int)n;
    media_data->outindexbuf = index;
    media_data->out_len = (int)strlen(index);
    media_data->is_finish = finished;
    return 0;
}
