"""The field side of the phone agent: what a work phone sends when its user visits customers.

The phone agent is another program; this module is the reference client of the protocol
(docs/field.md) and what `custos device simulate` plays. Every call goes through `send(method,
path, body)`, given by the caller, which signs the request with the device credential (as
custos.archive.signing.signed_headers does), sends `body` as JSON when it is a dict or list and
as raw bytes when it is bytes, and returns the decoded JSON answer (raising on an HTTP error).

    PUT  /api/v1/ingest/blobs/{sha256}     the photo (the archive's blob store, encrypted)
    POST /api/v1/field/agent/check-ins     {customer_id, lat, lon, accuracy_m, photo_sha256, ...}
    POST /api/v1/field/agent/check-outs    {visit_id, lat, lon, accuracy_m, report, ...}
    POST /api/v1/field/agent/track         {points: [{lat, lon, accuracy_m, at, mock_location}]}
    GET  /api/v1/field/agent/sites         the customers' sites the phone's employee may visit

No database and no Django here: the simulator runs from any machine holding a credential.
"""

import hashlib
import io
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

PHOTO_PATH = "/api/v1/ingest/blobs/{sha256}"
CHECK_IN_PATH = "/api/v1/field/agent/check-ins"
CHECK_OUT_PATH = "/api/v1/field/agent/check-outs"
TRACK_PATH = "/api/v1/field/agent/track"
SITES_PATH = "/api/v1/field/agent/sites"
TRACK_BATCH = 500  # points a request; the server takes up to 1,000

Send = Callable[[str, str, object], dict]

REPORTS = [
    ("门店陈列已检查，新品海报已张贴", "客户对新品感兴趣"),
    ("与店长沟通下月订货计划", "预计下月追加订货"),
    ("收集客户对售后服务的意见", "客户满意"),
    ("演示新款产品，留下样品", "客户考虑中，下周回复"),
    ("核对上月对账单，无差异", "对账完成"),
]


def _iso(at: datetime | None) -> str:
    return (at or datetime.now(UTC)).isoformat()


def check_in(
    send: Send,
    *,
    customer_id: int,
    lat: float,
    lon: float,
    accuracy_m: float,
    photo: bytes,
    mock_location: bool = False,
    at: datetime | None = None,
    address: str = "",
) -> dict:
    """Upload the watermark camera's photo, then check in at the customer; returns the visit
    ({"id", "distance_m", "alerts": [...], ...})."""
    sha256 = hashlib.sha256(photo).hexdigest()
    send("PUT", PHOTO_PATH.format(sha256=sha256), photo)
    return send(
        "POST",
        CHECK_IN_PATH,
        {
            "customer_id": customer_id,
            "lat": lat,
            "lon": lon,
            "accuracy_m": accuracy_m,
            "photo_sha256": sha256,
            "mock_location": bool(mock_location),
            "at": _iso(at),
            "address": address,
        },
    )


def check_out(
    send: Send,
    *,
    visit_id: int,
    lat: float,
    lon: float,
    accuracy_m: float,
    report: str = "",
    outcome: str = "",
    mock_location: bool = False,
    at: datetime | None = None,
) -> dict:
    """Check out of a visit with its report (a visit follow-up on the customer's file)."""
    return send(
        "POST",
        CHECK_OUT_PATH,
        {
            "visit_id": visit_id,
            "lat": lat,
            "lon": lon,
            "accuracy_m": accuracy_m,
            "mock_location": bool(mock_location),
            "at": _iso(at),
            "report": report,
            "outcome": outcome,
        },
    )


def sites(send: Send, limit: int = 500) -> list[dict]:
    """The sites of the customers the phone's employee may visit, as field_day takes them."""
    return list(send("GET", f"{SITES_PATH}?limit={limit}", b"") or [])


def track(send: Send, points: list[dict]) -> dict:
    """Send track points ({lat, lon, accuracy_m, at, mock_location?}) in batches; returns the totals."""
    totals = {"accepted": 0, "alerts": 0}
    for start in range(0, len(points), TRACK_BATCH):
        batch = [
            {**p, "at": p["at"].isoformat() if isinstance(p["at"], datetime) else p["at"]}
            for p in points[start : start + TRACK_BATCH]
        ]
        answer = send("POST", TRACK_PATH, {"points": batch}) or {}
        totals["accepted"] += answer.get("accepted", 0)
        totals["alerts"] += len(answer.get("alerts", []))
    return totals


# --- photos --------------------------------------------------------------------------------------


def photo(seed: int, size: tuple[int, int] = (480, 360), quality: int = 85) -> bytes:
    """A JPEG of a made-up shop front: shapes at large scale, so two seeds give photos whose
    perceptual hashes differ as two real sites' would."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    width, height = size
    image = Image.new("RGB", size, tuple(rng.randint(40, 215) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(5, 9)):
        x0, y0 = rng.randint(-width // 4, width), rng.randint(-height // 4, height)
        w, h = rng.randint(width // 5, width // 1), rng.randint(height // 5, height // 1)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        shape = draw.ellipse if rng.random() < 0.4 else draw.rectangle
        shape([x0, y0, x0 + w, y0 + h], fill=colour)
    for _ in range(rng.randint(200, 400)):  # texture: a real photo is never flat
        x, y = rng.randrange(width), rng.randrange(height)
        draw.point((x, y), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def reuse(jpeg: bytes, *, crop: int = 3, quality: int = 70) -> bytes:
    """The same photo passed off as new: slightly cropped and re-encoded (other bytes, other SHA-256)."""
    from PIL import Image

    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    width, height = image.size
    image = image.crop((crop, crop, width - crop, height - crop))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


# --- a day in the field --------------------------------------------------------------------------

EARTH_M = 6_371_000.0


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point `north_m` north and `east_m` east of (lat, lon)."""
    dlat = math.degrees(north_m / EARTH_M)
    dlon = math.degrees(east_m / (EARTH_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def _leg(a: tuple[float, float], b: tuple[float, float], start: datetime, minutes: float, rng) -> list[dict]:
    """Track points every minute or so from a to b, as a car in city traffic would record them."""
    steps = max(2, int(minutes))
    points = []
    for i in range(1, steps + 1):
        f = i / steps
        lat = a[0] + (b[0] - a[0]) * f + rng.uniform(-0.00015, 0.00015)
        lon = a[1] + (b[1] - a[1]) * f + rng.uniform(-0.00015, 0.00015)
        at = start + timedelta(minutes=minutes * f)
        points.append(
            {"lat": round(lat, 6), "lon": round(lon, 6), "accuracy_m": rng.randint(5, 25), "at": at}
        )
    return points


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(h))


def field_day(
    send: Send,
    *,
    rng: random.Random,
    sites: list[dict],
    fake: bool = False,
    start: tuple[float, float] | None = None,
    end: datetime | None = None,
    fake_how: str | None = None,
) -> dict:
    """Play a day of visits to `sites` ({customer_id, lat, lon, name?, address?}), in order: drive
    there (track points), check in on site with a fresh photo, stay 20-40 minutes, check out with
    a report, drive on. The day ends at `end` (now by default), so every time sent is in the past.

    With fake=True one visit is faked, the way people fake them: either the check-in is made far
    from the site (from a café, with the photo of somewhere else), or the photo is an earlier
    visit's, cropped and re-encoded (fake_how "far" or "reused" chooses; by default the rng does).
    Returns what was sent and the server's answers.
    """
    if not sites:
        return {"visits": [], "points": 0, "faked": None}
    end = end or datetime.now(UTC)
    position = start or offset(sites[0]["lat"], sites[0]["lon"], -3000, -2500)
    # Plan the times first: travel at ~25 km/h in town, 20-40 minutes at each site.
    plan, clock = [], 0.0
    here = position
    for site in sites:
        there = (site["lat"], site["lon"])
        drive = max(5.0, _distance_m(here, there) / 1000 / 25 * 60)
        stay = rng.uniform(20, 40)
        plan.append((site, clock, drive, stay))
        clock += drive + stay
        here = there
    day_start = end - timedelta(minutes=clock + 5)
    faked_at = rng.randrange(1, len(sites)) if fake and len(sites) > 1 else (0 if fake else None)
    how = (fake_how or rng.choice(("far", "reused"))) if faked_at is not None else None
    if how == "reused" and faked_at == 0:
        how = "far"  # no earlier photo to reuse
    photos: list[bytes] = []
    points: list[dict] = []
    visits = []
    here = position
    for index, (site, minute, drive, stay) in enumerate(plan):
        leave = day_start + timedelta(minutes=minute)
        there = (site["lat"], site["lon"])
        jitter = offset(there[0], there[1], rng.uniform(-25, 25), rng.uniform(-25, 25))
        if index == faked_at and how == "far":
            # Checked in from somewhere else, 3-6 km off: the track goes there, not to the site.
            jitter = offset(there[0], there[1], rng.uniform(3000, 6000), rng.uniform(-3000, 3000))
        points += _leg(here, jitter, leave, drive, rng)
        arrived = leave + timedelta(minutes=drive)
        shot = photo(rng.randrange(1 << 30))
        if index == faked_at and how == "reused":
            shot = reuse(photos[rng.randrange(len(photos))])
        photos.append(shot)
        visit = check_in(
            send,
            customer_id=site["customer_id"],
            lat=round(jitter[0], 6),
            lon=round(jitter[1], 6),
            accuracy_m=rng.randint(5, 20),
            photo=shot,
            at=arrived,
            address=site.get("address", ""),
        )
        content, outcome = rng.choice(REPORTS)
        done = arrived + timedelta(minutes=stay)
        # Points while on site: standing about, a few metres' drift.
        for k in range(1, int(stay // 5) + 1):
            near = offset(jitter[0], jitter[1], rng.uniform(-8, 8), rng.uniform(-8, 8))
            points.append({"lat": round(near[0], 6), "lon": round(near[1], 6), "accuracy_m": rng.randint(5, 15),
                           "at": arrived + timedelta(minutes=5 * k)})  # fmt: skip
        out = check_out(
            send,
            visit_id=visit["id"],
            lat=round(jitter[0], 6),
            lon=round(jitter[1], 6),
            accuracy_m=rng.randint(5, 20),
            report=content,
            outcome=outcome,
            at=done,
        )
        visits.append({"site": site, "check_in": visit, "check_out": out, "faked": index == faked_at})
        here = jitter
    sent = track(send, sorted(points, key=lambda p: p["at"]))
    return {"visits": visits, "points": len(points), "track": sent, "faked": how}
