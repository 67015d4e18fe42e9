"""A table of messages, each with the categories it must raise, or none: every disguise and context."""

import pytest

PD, CD, KB, PAY, POACH, LEAK = (
    "private_deal",
    "contact_diversion",
    "kickback",
    "payment_diversion",
    "poaching",
    "contact_leak",
)

# (text, categories that must be raised) for staff messages
POSITIVE = [
    # plain terms, one per category
    ("这单咱们私下交易吧", {PD}),
    ("绕开公司直接跟我签", {PD}),
    ("以后加我私人微信", {CD}),
    ("给你百分之五的回扣", {KB}),
    ("钱打到我个人账户", {PAY}),
    ("我自己开了一家店，你来看看", {POACH}),
    # full-width and half-width, case
    ("加我ＷＸ", {CD}),
    ("加我Ｖ信", {CD}),
    ("加我VX吧", {CD}),
    ("加我Vx吧", {CD}),
    ("加我ｑｑ", {CD}),
    ("私　单", {PD}),
    ("我手机１３７１２３４５６７８", {LEAK}),
    # traditional → simplified
    ("飛單的事別聲張", {PD}),
    ("加我個人微信", {CD}),
    ("現金直接給我", {PAY}),
    ("我離職後找我買", {POACH}),
    ("好處費少不了你", {KB}),
    ("轉我個人賬戶", {PAY}),
    # spaces, punctuation, symbols and emoji between characters
    ("私 单", {PD}),
    ("私-单", {PD}),
    ("私*单*的事", {PD}),
    ("私💰单", {PD}),
    ("回❤️扣", {KB}),
    ("加~我~微~信", {CD}),
    ("好.处.费", {KB}),
    ("私\u200b单", {PD}),
    ("飞\ufe0f单", {PD}),
    ("别 走 公 司 的 单", {PD}),
    ("加【我】私【人】微【信】", {CD}),
    ("绕/开/公/司", {PD}),
    # repeated characters
    ("回回扣扣照给", {KB}),
    ("飞飞飞单单", {PD}),
    ("私私单", {PD}),
    ("加加我微微信", {CD}),
    ("好好处处费费", {KB}),
    # homophones and look-alikes
    ("加我薇信", {CD}),
    ("加我威信", {CD}),
    ("加我徽信", {CD}),
    ("加我维信号", {CD}),
    ("加我V信", {CD}),
    ("加我vx", {CD}),
    ("快加我wx", {CD}),
    ("加我微x", {CD}),
    ("加我扣扣", {CD}),
    ("加我企鹅", {CD}),
    ("这个单子我们斯下交易", {PD}),
    ("私下交義", {PD}),
    # pinyin spelled out, whole or mixed
    ("jia wo wei xin", {CD}),
    ("JIA WO WEIXIN", {CD}),
    ("si xia jiao yi 比较划算", {PD}),
    ("fei dan", {PD}),
    ("FeiDan 的事你知道", {PD}),
    ("hui kou 少不了", {KB}),
    ("hao chu fei", {KB}),
    ("加wo微xin", {CD}),
    ("私xia交易", {PD}),
    # phone numbers, with digits disguised
    ("我手机 13712345678，有事直接打", {LEAK}),
    ("电话137-1234-5678", {LEAK}),
    ("电话 137 1234 5678", {LEAK}),
    ("电话137.1234.5678", {LEAK}),
    ("打这个 +86 137 1234 5678", {LEAK}),
    ("8613712345678", {LEAK}),
    ("我手机一三七一二三四五六七八", {LEAK}),
    ("幺三七 幺二三四 五六七八", {LEAK}),
    ("壹叁柒壹贰叁肆伍陆柒捌", {LEAK}),
    ("①③⑦①②③④⑤⑥⑦⑧", {LEAK}),
    ("❶❸❼❶❷❸❹❺❻❼❽", {LEAK}),
    ("1🙂3🙂7🙂1🙂2🙂3🙂4🙂5🙂6🙂7🙂8", {LEAK}),
    ("13712345678，13812345678 都可以", {LEAK}),
    # WeChat ids and QQ numbers
    ("微信号 chen_xiao_2026 加一下", {LEAK}),
    ("vx: wangwei88", {LEAK}),
    ("微信号是：Li-Ming2020", {LEAK}),
    ("微信号 wangwei", {LEAK}),
    ("加我微信 abc_123", {CD, LEAK}),
    ("qq 12345678", {LEAK}),
    ("扣扣号：一二三四五六七八", {LEAK}),
    # proximity rules
    ("你直接扫我这个码就行", {PAY}),
    ("转给我支付宝就好", {PAY}),
    ("你微信转我吧", {PAY}),
    ("现金你当面给我", {PAY}),
    ("我下个月就离职了，到时候你加我", {POACH}),
    ("我辞职以后去新公司了，还找我", {POACH}),
    ("自己开了家店", {POACH}),
    ("有事联系我微信", {CD}),
]

# staff messages that must raise nothing
NEGATIVE = [
    "王经理在公司很有威信",
    "他在公司的威信很高",
    "售后请加门店企业微信，有专人服务",
    "加我们门店企业微信",
    "请加我们的企业微信，方便售后",
    "店里支持微信支付",
    "关注我们的官方公众号领优惠券",
    "全国客服热线 400-820-8820",
    "有问题打 800-810-8888",
    "快递单号 JD0012345678901",
    "顺丰单号 SF1371234567890",
    "这套沙发原价 15900 元，活动价 12900 元",
    "订单时间 2026-01-15 13:45:20",
    "货款请转到合同上的公司对公账户",
    "付款请转到我们公司账户",
    "新店开业，总部统一安排了优惠",
    "交易已经通过公司系统确认",
    "这件衬衫的扣子可以换",
    "这是您的第四单了，谢谢支持",
    "我们的技术很先进",
    "公司现金流很健康",
    "公司严禁私单飞单",
    "举报飞单有奖励",
    "禁止收受回扣",
    "谢谢谢谢，哈哈哈好的",
    "有没有优惠券",
    "好的好的，您慢走",
    "thisidan is not pinyin",
    "微信 already sent",
    "他有微信吗",
    "我开车过去",
    "离职手续办完了，客户都交接给小王了",
    "我的手机没电了",
    "vip会员可以打九五折",
    "私人定制的沙发要等两周",
    "你们公司的二维码在收银台",
    "您的个人账户信息已经更新",
    "请您不要相信任何私下交易的说法",
    "返点政策以公司公告为准",
    "现金支付也可以，我们给您开收据",
    "打我电话就行，我随时在",
    "我们的微信客服24小时在线",
]

# (text, sender role, categories that must NOT be raised for that role)
ROLES = [
    ("我手机 13712345678", "customer", {LEAK}),
    ("加我微信吧", "customer", {CD}),
    ("我自己开了家店", "customer", {POACH}),
    ("微信号 chen_xiao_2026", None, {LEAK}),
    ("钱转到我个人账户就行", "customer", {PAY}),
]


@pytest.mark.parametrize(("text", "expected"), POSITIVE, ids=[t for t, _ in POSITIVE])
def test_raises(categories, text, expected):
    assert expected <= categories(text)


@pytest.mark.parametrize("text", NEGATIVE)
def test_clean(engine, text):
    assert engine.scan(text, sender_role="staff") == []


@pytest.mark.parametrize(("text", "role", "absent"), ROLES)
def test_sender_role(categories, text, role, absent):
    assert not absent & categories(text, role)
    assert absent <= categories(text, "staff")


def test_customer_still_raises_deal_categories(categories):
    assert categories("能不能私下交易便宜点", "customer") == {PD}


def test_the_table_is_big_enough():
    assert len(POSITIVE) + len(NEGATIVE) + len(ROLES) >= 80
