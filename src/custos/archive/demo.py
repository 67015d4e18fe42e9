"""Half a year of conversations and calls for the demo company, in Chinese.

Every salesperson gets a work phone (a device token) and chats with a share of their customers
over the past six months: greetings, new arrivals, fittings, prices, deliveries, photos of the
clothes, voice notes, red packets on holidays, calls with notes. A few messages are recalled,
a few chats deleted on the phone, a few customers deleted by the staff member, a few suspicious
phrases ("加我私人微信") for the detectors. Some contacts match no customer yet, so a manager has
something to link. Everything goes through services.ingest, as a device's batches would, so
the archive's projection fills as in production. Seeded: the same seed, the same archive.
"""

import hashlib
import random
from datetime import datetime, time, timedelta

from django.utils import timezone

from custos.archive import blobs, credentials, media, services
from custos.customers import contacts
from custos.customers.models import Customer, CustomerContact
from custos.org.models import Employee, Role

DAYS = 182
BATCH = 1000

OPENERS = [
    "{name}您好，我是{store}的{me}，之前您来店里看过的那款到货了",
    "{name}，周末店里有新品上架，欢迎过来试穿",
    "您好{name}，上次您问的尺码已经给您留好了",
    "{name}，我们店会员日全场八折，提醒您一下哦",
]
STAFF = [
    "这款是今年的新款，面料是羊毛混纺的，很保暖",
    "给您发几张实拍图看看",
    "颜色有黑色、驼色和藏青三种",
    "您平时穿M码还是L码？",
    "这件大衣现在活动价1280，会员再打九五折",
    "可以先帮您预留三天",
    "已经帮您下单了，明天顺丰发出",
    "快递单号稍后发您",
    "收到衣服合适吗？有问题随时找我",
    "不合适的话七天内可以到店换",
    "好的，那我们周六下午见",
    "这个价格已经是最低了，店长那边也批不下来更多",
    "我们店里还送免费改裤长",
]
CUSTOMER = [
    "好的，谢谢",
    "有没有别的颜色？",
    "能便宜点吗？",
    "周末我过去看看",
    "发几张图我看看",
    "我穿L码",
    "收到了，挺合适的",
    "袖子有点长，能改吗",
    "上次买的那件洗了有点起球",
    "嗯嗯，先帮我留着",
    "老公说颜色太深了",
    "可以到付吗",
]
SUSPICIOUS = [
    "以后直接加我私人微信，我私下给你便宜点",
    "你直接转我个人账户就行，不走店里的单",
    "我下个月去别家店了，你以后找我就行",
]
CALL_NOTES = ["确认到店时间", "回访购买体验", "通知到货", "客户咨询退换", "约周末试衣", ""]
FESTIVE = ["节日快乐，一点心意", "感谢您一直以来的支持", "新年快乐！"]
COLOURS = [((194, 154, 108), (120, 80, 50)), ((40, 50, 80), (90, 110, 160)), ((20, 20, 20), (90, 90, 90)),
           ((180, 30, 40), (230, 200, 200)), ((220, 220, 210), (150, 150, 140))]  # fmt: skip


def _media(rng: random.Random) -> tuple[list[dict], list[dict]]:
    """A few small photos and voice notes, stored in the blob store; their attachment dicts."""
    images, voices = [], []
    for i, (colour, stripe) in enumerate(COLOURS):
        data = media.png(96, 128, colour, stripe, seed=i)
        blobs.store_bytes(data)
        images.append({"sha256": hashlib.sha256(data).hexdigest(), "name": f"IMG_20{i:02d}.png", "size": len(data), "mime": "image/png"})
    for i, pitch in enumerate((220, 260, 300)):
        data = media.wav(1.2 + i * 0.6, pitch)
        blobs.store_bytes(data)
        voices.append({"sha256": hashlib.sha256(data).hexdigest(), "name": f"voice_{i}.wav", "size": len(data), "mime": "audio/wav"})
    return images, voices


def _contact_of(customer: Customer) -> tuple[str | None, str | None]:
    """(WeChat or WeCom id, phone) of a demo customer, in clear: what the phone would see."""
    wechat = phone = None
    for c in customer.contacts_in_use:
        if c.kind in (CustomerContact.Kind.WECHAT, CustomerContact.Kind.WECOM) and wechat is None:
            wechat = contacts.open_value(c)
        elif c.kind == CustomerContact.Kind.PHONE and phone is None:
            phone = contacts.open_value(c)
    return wechat, phone


def build(seed: int = 2026, per_staff: int = 10) -> dict:
    rng = random.Random(seed * 31 + 5)
    now = timezone.now()
    admin = Employee.objects.filter(role=Role.ADMIN).order_by("pk").first()
    staff = list(Employee.objects.filter(role=Role.SALES, status="active").select_related("unit").order_by("pk"))
    if admin is None or not staff:
        return {"messages": 0}
    images, voices = _media(rng)
    counts = {"accepted": 0, "rejected": 0}
    from django.db.models import Prefetch

    live = Prefetch("contacts", queryset=CustomerContact.objects.filter(removed_at__isnull=True), to_attr="contacts_in_use")
    for employee in staff:
        token, _clear, _secret = credentials.issue(actor=admin, kind="device", name=f"{employee.name}的工作手机", employee=employee)
        customers = list(Customer.objects.filter(owner=employee, status="active").prefetch_related(live).order_by("pk")[: per_staff])
        events: list[dict] = []
        serial = [0]

        def add(kind, at, payload, events=events, serial=serial, employee=employee):
            serial[0] += 1
            at = min(at, now - timedelta(minutes=1))  # a chat running into today stops at now
            sid = f"demo-{employee.pk}-{serial[0]}"
            events.append({"kind": kind, "source_id": sid, "occurred_at": at.isoformat(), "payload": payload})
            return sid

        leads = [(None, f"wm_lead_{employee.pk}_{i}", f"新客户{rng.choice('ABCDEFGH')}{i}") for i in range(2)]
        people = [(c, *_contact_of(c)) for c in customers]
        for customer, wechat, phone in [*((c, w, p) for c, w, p in people), *((None, key, None) for _n, key, _name in leads)]:
            key = wechat or (f"tel_{hashlib.sha256(phone.encode()).hexdigest()[:12]}" if phone else None)
            if key is None:
                continue
            name = customer.name if customer else next(n for _c, k, n in leads if k == key)
            day = now - timedelta(days=rng.randint(30, DAYS))
            at = timezone.make_aware(datetime.combine(timezone.localdate(day), time(rng.randint(9, 19), rng.randint(0, 59))))
            add("contact.added", at, {"contact": key, "name": name, **({"phone": phone} if phone else {})})
            sent_ids = []
            for _round in range(rng.randint(2, 6)):
                day = timezone.localdate(at + timedelta(days=rng.randint(3, 30)))
                at = timezone.make_aware(datetime.combine(day, time(rng.randint(9, 17), rng.randint(0, 59))))
                if at >= now - timedelta(hours=1):
                    break
                text = rng.choice(OPENERS).format(name=name[:1] + ("先生" if rng.random() < 0.4 else "女士"), store=employee.unit.name, me=employee.name)
                sent_ids.append(add("message.sent", at, {"msgtype": "text", "conversation": key, "contact": key, "text": text}))
                for _ in range(rng.randint(2, 7)):
                    at += timedelta(minutes=rng.randint(1, 40))
                    roll = rng.random()
                    if roll < 0.45:
                        add("message.received", at, {"msgtype": "text", "conversation": key, "contact": key, "text": rng.choice(CUSTOMER)})
                    elif roll < 0.8:
                        sent_ids.append(add("message.sent", at, {"msgtype": "text", "conversation": key, "contact": key, "text": rng.choice(STAFF)}))
                    elif roll < 0.9:
                        add("message.sent", at, {"msgtype": "image", "conversation": key, "contact": key, "attachment": rng.choice(images)})
                    elif roll < 0.96:
                        role = rng.choice(("message.sent", "message.received"))
                        add(role, at, {"msgtype": "voice", "conversation": key, "contact": key, "attachment": rng.choice(voices)})
                    else:
                        add("message.sent", at, {"msgtype": "redpacket", "conversation": key, "contact": key, "amount": rng.choice((666, 888, 1888)), "text": rng.choice(FESTIVE)})
                if phone and rng.random() < 0.5 and at < now - timedelta(days=2):
                    at += timedelta(hours=rng.randint(1, 3))
                    add("call.logged", at, {"direction": rng.choice(("in", "out")), "number": phone, "duration_s": rng.randint(15, 600), "note": rng.choice(CALL_NOTES), "contact": key})
            if sent_ids and rng.random() < 0.12 and at < now - timedelta(hours=2):
                at += timedelta(minutes=1)
                sid = add("message.sent", at, {"msgtype": "text", "conversation": key, "contact": key, "text": rng.choice(SUSPICIOUS)})
                if rng.random() < 0.6:
                    add("message.recalled", at + timedelta(seconds=50), {"message": sid, "conversation": key})
            elif sent_ids and rng.random() < 0.05:
                add("message.recalled", at + timedelta(seconds=30), {"message": sent_ids[-1], "conversation": key})
            if rng.random() < 0.04 and at < now - timedelta(hours=2):
                add("chat.deleted_on_device", at + timedelta(hours=1), {"conversation": key, "contact": key})
            if rng.random() < 0.02 and at < now - timedelta(hours=3):
                add("contact.deleted_by_staff", at + timedelta(hours=2), {"contact": key})
        events.sort(key=lambda e: e["occurred_at"])
        for i in range(0, len(events), BATCH):
            for result in services.ingest(token, events[i : i + BATCH]):
                counts["accepted" if result.status != "rejected" else "rejected"] += 1
    return counts
