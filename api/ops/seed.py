"""A deterministic demo bank, loaded with COPY: branches, RMs, the catalog, customers and their
holdings, interactions and relationship states, long-tailed like a real customer base."""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from stdnum.cn import ric, uscc

from api.db.completeness import assess_everyone
from api.db.document_crypto import DocumentCrypto
from api.db.engine import async_url, asyncpg_dsn
from api.db.tables import Base
from api.ops.seed_import import SeedImport, customer_ids, key_of, mapped
from domain.customers.model import (
    AssetBand,
    BusinessScale,
    CreditStatus,
    Gender,
    IncomeBand,
    LifecycleStage,
    OwnershipType,
    PreferredChannel,
)
from domain.interactions import Channel, InteractionKind, InteractionOutcome
from domain.products import ProductCategory

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史黎贺顾毛郝龚邵万钱覃武戴孔汤庞樊兰殷施陶洪翟安颜倪严牛温芦季俞章鲁葛伍申尤毕聂柴焦向柳邢岳齐梅莫庄辛管祝左涂谷祁时舒耿牟卜路詹关苗凌费纪靳盛童欧甄项曲成游阳裴席卫查屈鲍位覃霍翁隋植甘景薄单包司柏宁柯阮桂闵欧阳解强丛华车冉房边辜吉饶刁瞿戚丘古米池滕晋苑邬臧畅宫来嵺苟全褚廉简娄盖符奚木穆党燕郎邸冀谈姬屠连郜晏栾郁商蒙计喻揭窦迟宇敖糜鄢冷卓花艾蓝都巩稽井练仲乐虞卞封竺冼原官衣楚佟栗匡宗应台巫鞠僧桑荆谌银扬明沙薄伏岑习胥保和蔺"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红娥玲芬建华建国志强志明海燕春梅晓东晓明小红丹宇鹏飞俊博文浩然子涵梓萱一诺欣怡雨桐思远嘉怡天佑宇轩"
OCCUPATIONS = [
    "教师",
    "工程师",
    "医生",
    "会计",
    "公务员",
    "销售经理",
    "律师",
    "个体工商户",
    "自由职业",
    "退休",
    "学生",
    "护士",
    "程序员",
    "司机",
    "厨师",
]
EMPLOYERS = [
    "华兴科技有限公司",
    "市第一人民医院",
    "市实验中学",
    "东方建设集团",
    "个体经营",
    "中原物流有限公司",
    "新海电子股份有限公司",
    None,
]
INDUSTRIES = [
    "制造业",
    "批发和零售业",
    "信息技术服务",
    "建筑业",
    "房地产业",
    "交通运输",
    "住宿和餐饮业",
    "煤炭开采",
    "纺织业",
    "新能源",
]
COMPANY_WORDS = [
    "华信",
    "宏远",
    "鼎盛",
    "恒通",
    "瑞丰",
    "金桥",
    "天成",
    "博雅",
    "中联",
    "永安",
    "新锐",
    "同创",
]
STREETS = [
    "人民路",
    "解放路",
    "中山路",
    "建设路",
    "和平路",
    "长江路",
    "新华街",
    "文化路",
    "科技大道",
    "滨江大道",
]

# City: (branch code, region codes of its districts for resident IDs, district names)
CITIES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "北京": ("BJ", ("110101", "110105", "110108"), ("东城区", "朝阳区", "海淀区")),
    "上海": ("SH", ("310101", "310104", "310115"), ("黄浦区", "徐汇区", "浦东新区")),
    "广州": ("GZ", ("440103", "440106", "440104"), ("荔湾区", "天河区", "越秀区")),
    "深圳": ("SZ", ("440303", "440304", "440305"), ("罗湖区", "福田区", "南山区")),
    "杭州": ("HZ", ("330102", "330106", "330108"), ("上城区", "西湖区", "滨江区")),
    "成都": ("CD", ("510104", "510105", "510107"), ("锦江区", "青羊区", "武侯区")),
    "武汉": ("WH", ("420102", "420103", "420106"), ("江岸区", "江汉区", "武昌区")),
    "南京": ("NJ", ("320102", "320104", "320106"), ("玄武区", "秦淮区", "鼓楼区")),
}
FALLBACK_REGION = "110101"  # 东城区, valid for every birth year the seeder draws

# (code, name, category, audience, currency)
CATALOG: tuple[tuple[str, str, ProductCategory, str, str], ...] = (
    ("DEP-CUR", "活期储蓄", ProductCategory.DEPOSIT, "personal", "CNY"),
    ("DEP-USD", "美元活期储蓄", ProductCategory.DEPOSIT, "personal", "USD"),
    ("DEP-CORP", "单位活期存款", ProductCategory.DEPOSIT, "corporate", "CNY"),
    ("TD-3M", "三个月整存整取", ProductCategory.TIME_DEPOSIT, "personal", "CNY"),
    ("TD-1Y", "一年期整存整取", ProductCategory.TIME_DEPOSIT, "any", "CNY"),
    ("TD-3Y", "三年期大额存单", ProductCategory.TIME_DEPOSIT, "any", "CNY"),
    ("LN-MORT", "个人住房贷款", ProductCategory.LOAN, "personal", "CNY"),
    ("LN-CONS", "个人消费贷款", ProductCategory.LOAN, "personal", "CNY"),
    ("LN-WC", "流动资金贷款", ProductCategory.LOAN, "corporate", "CNY"),
    ("LN-FA", "固定资产贷款", ProductCategory.LOAN, "corporate", "CNY"),
    ("CC-STD", "标准信用卡", ProductCategory.CREDIT_CARD, "personal", "CNY"),
    ("CC-PLAT", "白金信用卡", ProductCategory.CREDIT_CARD, "personal", "CNY"),
    ("DC-STD", "借记卡", ProductCategory.DEBIT_CARD, "personal", "CNY"),
    ("WM-FIX", "固收理财", ProductCategory.WEALTH, "any", "CNY"),
    ("WM-FUND", "基金代销", ProductCategory.WEALTH, "personal", "CNY"),
    ("WM-PB", "私人银行专享理财", ProductCategory.WEALTH, "personal", "CNY"),
    ("INS-LIFE", "终身寿险（代理）", ProductCategory.INSURANCE, "personal", "CNY"),
    ("INS-HLTH", "医疗保险（代理）", ProductCategory.INSURANCE, "personal", "CNY"),
    ("PAY-QR", "聚合收款", ProductCategory.PAYMENT, "any", "CNY"),
    ("PAY-UTIL", "代缴费服务", ProductCategory.PAYMENT, "personal", "CNY"),
    ("CM-POOL", "资金池", ProductCategory.CASH_MANAGEMENT, "corporate", "CNY"),
    ("CM-SWEEP", "自动归集", ProductCategory.CASH_MANAGEMENT, "corporate", "CNY"),
)
_DEPOSIT_LIKE = {
    ProductCategory.DEPOSIT,
    ProductCategory.TIME_DEPOSIT,
    ProductCategory.DEBIT_CARD,
    ProductCategory.CASH_MANAGEMENT,
}
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "158",
    "159",
    "182",
    "186",
    "187",
    "188",
    "189",
)
SUMMARIES = {
    InteractionKind.INQUIRY: ["咨询理财产品收益", "询问贷款利率", "查询账户余额", "咨询信用卡额度"],
    InteractionKind.TRANSACTION: ["柜台转账", "存款", "取款", "购买理财产品", "开立定期存款"],
    InteractionKind.COMPLAINT: ["投诉排队时间过长", "投诉手续费", "投诉APP无法登录"],
    InteractionKind.MARKETING_CONTACT: ["推荐大额存单", "推荐信用卡分期", "邀请参加理财讲座"],
    InteractionKind.SERVICE_REQUEST: ["挂失借记卡", "修改预留手机号", "申请开具资信证明"],
    InteractionKind.FOLLOW_UP: ["投诉处理回访", "理财产品到期回访", "贷款发放后回访"],
}
# Transactions that happen in particular places only: on another channel the same draw is
# written as what that channel does (the draw itself is unchanged: the bank stays the same).
TRANSACTION_CHANNELS = {
    "柜台转账": {Channel.COUNTER},
    "存款": {Channel.COUNTER, Channel.SELF_SERVICE},
    "取款": {Channel.COUNTER, Channel.SELF_SERVICE},
    "购买理财产品": {Channel.COUNTER, Channel.MOBILE_APP, Channel.WEB_BANKING, Channel.RM_VISIT},
    "开立定期存款": {Channel.COUNTER, Channel.MOBILE_APP, Channel.WEB_BANKING},
}
TRANSACTION_ON = {
    Channel.COUNTER: "柜台转账",
    Channel.CALL_CENTER: "电话银行转账",
    Channel.MOBILE_APP: "手机银行转账",
    Channel.WEB_BANKING: "网上银行转账",
    Channel.SELF_SERVICE: "自助机取款",
    Channel.RM_VISIT: "客户经理上门办理存款",
    Channel.SMS: "回复短信确认交易",
    Channel.EMAIL: "邮件确认交易对账单",
}


def summary(rng: random.Random, kind: InteractionKind, channel: Channel) -> str:
    text = rng.choice(SUMMARIES[kind])
    if kind is InteractionKind.TRANSACTION and channel not in TRANSACTION_CHANNELS[text]:
        return TRANSACTION_ON[channel]
    return text


# Roughly what each channel costs the bank per contact, CNY: counters and visits are dear.
CHANNEL_COST = {
    Channel.COUNTER: Decimal("18.00"),
    Channel.CALL_CENTER: Decimal("6.50"),
    Channel.MOBILE_APP: Decimal("0.30"),
    Channel.WEB_BANKING: Decimal("0.40"),
    Channel.SELF_SERVICE: Decimal("1.20"),
    Channel.RM_VISIT: Decimal("120.00"),
    Channel.SMS: Decimal("0.05"),
    Channel.EMAIL: Decimal("0.01"),
}
CHANNEL_WEIGHTS = (
    (Channel.MOBILE_APP, 40),
    (Channel.COUNTER, 14),
    (Channel.CALL_CENTER, 14),
    (Channel.WEB_BANKING, 10),
    (Channel.SELF_SERVICE, 10),
    (Channel.SMS, 6),
    (Channel.EMAIL, 3),
    (Channel.RM_VISIT, 3),
)
KIND_WEIGHTS = (
    (InteractionKind.TRANSACTION, 45),
    (InteractionKind.INQUIRY, 25),
    (InteractionKind.MARKETING_CONTACT, 12),
    (InteractionKind.SERVICE_REQUEST, 10),
    (InteractionKind.FOLLOW_UP, 5),
    (InteractionKind.COMPLAINT, 3),
)


# Surnames are far from uniform (王, 李, 张 are each about 7% of the population): weight by
# rank so searches by a common surname behave as they would in a real bank.
SURNAME_WEIGHTS = [1 / (rank + 1) for rank in range(len(SURNAMES))]


def surname(rng: random.Random) -> str:
    return rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]


@functools.cache
def _region_valid(region: str, year: int) -> bool:
    body = f"{region}{year}0615001"
    return bool(ric.is_valid(body + ric.calc_check_digit(body + "0")))


def resident_id(region: str, birth: date, sequence: int) -> str:
    """A resident ID number with a correct ISO 7064 MOD 11-2 check digit."""
    if not _region_valid(region, birth.year):
        region = FALLBACK_REGION
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


def credit_code(rng: random.Random, region: str) -> str:
    """A unified social credit code with a correct check digit (GB 32100)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    org = "".join(rng.choice(alphabet) for _ in range(9))
    body = f"91{region}{org}"
    return body + uscc.calc_check_digit(body)


@dataclass(slots=True)
class SeedReport:
    customers: int = 0
    holdings: int = 0
    interactions: int = 0
    seconds: float = 0.0


def _weighted(rng: random.Random, pairs: Sequence[tuple[Any, int]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _long_tail(rng: random.Random, mean: float, cap: int) -> int:
    """Pareto-distributed count with the given mean (α = 1.5): most customers have a few,
    a few have hundreds."""
    alpha = 1.5
    scale = mean * (alpha - 1) / alpha
    return min(cap, int(scale * rng.paretovariate(alpha)))


class DemoBank:
    """Generates rows deterministically from one seed."""

    def __init__(
        self,
        seed: int,
        customers: int,
        interactions_per_customer: float,
        now: datetime,
        crypto: DocumentCrypto,
    ) -> None:
        self.rng = random.Random(seed)
        self.crypto = crypto
        self.total = customers
        self.interaction_mean = interactions_per_customer
        self.now = now
        self.branches: list[tuple[Any, ...]] = []
        self.sub_branches: list[tuple[int, str]] = []  # (id, city)
        self.managers: list[tuple[Any, ...]] = []
        self.managers_by_branch: dict[int, list[int]] = {}
        self.products = [(i + 1, *row) for i, row in enumerate(CATALOG)]
        self.personal_ids: list[int] = []
        self.corporate_ids: list[int] = []
        self._issued: set[str] = set()
        self._holding_id = 0
        self._interaction_id = 0
        self._change_id = 0

    def organisation(self) -> None:
        self.branches.append((1, "HO", "总行", "北京", "head_office", None))
        next_id = 2
        for city, (code, _, districts) in CITIES.items():
            branch_id = next_id
            self.branches.append((branch_id, f"{code}00", f"{city}分行", city, "branch", 1))
            next_id += 1
            for n, district in enumerate(districts, start=1):
                self.branches.append(
                    (
                        next_id,
                        f"{code}{n:02d}",
                        f"{city}{district}支行",
                        city,
                        "sub_branch",
                        branch_id,
                    )
                )
                self.sub_branches.append((next_id, city))
                next_id += 1
        rm_count = max(10, self.total // 250)
        for i in range(1, rm_count + 1):
            branch_id, _ = self.sub_branches[i % len(self.sub_branches)]
            grade = _weighted(self.rng, ((1, 40), (2, 35), (3, 20), (4, 5)))
            name = surname(self.rng) + "".join(self.rng.choices(GIVEN, k=2))
            self.managers.append((i, f"RM{i:05d}", name, grade, branch_id, True))
            self.managers_by_branch.setdefault(branch_id, []).append(i)

    def _unique_resident_id(self, region: str, birth: date, seq: int) -> str:
        # Real numbers are unique by construction (the sequence is allotted per region and
        # day); random draws are not, so step to the next free sequence of the same parity.
        while True:
            number = resident_id(region, birth, seq)
            if number not in self._issued:
                self._issued.add(number)
                return number
            seq += 2
            if seq > 999:
                seq -= 1000
                birth += timedelta(days=1)

    def _personal(self, cid: int, branch_id: int, city: str) -> dict[str, Any]:
        rng = self.rng
        gender = rng.choice((Gender.FEMALE, Gender.MALE))
        birth = date(1950, 1, 1) + timedelta(days=rng.randrange(0, 54 * 365))
        _, regions, districts = CITIES[city]
        district = rng.randrange(len(regions))
        seq = rng.randrange(0, 500) * 2 + (1 if gender is Gender.MALE else 0)
        name = surname(rng) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        phone = "+86" + rng.choice(MOBILE_PREFIXES) + f"{(cid * 7919) % 100_000_000:08d}"
        return {
            "row": (
                cid,
                f"P{cid:09d}",
                "personal",
                name,
                branch_id,
                None,
                _weighted(
                    rng,
                    (
                        (PreferredChannel.MOBILE_APP.value, 50),
                        (PreferredChannel.COUNTER.value, 25),
                        (PreferredChannel.CALL_CENTER.value, 15),
                        (PreferredChannel.WEB_BANKING.value, 10),
                    ),
                ),
                "zh-CN",
                gender.value,
                birth,
                rng.choice(OCCUPATIONS),
                rng.choice(EMPLOYERS),
                rng.choice(list(IncomeBand)).value,
                rng.choice(list(AssetBand)).value,
                _weighted(
                    rng,
                    (
                        (CreditStatus.GOOD.value, 85),
                        (CreditStatus.UNKNOWN.value, 10),
                        (CreditStatus.WATCH.value, 4),
                        (CreditStatus.DEFAULTED.value, 1),
                    ),
                ),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ),
            "document": (
                "resident_id",
                self._unique_resident_id(regions[district], birth, seq),
                "CN",
            ),
            "phone": phone,
            "email": f"p{cid}@mail.example.cn" if rng.random() < 0.5 else None,
            "address": f"{city}市{districts[district]}{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
        }

    def _corporate(self, cid: int, branch_id: int, city: str) -> dict[str, Any]:
        rng = self.rng
        _, regions, districts = CITIES[city]
        industry = rng.choice(INDUSTRIES)
        name = f"{city}{rng.choice(COMPANY_WORDS)}{industry.removesuffix('业')}有限公司"
        stage = (
            LifecycleStage.DECLINE
            if industry in ("煤炭开采", "纺织业")
            else rng.choice(list(LifecycleStage))
        )
        legal_rep = rng.choice(self.personal_ids) if self.personal_ids else None
        parent = (
            rng.choice(self.corporate_ids) if self.corporate_ids and rng.random() < 0.1 else None
        )
        district = rng.randrange(len(regions))
        return {
            "row": (
                cid,
                f"C{cid:09d}",
                "corporate",
                name,
                branch_id,
                None,
                PreferredChannel.RM_VISIT.value,
                "zh-CN",
                None,
                None,
                None,
                None,
                None,
                None,
                CreditStatus.GOOD.value,
                rng.choice(list(OwnershipType)).value,
                rng.choice(list(BusinessScale)).value,
                industry,
                stage.value,
                "流动资产为主" if rng.random() < 0.6 else "固定资产为主",
                rng.choice(("银行借款", "应付账款", "债券融资")),
                rng.choice(("银行贷款", "票据融资", "股权融资", "供应链融资")),
                rng.choice(("无不良记录", "有逾期已结清", "无不良记录")),
                legal_rep,
                parent,
            ),
            "document": ("uscc", credit_code(rng, regions[district]), "CN"),
            "phone": "+86" + rng.choice(MOBILE_PREFIXES) + f"{(cid * 7919) % 100_000_000:08d}",
            "email": f"finance{cid}@corp.example.cn",
            "address": f"{city}市{districts[district]}{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
            "contacts": [(cid, legal_rep, "法定代表人")] if legal_rep else [],
        }

    def customer_batch(self, start: int, stop: int) -> dict[str, list[tuple[Any, ...]]]:
        rng = self.rng
        out: dict[str, list[tuple[Any, ...]]] = {
            k: []
            for k in (
                "customers",
                "documents",
                "contact_points",
                "corporate_contacts",
                "holdings",
                "interactions",
                "relationship_states",
                "relationship_state_changes",
                "customer_source_keys",
            )
        }
        for cid in range(start, stop):
            branch_id, city = self.sub_branches[rng.randrange(len(self.sub_branches))]
            corporate = cid > 20 and rng.random() < 0.08
            data = (self._corporate if corporate else self._personal)(cid, branch_id, city)
            row = list(data["row"])
            managers = self.managers_by_branch.get(branch_id, [])
            # Corporates always have an RM; personal customers only some (the rest are served
            # by the branch pool).
            if managers and (corporate or rng.random() < 0.35):
                row[5] = rng.choice(managers)
            created = self.now - timedelta(days=rng.randrange(30, 20 * 365))
            out["customers"].append((*row, created, created))
            # Core banking's customer number: how the bank's systems name this customer.
            out["customer_source_keys"].append((cid, "core_banking", f"CB{cid:010d}", "seed"))
            (self.corporate_ids if corporate else self.personal_ids).append(cid)
            doc_type, number, country = data["document"]
            out["documents"].append((cid, doc_type, number, country))  # sealed by the import
            out["contact_points"].append((cid, "phone", data["phone"], "mobile", True, True))
            if data["email"]:
                out["contact_points"].append(
                    (cid, "email", data["email"], "personal", True, rng.random() < 0.7)
                )
            out["contact_points"].append(
                (
                    cid,
                    "address",
                    data["address"],
                    "home" if not corporate else "registered",
                    True,
                    False,
                )
            )
            out["corporate_contacts"].extend(data.get("contacts", []))
            self._holdings(cid, corporate, created, out["holdings"])
            self._interactions(cid, corporate, branch_id, created, out["interactions"])
            self._relationship(cid, created, out)
        return out

    def _holdings(
        self, cid: int, corporate: bool, created: datetime, rows: list[tuple[Any, ...]]
    ) -> None:
        rng = self.rng
        audience = "corporate" if corporate else "personal"
        eligible = [p for p in self.products if p[4] in (audience, "any")]
        count = 1 + _long_tail(rng, 2.0, 40)
        for n in range(count):
            product = eligible[0] if n == 0 else rng.choice(eligible)
            pid, code, _, category, _, currency = product
            self._holding_id += 1
            opened = (created + timedelta(days=rng.randrange(0, 365))).date()
            opened = min(opened, self.now.date())
            closed = rng.random() < 0.08 and n > 0
            scale = 50 if corporate else 1
            if category in (ProductCategory.LOAN,):
                balance = Decimal(rng.randrange(10_000, 2_000_000) * scale)
            elif category in _DEPOSIT_LIKE or category in (
                ProductCategory.WEALTH,
                ProductCategory.INSURANCE,
            ):
                balance = Decimal(int(math.exp(rng.uniform(4, 13)))) * scale
            elif category is ProductCategory.CREDIT_CARD:
                balance = Decimal(rng.randrange(0, 50_000))
            else:
                balance = Decimal(0)
            limit = (
                Decimal(rng.choice((10_000, 30_000, 50_000, 100_000)))
                if category is ProductCategory.CREDIT_CARD
                else None
            )
            closed_on = (opened + timedelta(days=rng.randrange(30, 900))) if closed else None
            if closed_on is not None:
                closed_on = min(closed_on, self.now.date())
                balance = Decimal(0)
            rows.append(
                (
                    self._holding_id,
                    cid,
                    pid,
                    f"6222{self._holding_id:012d}",
                    currency,
                    balance.quantize(Decimal("0.01")),
                    limit,
                    "closed" if closed else "active",
                    opened,
                    closed_on,
                    f"SEED-{code}-{self._holding_id}",
                )
            )

    def _interactions(
        self,
        cid: int,
        corporate: bool,
        branch_id: int,
        created: datetime,
        rows: list[tuple[Any, ...]],
    ) -> None:
        rng = self.rng
        count = _long_tail(rng, self.interaction_mean, 2_000)
        span = max(1.0, (self.now - created).total_seconds())
        for _ in range(count):
            self._interaction_id += 1
            channel = _weighted(rng, CHANNEL_WEIGHTS)
            kind = _weighted(rng, KIND_WEIGHTS)
            occurred = self.now - timedelta(seconds=span * rng.random() ** 2)
            staffed = channel in (Channel.COUNTER, Channel.CALL_CENTER, Channel.RM_VISIT)
            rows.append(
                (
                    self._interaction_id,
                    cid,
                    channel.value,
                    kind.value,
                    occurred,
                    branch_id if channel in (Channel.COUNTER, Channel.SELF_SERVICE) else None,
                    f"S{rng.randrange(1, 500):04d}" if staffed else None,
                    CHANNEL_COST[channel] if rng.random() < 0.9 else None,
                    _weighted(
                        rng,
                        (
                            (InteractionOutcome.RESOLVED.value, 80),
                            (InteractionOutcome.PENDING.value, 8),
                            (InteractionOutcome.ESCALATED.value, 4),
                            (InteractionOutcome.NO_CONTACT.value, 8),
                        ),
                    ),
                    summary(rng, kind, channel),
                    rng.randint(1, 5) if staffed and rng.random() < 0.4 else None,
                )
            )

    def _relationship(
        self, cid: int, created: datetime, out: dict[str, list[tuple[Any, ...]]]
    ) -> None:
        rng = self.rng
        ladder = ["normal", "watch", "doubtful", "exit"]
        target = _weighted(self.rng, ((0, 90), (1, 6), (2, 3), (3, 1)))
        moment = created
        self._change_id += 1
        out["relationship_state_changes"].append(
            (self._change_id, cid, None, "normal", "ONBOARDED", None, "system", moment)
        )
        for level in range(1, target + 1):
            moment = moment + timedelta(days=rng.randrange(1, 400))
            moment = min(moment, self.now)
            self._change_id += 1
            out["relationship_state_changes"].append(
                (
                    self._change_id,
                    cid,
                    ladder[level - 1],
                    ladder[level],
                    rng.choice(
                        ("OVERDUE_PAYMENT", "BALANCE_DROP", "COMPLAINTS", "INDUSTRY_DECLINE")
                    ),
                    "演示数据",
                    f"RM{rng.randrange(1, 50):05d}",
                    moment,
                )
            )
        out["relationship_states"].append((cid, ladder[target], moment, target + 1))


# What the seeder loads, table by table: every column of the table (api/db/tables.py), in its
# order, except those left to their defaults. The generators build their rows in that order;
# a column added to a table makes the rows too short, and seeding fails at once.
_LEFT_TO_DEFAULTS = {
    "branches": {"retired_at"},
    "relationship_managers": set(),
    "products": {"retired_at"},
    # A seeded company's registered name is its display name (rows.customer_from_row).
    "customers": {
        "erased_at",
        "registered_name",
        "credit_status_source",
        "lifecycle_status",
        "converted_at",
        "version",
        "completeness",
        "completeness_missing",
        "merged_into_id",
        "merged_at",
        "name_pinyin",  # written by the database's trigger from the name
    },
    "identity_documents": {"id", "expires_on", "created_at"},
    "contact_points": {"id", "created_at"},
    "corporate_contacts": set(),
    "holdings": {"arrived_for"},
    "interactions": {
        "offers",
        "products_discussed",
        "recorded_by",
        "created_at",
        "source_ref",
        "source_hash",
        "arrived_for",
        "campaign_id",
        "campaign_arm",
    },
    "relationship_states": set(),
    "relationship_state_changes": set(),
    "customer_source_keys": {"id", "created_at", "fingerprint"},
}
COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in Base.metadata.tables[name].columns if c.name not in skipped)
    for name, skipped in _LEFT_TO_DEFAULTS.items()
}
_BATCH_KEYS = {"documents": "identity_documents"}
IDENTITY_TABLES = (
    "branches",
    "relationship_managers",
    "products",
    "customers",
    "holdings",
    "interactions",
    "relationship_state_changes",
)


async def customer_count(database_url: str) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM customers")
        return count
    finally:
        await conn.close()


async def _load_batch(
    conn: asyncpg.Connection,
    loader: SeedImport,
    bank: DemoBank,
    batch: dict[str, list[tuple[Any, ...]]],
    ids: dict[int, int],
) -> None:
    """One batch of the demo bank: the records through the import, then what the import has
    no columns for. `ids` maps the demo's customer numbers to the ids the import gave them,
    across batches (a company names a person of an earlier batch as its representative)."""
    branch_codes = {b[0]: b[1] for b in bank.branches}
    product_codes = {p[0]: p[1] for p in bank.products}
    documents = {cid: (kind, number) for cid, kind, number, _ in batch["documents"]}
    contacts: dict[int, dict[str, str]] = {}
    for cid, kind, value, *_ in batch["contact_points"]:
        contacts.setdefault(cid, {})[kind] = value
    rows = [dict(zip(COLUMNS["customers"], r, strict=True)) for r in batch["customers"]]
    await loader.load(
        "customers", [_customer_record(r, documents, contacts, branch_codes) for r in rows]
    )
    ids.update(await customer_ids(conn, [r["id"] for r in rows]))
    await loader.load(
        "holdings",
        [
            _holding_record(dict(zip(COLUMNS["holdings"], h, strict=True)), product_codes)
            for h in batch["holdings"]
        ],
    )
    await loader.load(
        "interactions",
        [
            _interaction_record(dict(zip(COLUMNS["interactions"], i, strict=True)), branch_codes)
            for i in batch["interactions"]
        ],
    )
    async with conn.transaction():
        await conn.execute(
            _EXTRAS,
            [ids[r["id"]] for r in rows],
            [r["created_at"] for r in rows],
            [r["relationship_manager_id"] for r in rows],
            [r["credit_status"] for r in rows],
            [r["lifecycle_stage"] for r in rows],
            [r["asset_structure"] for r in rows],
            [r["liability_sources"] for r in rows],
            [r["financing_modes"] for r in rows],
            [r["credit_record"] for r in rows],
            [mapped(ids, r["legal_representative_id"]) for r in rows],
            [mapped(ids, r["parent_id"]) for r in rows],
        )
        points = batch["contact_points"]
        await conn.execute(
            _CONTACT_EXTRAS,
            [ids[p[0]] for p in points],
            [p[1] for p in points],
            [p[3] for p in points],
            [p[5] for p in points],
        )
        for table in ("corporate_contacts", "relationship_states", "relationship_state_changes"):
            records = [_remapped(table, r, ids) for r in batch[table]]
            if records:
                await conn.copy_records_to_table(table, records=records, columns=COLUMNS[table])


# What a bank's files do not carry: set on the imported records by their new ids.
_EXTRAS = """
UPDATE customers c SET created_at = v.created, updated_at = v.created,
  relationship_manager_id = v.rm, credit_status = v.credit, lifecycle_stage = v.stage,
  asset_structure = v.assets, liability_sources = v.liabilities, financing_modes = v.financing,
  credit_record = v.record, legal_representative_id = v.representative, parent_id = v.parent
FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[])
  AS v(id, created, rm, credit, stage, assets, liabilities, financing, record, representative,
       parent)
WHERE c.id = v.id
"""
_CONTACT_EXTRAS = """
UPDATE contact_points p SET label = v.label, verified = v.verified
FROM unnest($1::bigint[], $2::text[], $3::text[], $4::boolean[]) AS v(id, kind, label, verified)
WHERE p.customer_id = v.id AND p.kind = v.kind
"""


def _remapped(table: str, row: tuple[Any, ...], ids: dict[int, int]) -> tuple[Any, ...]:
    """A demo row with its customers' numbers replaced by the ids the import gave them."""
    values = dict(zip(COLUMNS[table], row, strict=True))
    for column in ("customer_id", "corporate_id", "person_id"):
        if column in values:
            values[column] = ids[values[column]]
    return tuple(values.values())


def _customer_record(
    row: dict[str, Any],
    documents: dict[int, tuple[str, str]],
    contacts: dict[int, dict[str, str]],
    branch_codes: dict[int, str],
) -> dict[str, Any]:
    cid = row["id"]
    doc_type, number = documents[cid]
    points = contacts.get(cid, {})
    corporate = row["kind"] == "corporate"
    return {
        "sourceKey": key_of(cid),
        "kind": row["kind"],
        "displayName": row["display_name"],
        # A seeded company goes by its registered name.
        "registeredName": row["display_name"] if corporate else None,
        "residentId": number if doc_type == "resident_id" else None,
        "uscc": number if doc_type == "uscc" else None,
        "phone": points.get("phone"),
        "email": points.get("email"),
        "address": points.get("address"),
        "homeBranchCode": branch_codes[row["home_branch_id"]],
        "preferredChannel": row["preferred_channel"],
        "preferredLanguage": row["preferred_language"],
        "gender": row["gender"],
        "birthDate": row["birth_date"],
        "occupation": row["occupation"],
        "employer": row["employer"],
        "incomeBand": row["income_band"],
        "assetBand": row["asset_band"],
        "ownershipType": row["ownership_type"],
        "businessScale": row["business_scale"],
        "industry": row["industry"],
    }


def _holding_record(row: dict[str, Any], product_codes: dict[int, str]) -> dict[str, Any]:
    return {
        "sourceRef": row["source_ref"],
        "customerSourceKey": key_of(row["customer_id"]),
        "productCode": product_codes[row["product_id"]],
        "accountNumber": row["account_number"],
        "currency": row["currency"],
        "balance": row["balance"],
        "creditLimit": row["credit_limit"],
        "status": row["status"],
        "openedOn": row["opened_on"],
        "closedOn": row["closed_on"],
    }


def _interaction_record(row: dict[str, Any], branch_codes: dict[int, str]) -> dict[str, Any]:
    return {
        "sourceRef": f"SEED-I-{row['id']}",
        "customerSourceKey": key_of(row["customer_id"]),
        "channel": row["channel"],
        "kind": row["kind"],
        "occurredAt": row["occurred_at"].isoformat(),
        "branchCode": None if row["branch_id"] is None else branch_codes[row["branch_id"]],
        "staffCode": row["staff_code"],
        "cost": row["cost"],
        "outcome": row["outcome"],
        "summary": row["summary"],
        "satisfaction": row["satisfaction"],
    }


async def _advance_sequences(conn: asyncpg.Connection) -> None:
    for table in IDENTITY_TABLES:
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )


def _batches(total: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(1, total + 1, size):
        yield start, min(total + 1, start + size)


class DatabaseNotEmpty(Exception):
    """Seeding would mix the demo bank into customers already there."""

    def __init__(self, existing: int) -> None:
        super().__init__(
            f"the database already holds {existing:,} customers; "
            "`quanjing seed --reset` replaces them with the demo bank"
        )


async def seed(
    database_url: str,
    *,
    crypto: DocumentCrypto,
    customers: int,
    seed: int = 42,
    interactions_per_customer: float = 12.0,
    reset: bool = False,
    now: datetime | None = None,
    batch_size: int = 5_000,
) -> SeedReport:
    """Load a demo bank into an empty, migrated database (or `reset` it first)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        existing = await conn.fetchval("SELECT count(*) FROM customers")
        if existing and not reset:
            raise DatabaseNotEmpty(existing)
        if reset:
            await conn.execute(
                "TRUNCATE "
                + ", ".join(reversed(COLUMNS))  # dependants before what they reference
                + " RESTART IDENTITY CASCADE"
            )
        # `now` pinned by the caller makes the whole dataset reproducible, dates included.
        bank = DemoBank(
            seed,
            customers,
            interactions_per_customer,
            now or datetime.now(UTC).replace(microsecond=0),
            crypto,
        )
        bank.organisation()
        report = SeedReport()
        async with conn.transaction():
            await conn.copy_records_to_table(
                "branches",
                records=bank.branches,
                columns=COLUMNS["branches"],
            )
            await conn.copy_records_to_table(
                "relationship_managers",
                records=bank.managers,
                columns=COLUMNS["relationship_managers"],
            )
            await conn.copy_records_to_table(
                "products",
                records=[(p[0], p[1], p[2], p[3].value, p[4], p[5]) for p in bank.products],
                columns=COLUMNS["products"],
            )
            await _advance_sequences(conn)
        # Customers, holdings and interactions go in through the bulk import (one way in).
        engine = create_async_engine(async_url(database_url), poolclass=NullPool)
        try:
            loader = SeedImport(engine, crypto, bank.now.date())
            await loader.start(seed, customers)
            ids: dict[int, int] = {}
            for start, stop in _batches(customers, batch_size):
                batch = bank.customer_batch(start, stop)
                await _load_batch(conn, loader, bank, batch, ids)
                report.customers += len(batch["customers"])
                report.holdings += len(batch["holdings"])
                report.interactions += len(batch["interactions"])
            await loader.finish(time.perf_counter() - started)
            await _advance_sequences(conn)  # past the rows written with their own ids
            # Every record's completeness, by the one assessment, now that the demo's extras
            # are set (domain/customers/completeness.py).
            await assess_everyone(engine)
        finally:
            await engine.dispose()
        # The demo's extras updated every imported customer and contact point once: vacuum
        # the dead versions away, as after any bulk load, and refresh the statistics.
        await conn.execute("VACUUM ANALYZE")
        report.seconds = time.perf_counter() - started
        return report
    finally:
        await conn.close()
