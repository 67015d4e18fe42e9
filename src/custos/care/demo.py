"""The demo's care: the service desk's day and key-account plans.

The desk (user `service`, at headquarters, so every store is in reach) calls grade A customers
back monthly and grade B quarterly. The nightly job ran three days ago and today; most of the
earlier tasks are done (satisfaction recorded), a few are left overdue, and one call turned up a
complaint, now in the queue of 天河店's manager (store1), not of the salesperson it is about.
Store1's grade-A customers have development, business and service lines; three of them have
key-account plans, one with a visit five days overdue.
"""

import random
from datetime import date, timedelta

from django.utils import timezone

from custos.care import greetings, key_accounts, loyalty, services
from custos.care.models import ContactTask
from custos.customers.models import Customer
from custos.org.models import Employee


def _who(username):
    return Employee.objects.filter(user__username=username).select_related("unit").first()


def build(seed: int) -> dict:
    rng = random.Random(seed + 18)
    desk, store1, region1, boss = _who("service"), _who("store1"), _who("region1"), _who("boss")
    if desk is None or store1 is None or boss is None:
        return {}
    for grade, days in (("A", 30), ("B", 90), ("C", 0), ("D", 0)):
        services.set_cadence(actor=boss, grade=grade, every_days=days)
    key = list(
        Customer.objects.filter(
            unit=store1.unit, grade="A", status=Customer.Status.ACTIVE, owner__isnull=False
        )
        .select_related("owner", "unit")
        .order_by("pk")[:40]
    )
    for c in key:
        services.assign_responsibility(
            actor=store1, customer_id=c.pk, kind="development", employee_id=store1.pk
        )
        services.assign_responsibility(actor=boss, customer_id=c.pk, kind="service", employee_id=desk.pk)

    today = timezone.localdate()
    services.generate_due_tasks(today=today - timedelta(days=3))
    earlier = list(
        ContactTask.objects.filter(status="open", queue="desk", due_on__lt=today).order_by("due_on", "pk")
    )
    complaint_task = next((t for t in earlier if t.customer.unit_id == store1.unit_id), None)
    left_overdue = {t.pk for t in earlier[-4:]} - {complaint_task.pk if complaint_task else 0}
    done = 0
    for t in earlier:
        if t.pk in left_overdue:
            continue
        if complaint_task is not None and t.pk == complaint_task.pk:
            services.record_outcome(
                actor=desk,
                task_id=t.pk,
                reached=True,
                satisfaction=2,
                complaint="上次买的大衣起球，找销售退换一直没人回，希望公司出面处理。",
                note="客户语气不满，已安抚，答应两天内回复。",
            )
        elif rng.random() < 0.2:
            services.record_outcome(actor=desk, task_id=t.pk, reached=False, note="电话未接")
        else:
            services.record_outcome(
                actor=desk,
                task_id=t.pk,
                reached=True,
                satisfaction=rng.choice([4, 5, 5, 3]),
                note=rng.choice(["对新款感兴趣", "近期不需要", "推荐了朋友来店", "满意"]),
            )
        done += 1
    made = services.generate_due_tasks()
    # Whatever the cadence's spread gives today, the desk's day also holds calls customers asked
    # for (today) and two left from the day before yesterday (overdue), on store1's key customers.
    asked = ("客户要求今天回电，想了解会员积分", "约好今天确认改衣是否满意", "客户问新款到货时间")
    for c, note in zip(key[3:6], asked, strict=False):
        services.add_task(actor=desk, customer_id=c.pk, due_on=today, note=note)
    # Asked for three days ago, for the day before yesterday: the desk has not called yet.
    for c in key[6:8]:
        services.add_task(
            actor=desk,
            customer_id=c.pk,
            due_on=today - timedelta(days=2),
            note="上周未接通",
            today=today - timedelta(days=3),
        )

    plans = 0
    for i, c in enumerate(key[:3]):
        visitor = (store1, c.owner, region1 or store1)[i]
        # The first plan was made a month ago for a visit five days ago, which was not made:
        # it shows on the managers' page as overdue.
        plan = key_accounts.create_plan(
            actor=store1 if visitor != region1 else region1,
            customer_id=c.pk,
            visitor_id=visitor.pk,
            every_days=(30, 14, 60)[i],
            gifts=("中秋礼盒", "生日鲜花", "新年台历")[i],
            events=("新品品鉴会", "", "年度客户答谢会")[i],
            first_visit_on=today + timedelta(days=(-5, 2, 20)[i]),
            today=today - timedelta(days=30) if i == 0 else None,
        )
        if i == 0:
            key_accounts.record_visit(
                actor=store1, plan_id=plan.pk, kind="gift", note="送去中秋礼盒，老板很高兴"
            )
        plans += 1
    key_accounts.send_reminders()
    templates = (
        ("birthday", "生日祝福", "{name}您好，今天是您的生日，衣尚全体同事祝您生日快乐，万事顺意！"),
        (
            "anniversary",
            "成为客户周年",
            "{name}您好，感谢您{years}年来对衣尚的信任与支持，期待继续为您服务。",
        ),
        ("holiday", "节日问候", "{holiday}快乐！衣尚祝您和家人节日愉快。"),
    )
    for occasion, title, text in templates:
        greetings.add_template(actor=store1, occasion=occasion, title=title, text=text)
    # Holidays on fixed dates (春节 and 中秋 move with the lunar calendar: the company adds them).
    for year in (today.year, today.year + 1):
        for month, day, name in (
            (1, 1, "元旦"),
            (3, 8, "妇女节"),
            (5, 1, "劳动节"),
            (10, 1, "国庆节"),
            (12, 25, "圣诞节"),
        ):
            greetings.add_holiday(actor=boss, name=name, day=date(year, month, day))
    # Loyalty: three levels by spend and frequency over a year; points for every demo purchase.
    loyalty.set_program(actor=boss, points_per_yuan=1, expiry_days=365, window_days=365)
    for rank, (code, name, spend, n, benefits) in enumerate(
        (
            ("silver", "银卡会员", 2000, 2, "95折；生日当月双倍积分"),
            ("gold", "金卡会员", 8000, 4, "9折；免费改衣；新品优先试穿"),
            ("diamond", "钻石会员", 20000, 8, "85折；专属搭配师；年度答谢会邀请"),
        ),
        start=1,
    ):
        loyalty.set_level(
            actor=boss, code=code, name=name, rank=rank, min_spend=spend, min_purchases=n, benefits=benefits
        )
    earned = loyalty.earn_for_purchases()
    member = (
        Customer.objects.filter(unit=store1.unit, loyalty__balance__gte=500, owner__isnull=False)
        .select_related("owner")
        .order_by("pk")
        .first()
    )
    if member is not None:
        loyalty.redeem(actor=member.owner, customer_id=member.pk, points=300, reward="羊绒围巾一条")
    return {
        "points_earned": earned,
        "lines": 2 * len(key),
        "tasks_done": done,
        "tasks_made_today": sum(made.values()),
        "overdue": ContactTask.objects.filter(status="open", due_on__lt=today).count(),
        "complaints": ContactTask.objects.filter(kind="complaint").count(),
        "plans": plans,
    }
