"""The demo organisation: a clothing chain with HQ, two regions, six stores and ~40 staff.

Everything is drawn from a seeded random generator, so the same seed gives the same company.
"""

import random
from datetime import date, timedelta

from custos.org import services
from custos.org.models import Employee, Role, Unit

DEMO_PASSWORD = "custos-demo-2026"  # noqa: S105 - printed by `custos demo`, for the demo only

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬斌宇浩凯健俊帆帅旭宁欣婷雪琳晨颖佳怡梦瑶淑慧雅倩璐露媛嘉鑫鹏飞龙亮"

REGIONS = {
    "华南区": ["广州天河店", "佛山祖庙店", "深圳南山店"],
    "华东区": ["上海徐汇店", "杭州湖滨店", "南京新街口店"],
}


def chinese_name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def build(seed: int = 2026) -> dict:
    """Create the demo org; returns the logins worth printing."""
    rng = random.Random(seed)
    hq = services.create_unit(actor=None, name="衣尚服饰总部", kind=Unit.Kind.HQ, parent=None)
    used: set[str] = set()
    counter = [0]

    def hire(unit: Unit, role: str, username: str | None = None) -> Employee:
        name = chinese_name(rng)
        while name in used:
            name = chinese_name(rng)
        used.add(name)
        counter[0] += 1
        return services.create_employee(
            actor=None,
            name=name,
            username=username or f"u{counter[0]:03d}",
            password=DEMO_PASSWORD,
            unit=unit,
            role=role,
            employee_no=f"YS{counter[0]:04d}",
            hired_on=date(2026, 11, 1) - timedelta(days=rng.randint(60, 2400)),
        )

    logins = {
        "admin": hire(hq, Role.ADMIN, "admin"),
        "boss": hire(hq, Role.EXECUTIVE, "boss"),
        "auditor": hire(hq, Role.AUDITOR, "auditor"),
    }
    hire(hq, Role.SERVICE, "service")
    for r_index, (region_name, stores) in enumerate(REGIONS.items()):
        region = services.create_unit(actor=None, name=region_name, kind=Unit.Kind.REGION, parent=hq)
        region_manager = hire(region, Role.MANAGER, f"region{r_index + 1}")
        if r_index == 0:
            logins["region1"] = region_manager
        for s_index, store_name in enumerate(stores):
            store = services.create_unit(actor=None, name=store_name, kind=Unit.Kind.STORE, parent=region)
            number = r_index * 3 + s_index + 1
            manager = hire(store, Role.MANAGER, f"store{number}")
            first_sales = hire(store, Role.SALES, f"sales{number}")
            for _ in range(rng.randint(3, 4)):
                hire(store, Role.SALES)
            hire(store, Role.SERVICE)
            if number == 1:
                logins["store1"], logins["sales1"] = manager, first_sales
    return logins
