"""Chat archive pull throughput (会话内容存档) beside the bare ledger append in the same run.

    .venv/bin/python -m bench.wecom_archive [--postgres postgres://postgres@127.0.0.1:5432/test] [--records 10000]

The pull: the stand-in Finance SDK (tests/wecom/standin_sdk, built here with gcc) serves --records
records in pages of 1,000, each with its own random key RSA-encrypted (2048-bit, PKCS#1 v1.5) under
the company's key, as WeCom sends them; archive_pull.pull() reads them through ctypes, opens each
random key (RSA), decrypts each message (DecryptData), maps it (archive_mapping), and appends the page
with its cursor in one transaction (customer matching, the archive read model and detection inside,
as in production). About 3% are images, which wait for their file (stored sealed, not fetched here).

Baselines, on the same database in the same run: `append_batch` of the very events the pull appends,
in the same batches of 1,000, (a) with the projections on (the archive read model and detection: the
work any message costs) and (b) with them off (the bare ledger). Prints records/s and the ratios.
SQLite on a temporary file; PostgreSQL on a database custos_bench_wecom_archive, created and dropped.
"""

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import admin, setup_django

BENCH_DB = "custos_bench_wecom_archive"
ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["您好，新款到了，周末来试试", "这件大衣活动价1280", "好的谢谢", "能便宜点吗", "已经帮您下单了，明天顺丰发出",
         "收到了挺合适的", "我下午三点到店", "可以开发票吗", "尺码偏大还是偏小", "帮我留一件黑色的"]  # fmt: skip
STAFF = ["wang", "li", "zhao", "sun", "zhou"]


def build_library(tmp: Path) -> Path:
    gcc = shutil.which("gcc")
    if gcc is None:
        sys.exit("gcc is needed to build the stand-in Finance SDK")
    target = tmp / "libWeWorkFinanceSdk_C.so"
    source = ROOT / "tests" / "wecom" / "standin_sdk" / "standin_sdk.c"
    subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-o", str(target), str(source)], check=True)  # noqa: S603
    return target


def messages(n: int, rng: random.Random, start_ms: int) -> list[dict]:
    out = []
    for i in range(n):
        staff, customer = rng.choice(STAFF), f"wm{rng.randrange(400):05d}"
        inbound = rng.random() < 0.45
        body = {"msgid": f"bench{i}", "action": "send", "from": customer if inbound else staff,
                "tolist": [staff if inbound else customer], "roomid": "", "msgtime": start_ms + i * 1000}  # fmt: skip
        roll = rng.random()
        if roll < 0.03:
            body.update(msgtype="image", image={"md5sum": f"{rng.getrandbits(128):032x}", "filesize": 123456, "sdkfileid": f"f{i}"})
        elif roll < 0.05:
            body.update(msgtype="redpacket", redpacket={"type": 1, "wish": "恭喜发财", "totalcnt": 1, "totalamount": 888})
        elif roll < 0.08:
            body.update(msgtype="link", link={"title": "新品上市", "description": "到店有礼", "link_url": "https://example.com/x", "image_url": ""})
        elif roll < 0.15:
            body.update(roomid=f"wr{rng.randrange(30)}", tolist=[customer, *rng.sample(STAFF, 2)],
                        msgtype="text", text={"content": rng.choice(TEXTS)})  # fmt: skip
        else:
            body.update(msgtype="text", text={"content": rng.choice(TEXTS)})
        out.append(body)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="e.g. postgres://postgres@127.0.0.1:5432/test (a scratch database is made beside it)")
    parser.add_argument("--records", type=int, default=10000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="custos-bench-wecom-archive-"))
    sys.path.insert(0, str(ROOT))
    try:
        vendor = setup_django(str(tmp), args.postgres, BENCH_DB)
        run(args, tmp, vendor)
    finally:
        from django.db import connections

        connections.close_all()
        if args.postgres:
            admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")
        shutil.rmtree(tmp, ignore_errors=True)


def run(args, tmp: Path, vendor: str) -> None:
    import base64
    import os
    import secrets

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from django.db import transaction
    from django.utils import timezone

    from custos.ledger import projections
    from custos.ledger.services import append_batch
    from custos.org import services
    from custos.org.models import Role, Unit
    from custos.wecom import archive_keys, archive_mapping, archive_pull
    from custos.wecom.models import ArchiveKey, ArchiveSettings, Connection, MemberLink
    from tests.wecom.sdk_fixtures import Record, standin_encrypt, write_records

    library = build_library(tmp)
    hq = services.create_unit(actor=None, name="总部", kind=Unit.Kind.HQ, parent=None)
    for name in STAFF:
        e = services.create_employee(actor=None, name=name, username=name, password="bench-pass-123", unit=hq, role=Role.SALES)
        MemberLink.objects.create(userid=name, employee=e)
    Connection.objects.update_or_create(pk=1, defaults={"corp_id": "wwbench"})
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    archive_keys.configure(actor=None, secret="bench-secret", sdk_path=str(library), enabled=True)
    archive_keys.add_key(actor=None, version=1, pem=pem)

    rng = random.Random(7)
    start_ms = int((timezone.now().timestamp() - 3 * 86400) * 1000)
    bodies = messages(args.records, rng, start_ms)
    public = key.public_key()
    records = []
    for seq, body in enumerate(bodies, 1):
        random_key = secrets.token_urlsafe(24)
        encrypted = base64.b64encode(public.encrypt(random_key.encode(), padding.PKCS1v15())).decode()
        records.append(Record(seq, body["msgid"], 1, encrypted, standin_encrypt(random_key, json.dumps(body, ensure_ascii=False))))
    os.environ["STANDIN_SDK_DATA"] = str(write_records(tmp / "records.tsv", records))

    # The very events the pull will append (mapped beforehand: not timed), under another source.
    members = archive_pull.members_for(set(STAFF))
    events = []
    for body in bodies:
        mapped = archive_mapping.map_message(body, members)
        if mapped.event is not None and mapped.media is None:
            events.append(mapped.event)

    def bare(source: str) -> float:
        for e in events:
            e.source = source
        started = time.perf_counter()
        for i in range(0, len(events), 1000):
            append_batch(events[i : i + 1000])
        return len(events) / (time.perf_counter() - started)

    # Warm up what every process builds once (the detection engine, the first queries), untimed.
    warm = events[:50]
    append_batch([type(e)(**{**e.__dict__, "source": "warm-up"}) for e in warm])
    with_projections = bare("bare-projections")
    saved = projections._registry.copy()
    projections._registry.clear()
    try:
        ledger_only = bare("bare-ledger")
    finally:
        projections._registry.update(saved)

    started = time.perf_counter()
    result = archive_pull.pull()
    elapsed = time.perf_counter() - started
    assert result.status == "done", result.message
    assert result.cursor == args.records, result.cursor
    pulled = args.records / elapsed

    with transaction.atomic():
        row = ArchiveSettings.objects.get(pk=1)
    keys = ArchiveKey.objects.count()
    print(f"database: {vendor}; {args.records} records ({len(events)} appended at once, "
          f"{result.stored.waiting_media} images waiting for their file); {keys} key, 2048-bit RSA")  # fmt: skip
    print(f"  pull (SDK + RSA + DecryptData + mapping + append): {pulled:8.0f} records/s  ({result.pages} pages, cursor {row.cursor})")
    print(f"  bare append_batch, projections on:                {with_projections:8.0f} entries/s   ratio {pulled / with_projections:.2f}")
    print(f"  bare append_batch, projections off (ledger only): {ledger_only:8.0f} entries/s   ratio {pulled / ledger_only:.2f}")


if __name__ == "__main__":
    main()
