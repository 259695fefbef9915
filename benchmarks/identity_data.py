"""A bank's customer file with planted duplicates, for `make bench-resolve`.

Written apart from the matcher on purpose: its own name tables (with their own romanisation
and traditional forms, not pypinyin's or OpenCC's), its own random seed, and variations the
matcher does not get to choose — a second record from the card centre or the CRM with a typo
in the name, traditional characters, a romanised passport name (family name first or last),
the phone in another format or one digit wrong, fields left out, a passport instead of the ID
card, a birth date with day and month swapped or two digits transposed, the address
shortened. Families share a phone and an address and are not duplicates: a matcher that
merges them loses precision here.

Every record carries its person's number in `truth` (person → the records that are that
person), never in the file the import reads.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from api.ops.seed import resident_id

SURNAMES = (
    ("王", "王", "WANG"),
    ("李", "李", "LI"),
    ("张", "張", "ZHANG"),
    ("刘", "劉", "LIU"),
    ("陈", "陳", "CHEN"),
    ("杨", "楊", "YANG"),
    ("赵", "趙", "ZHAO"),
    ("黄", "黃", "HUANG"),
    ("周", "周", "ZHOU"),
    ("吴", "吳", "WU"),
    ("徐", "徐", "XU"),
    ("孙", "孫", "SUN"),
    ("胡", "胡", "HU"),
    ("朱", "朱", "ZHU"),
    ("高", "高", "GAO"),
    ("林", "林", "LIN"),
    ("何", "何", "HE"),
    ("郭", "郭", "GUO"),
    ("马", "馬", "MA"),
    ("罗", "羅", "LUO"),
    ("欧阳", "歐陽", "OUYANG"),
    ("司马", "司馬", "SIMA"),
)
GIVEN = (
    ("伟", "偉", "WEI"),
    ("芳", "芳", "FANG"),
    ("娜", "娜", "NA"),
    ("敏", "敏", "MIN"),
    ("静", "靜", "JING"),
    ("丽", "麗", "LI"),
    ("强", "強", "QIANG"),
    ("磊", "磊", "LEI"),
    ("军", "軍", "JUN"),
    ("洋", "洋", "YANG"),
    ("勇", "勇", "YONG"),
    ("艳", "艷", "YAN"),
    ("杰", "傑", "JIE"),
    ("娟", "娟", "JUAN"),
    ("涛", "濤", "TAO"),
    ("明", "明", "MING"),
    ("超", "超", "CHAO"),
    ("秀", "秀", "XIU"),
    ("霞", "霞", "XIA"),
    ("平", "平", "PING"),
    ("刚", "剛", "GANG"),
    ("桂", "桂", "GUI"),
    ("英", "英", "YING"),
    ("华", "華", "HUA"),
    ("建", "建", "JIAN"),
    ("文", "文", "WEN"),
    ("辉", "輝", "HUI"),
    ("玲", "玲", "LING"),
    ("婷", "婷", "TING"),
    ("鹏", "鵬", "PENG"),
    ("国", "國", "GUO"),
    ("红", "紅", "HONG"),
    ("志", "志", "ZHI"),
    ("海", "海", "HAI"),
    ("宇", "宇", "YU"),
    ("晨", "晨", "CHEN"),
    ("浩", "浩", "HAO"),
    ("欣", "欣", "XIN"),
    ("雪", "雪", "XUE"),
    ("琳", "琳", "LIN"),
    ("涵", "涵", "HAN"),
    ("博", "博", "BO"),
    ("嘉", "嘉", "JIA"),
    ("睿", "睿", "RUI"),
    ("子", "子", "ZI"),
    ("梓", "梓", "ZI"),
    ("思", "思", "SI"),
    ("怡", "怡", "YI"),
    ("佳", "佳", "JIA"),
    ("俊", "俊", "JUN"),
)
# Characters a clerk types for another of the same sound (a homophone slip).
HOMOPHONES = {"伟": "玮", "静": "婧", "丽": "莉", "军": "君", "杰": "洁", "明": "铭", "华": "桦"}
CITIES = (
    ("320102", "南京市", ("玄武区", "秦淮区", "鼓楼区")),
    ("310101", "上海市", ("黄浦区", "徐汇区", "静安区")),
    ("110105", "北京市", ("朝阳区", "海淀区", "东城区")),
    ("440104", "广州市", ("越秀区", "天河区", "海珠区")),
)
ROADS = ("中山路", "人民路", "解放路", "建设路", "和平路", "长江路", "新华路", "胜利路")
COLUMNS = (
    "sourceSystem",
    "prospect",
    "sourceKey",
    "kind",
    "displayName",
    "residentId",
    "passport",
    "passportCountry",
    "phone",
    "email",
    "address",
    "gender",
    "birthDate",
)


@dataclass(slots=True)
class Person:
    number: int
    surname: int
    given: tuple[int, ...]
    birth: date
    gender: str
    region: str
    city: str
    district: str
    road: str
    house: int
    phone: str
    email: str | None


@dataclass(slots=True)
class Planted:
    records: list[dict[str, Any]] = field(default_factory=list)
    # person → the source keys of their records (a pair of keys of one person is a duplicate)
    truth: dict[int, list[str]] = field(default_factory=dict)
    variations: dict[str, int] = field(default_factory=dict)
    # a duplicate's key → the variations it was written with
    kinds: dict[str, list[str]] = field(default_factory=dict)


def _name(p: Person, traditional: bool = False) -> str:
    col = 1 if traditional else 0
    return SURNAMES[p.surname][col] + "".join(GIVEN[g][col] for g in p.given)


def _romanised(p: Person, family_first: bool) -> str:
    family = SURNAMES[p.surname][2]
    given = "".join(GIVEN[g][2] for g in p.given)
    return f"{family} {given}" if family_first else f"{given} {family}"


# Mobile prefixes in use (China Mobile, Unicom, Telecom).
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "186",
    "187",
    "188",
    "189",
)


def _mobile(rng: random.Random) -> str:
    return f"{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100_000_000):08d}"


def _formatted(phone: str, rng: random.Random) -> str:
    match rng.randrange(4):
        case 0:
            return f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"
        case 1:
            return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
        case 2:
            return f"0086{phone}"
        case _:
            return phone


def _address(p: Person, short: bool = False) -> str:
    street = f"{p.road}{p.house}号"
    return f"{p.district}{street}" if short else f"{p.city}{p.district}{street}"


def _person(number: int, rng: random.Random) -> Person:
    region, city, districts = rng.choice(CITIES)
    given = tuple(rng.randrange(len(GIVEN)) for _ in range(rng.choice((1, 2, 2))))
    surname = rng.randrange(len(SURNAMES))
    email = None
    if rng.random() < 0.4:
        email = f"{SURNAMES[surname][2].lower()}.{number}@example.cn"
    return Person(
        number=number,
        surname=surname,
        given=given,
        birth=date(1950, 1, 1) + timedelta(days=rng.randrange(25_000)),
        gender=rng.choice(("MALE", "FEMALE")),
        region=region,
        city=city,
        district=rng.choice(districts),
        road=rng.choice(ROADS),
        house=rng.randrange(1, 400),
        phone=_mobile(rng),
        email=email,
    )


def _record(system: str, key: str, p: Person, rng: random.Random) -> dict[str, Any]:
    return {
        "sourceSystem": system,
        "sourceKey": key,
        "kind": "PERSONAL",
        "displayName": _name(p),
        "residentId": resident_id(p.region, p.birth, rng.randrange(1000)),
        "passport": None,
        "passportCountry": None,
        "phone": p.phone,
        "email": p.email,
        "address": _address(p),
        "gender": p.gender,
        "birthDate": p.birth.isoformat(),
    }


def _transposed(birth: date, rng: random.Random) -> date:
    if birth.day <= 12 and birth.day != birth.month and rng.random() < 0.5:
        return birth.replace(month=birth.day, day=birth.month)
    text = birth.strftime("%Y%m%d")
    for _ in range(10):
        i = rng.randrange(len(text) - 1)
        swapped = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
        try:
            moved = date(int(swapped[:4]), int(swapped[4:6]), int(swapped[6:]))
        except ValueError:
            continue
        if moved != birth and moved.year > 1900:
            return moved
    return birth


def _duplicate(
    p: Person, key: str, rng: random.Random, seen: dict[str, int], kinds: dict[str, list[str]]
) -> dict[str, Any]:
    """The same person as another system captured them: one to three variations."""
    record = _record(rng.choice(("cards", "crm")), key, p, rng)
    # A second record never repeats the first's ID number: the import refuses a document
    # that identifies someone already (that duplicate is caught at the door, not here). Without
    # a passport it is a prospect: the card centre's or the CRM's lead, documents to follow.
    record["residentId"] = None
    record["prospect"] = "true"
    chosen = rng.sample(
        (
            "typo",
            "traditional",
            "passport",
            "phone_format",
            "phone_digit",
            "missing",
            "birth",
            "address",
            "email_only",
        ),
        rng.choice((1, 2, 2, 3)),
    )
    kinds[key] = sorted(chosen)
    for variation in chosen:
        seen[variation] = seen.get(variation, 0) + 1
        match variation:
            case "typo":
                name = record["displayName"]
                slips = [c for c in name if c in HOMOPHONES]
                if slips:
                    record["displayName"] = name.replace(slips[0], HOMOPHONES[slips[0]], 1)
                else:  # a wrong character
                    record["displayName"] = name[:-1] + GIVEN[rng.randrange(len(GIVEN))][0]
            case "traditional":
                record["displayName"] = _name(p, traditional=True)
            case "passport":
                record["passport"] = f"E{rng.randrange(100_000_000):08d}"
                record["passportCountry"] = "CN"
                record["prospect"] = None
                record["displayName"] = _romanised(p, family_first=rng.random() < 0.6)
            case "phone_format":
                record["phone"] = _formatted(p.phone, rng)
            case "phone_digit":
                i = rng.randrange(3, 11)  # the prefix stays: the number is still a number
                record["phone"] = p.phone[:i] + str((int(p.phone[i]) + 1) % 10) + p.phone[i + 1 :]
            case "missing":
                for column in rng.sample(("phone", "email", "address", "birthDate"), 2):
                    record[column] = None
            case "birth":
                record["birthDate"] = _transposed(p.birth, rng).isoformat()
            case "address":
                record["address"] = _address(p, short=True)
            case "email_only":
                record["phone"] = None
                record["email"] = p.email or f"{SURNAMES[p.surname][2].lower()}{p.number}@mail.cn"
    return record


def generate(customers: int, seed: int = 20261205, share: float = 0.05) -> Planted:
    """About `customers` records: persons from core banking, a tenth of them in families
    (sharing a phone and an address, not duplicates), `share` of them captured twice."""
    rng = random.Random(seed)
    planted = Planted()
    n = 0
    while len(planted.records) < customers:
        p = _person(n, rng)
        family = [p]
        if rng.random() < 0.1:  # a spouse or a grown child: same home, same landline
            other = _person(n + 1, rng)
            other.surname = p.surname if rng.random() < 0.5 else other.surname
            other.city, other.district, other.road, other.house = (
                p.city,
                p.district,
                p.road,
                p.house,
            )
            other.phone = p.phone
            family.append(other)
        for member in family:
            key = f"CB{member.number:08d}"
            planted.records.append(_record("core_banking", key, member, rng))
            planted.truth[member.number] = [key]
            if rng.random() < share:
                twin = f"X{member.number:08d}"
                planted.records.append(
                    _duplicate(member, twin, rng, planted.variations, planted.kinds)
                )
                planted.truth[member.number].append(twin)
        n += len(family)
    return planted


def lines(planted: Planted) -> Iterator[dict[str, Any]]:
    for record in planted.records:
        yield {c: record[c] for c in COLUMNS if record.get(c) is not None}
