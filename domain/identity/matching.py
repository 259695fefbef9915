"""Is it the same customer twice? A Fellegi–Sunter comparison, as Splink does it: each field
of a pair of records is put at one agreement level, each level has a match weight (log2 of how
much likelier it is among true matches than among non-matches, m/u), and the weights add up
with the prior to a match probability. Every score comes with its evidence: which fields agreed,
at which level, for how much weight.

The weights are data (`MatchModel`, versioned and shown with each score); these are set by
hand from the seeds' description of a bank's data and checked by `make bench-resolve` against
planted duplicates, not learned yet.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz

from domain.customers.model import CustomerKind
from domain.identity.names import Name, pinyin_key, simplified


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """What the matcher reads of a customer: nothing it does not compare."""

    id: int
    kind: CustomerKind
    name: Name
    birth_date: date | None = None
    documents: Mapping[str, bytes] | None = None  # type → lookup hash (numbers stay sealed)
    phones: frozenset[str] = frozenset()  # E.164
    emails: frozenset[str] = frozenset()  # normalised
    address: str | None = None


@dataclass(frozen=True, slots=True)
class Level:
    name: str
    m: float  # P(this level | the same customer)
    u: float  # P(this level | different customers)
    description: str

    @property
    def weight(self) -> float:
        return math.log2(self.m / self.u)


@dataclass(frozen=True, slots=True)
class MatchModel:
    version: str
    prior: float  # P(same customer) for a pair that shares a blocking key
    levels: Mapping[str, Mapping[str, Level]]  # field → level name → level

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1 - self.prior))

    def level(self, field: str, name: str) -> Level:
        return self.levels[field][name]


def _levels(*levels: Level) -> Mapping[str, Level]:
    return {level.name: level for level in levels}


MISSING = "missing"
# A pair at or above this probability goes to the data steward's review queue.
REVIEW_THRESHOLD = 0.8
# A blocking key shared by more customers than this (a company switchboard, a branch's address
# typed for walk-ins) forms no pairs: it would grow with the square of its members and says
# little about any two of them.
MAX_BLOCK = 50
_NEUTRAL = "one of the two records has no value"

# Version it when a value changes: scores name the version they were made with.
MODEL = MatchModel(
    version="fs-2026-12-06",
    prior=0.01,
    levels={
        "name": _levels(
            Level("exact", 0.80, 0.0005, "the same name"),
            Level(
                "simplified",
                0.05,
                0.00002,
                "the same name in traditional and simplified characters",
            ),
            Level("swapped", 0.03, 0.0001, "family and given name swapped"),
            Level("same_sound", 0.07, 0.002, "the same pinyin: homophones or a romanised name"),
            Level("similar", 0.04, 0.01, "similar pinyin (a typo)"),
            Level("different", 0.01, 0.9865, "different names"),
            Level(MISSING, 1.0, 1.0, _NEUTRAL),
        ),
        "birthDate": _levels(
            Level("exact", 0.92, 0.0001, "the same birth date"),
            Level("transposed", 0.03, 0.0003, "two digits swapped, or day and month"),
            Level("near", 0.03, 0.003, "one digit apart"),
            Level("different", 0.02, 0.9966, "different birth dates"),
            Level(MISSING, 1.0, 1.0, _NEUTRAL),
        ),
        "document": _levels(
            Level("same", 0.60, 1e-7, "the same identity document"),
            # A document identifies one customer (the import and registration refuse a number
            # someone holds), so one person's two records with two numbers of one type means a
            # mistyped number that passed its check digit: rare. Strangers who share a common
            # name and a birth date are not (fs-2026-12-05 had m = 0.02: at a million
            # customers they made most of the false positives).
            Level("different", 0.0001, 0.999, "different documents of one type"),
            Level(MISSING, 1.0, 1.0, "no document of a type both hold"),
        ),
        "phone": _levels(
            # A family shares a landline or a parent's mobile: agreement alone is no proof.
            Level("shared", 0.70, 0.002, "a phone number in common"),
            Level("different", 0.30, 0.998, "no phone number in common"),
            Level(MISSING, 1.0, 1.0, _NEUTRAL),
        ),
        "email": _levels(
            Level("same", 0.60, 0.0001, "an e-mail address in common"),
            Level("different", 0.40, 0.9999, "no e-mail address in common"),
            Level(MISSING, 1.0, 1.0, _NEUTRAL),
        ),
        "address": _levels(
            Level("same", 0.60, 0.01, "the same address"),
            Level("partial", 0.20, 0.05, "addresses partly agree"),
            Level("different", 0.20, 0.94, "different addresses"),
            Level(MISSING, 1.0, 1.0, _NEUTRAL),
        ),
    },
)


def compare_names(a: Name, b: Name) -> tuple[str, float | None]:
    if not a.text or not b.text:
        return MISSING, None
    if a.text == b.text:
        return ("exact" if a.written == b.written else "simplified"), 1.0
    if a.sound == b.sound:
        return "same_sound", 1.0
    if a.sound in (b.swapped_sound,) or b.sound in (a.swapped_sound,):
        return "swapped", 1.0
    similarity = fuzz.ratio(a.sound, b.sound) / 100
    return ("similar" if similarity >= 0.85 else "different"), similarity


def _swapped_once(x: str, y: str) -> bool:
    diff = [i for i in range(len(x)) if x[i] != y[i]]
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and x[diff[0]] == y[diff[1]]
        and x[diff[1]] == y[diff[0]]
    )


def compare_birth_dates(a: date | None, b: date | None) -> tuple[str, float | None]:
    if a is None or b is None:
        return MISSING, None
    if a == b:
        return "exact", 1.0
    x, y = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    if _swapped_once(x, y) or (a.year == b.year and (a.month, a.day) == (b.day, b.month)):
        return "transposed", None
    if sum(p != q for p, q in zip(x, y, strict=True)) == 1:
        return "near", None
    return "different", None


def compare_documents(
    a: Mapping[str, bytes] | None, b: Mapping[str, bytes] | None
) -> tuple[str, float | None]:
    x, y = a or {}, b or {}
    shared = set(x) & set(y)
    if not shared:
        return MISSING, None
    if any(x[t] == y[t] for t in shared):
        return "same", None
    return "different", None


def _sets(a: frozenset[str], b: frozenset[str], agree: str) -> tuple[str, float | None]:
    if not a or not b:
        return MISSING, None
    return (agree if a & b else "different"), None


def compare_addresses(a: str | None, b: str | None) -> tuple[str, float | None]:
    if not a or not b:
        return MISSING, None
    x, y = simplified(a).replace(" ", ""), simplified(b).replace(" ", "")
    similarity = fuzz.ratio(x, y) / 100
    if similarity >= 0.9:
        return "same", similarity
    partial = fuzz.partial_ratio(x, y) / 100
    return ("partial" if partial >= 0.7 else "different"), max(similarity, partial)


@dataclass(frozen=True, slots=True)
class Evidence:
    field: str
    level: str
    weight: float  # log2 Bayes factor: + for agreement, − for disagreement
    description: str
    similarity: float | None = None  # how close, where the level is a matter of degree


@dataclass(frozen=True, slots=True)
class MatchScore:
    left: int
    right: int
    probability: float
    weight: float  # the prior plus every field's weight
    evidence: tuple[Evidence, ...]
    model: str  # the model's version

    def explained(self) -> str:
        parts = [f"{e.field} {e.level} {e.weight:+.1f}" for e in self.evidence]
        return f"p={self.probability:.3f} ({self.model}): " + ", ".join(parts)


def score(a: MatchRecord, b: MatchRecord, model: MatchModel = MODEL) -> MatchScore:
    """How likely the two records are one customer, and why."""
    comparisons = {
        "name": compare_names(a.name, b.name),
        "birthDate": compare_birth_dates(a.birth_date, b.birth_date),
        "document": compare_documents(a.documents, b.documents),
        "phone": _sets(a.phones, b.phones, "shared"),
        "email": _sets(a.emails, b.emails, "same"),
        "address": compare_addresses(a.address, b.address),
    }
    evidence = []
    for field, (level_name, similarity) in comparisons.items():
        level = model.level(field, level_name)
        evidence.append(Evidence(field, level_name, level.weight, level.description, similarity))
    if a.kind is not b.kind:  # a person and a company are never one customer
        evidence.append(Evidence("kind", "different", -math.inf, "a person and a company"))
    total = model.prior_weight + sum(e.weight for e in evidence)
    probability = 0.0 if total == -math.inf else 1 / (1 + 2 ** (-total))
    return MatchScore(a.id, b.id, probability, total, tuple(evidence), model.version)


def address_tail(address: str | None) -> str | None:
    """The end of an address (the road and the number, as Chinese addresses end): a short
    form that leaves out the city still ends the same."""
    if not address:
        return None
    text = simplified(address).replace(" ", "")
    return text[-6:] if len(text) >= 4 else None


def blocking_keys(record: MatchRecord) -> list[str]:
    """The keys a candidate pair must share (the work grows with the pairs these make, never
    with the square of the base), so that any one field may be wrong or missing and the pair
    still meets: a document, a phone, an e-mail, the name's sound with the birth date, the
    family name's sound with the birth date (a typo in the given name), the name's sound with
    the end of the address (a birth date or phone typed wrong)."""
    keys = [
        f"doc:{kind}:{digest.hex()}" for kind, digest in sorted((record.documents or {}).items())
    ]
    keys += [f"phone:{p}" for p in sorted(record.phones)]
    keys += [f"email:{e}" for e in sorted(record.emails)]
    name = record.name
    if record.birth_date is not None and name.pinyin:
        born = record.birth_date.isoformat()
        keys.append(f"name:{pinyin_key(name)}:{born}")
        keys += [f"family:{sound}:{born}" for sound in name.family_sounds]
    tail = address_tail(record.address)
    if tail is not None and name.pinyin:
        keys.append(f"home:{pinyin_key(name)}:{tail}")
    return keys


def fingerprint(a: MatchRecord, b: MatchRecord) -> str:
    """What the matcher compared of a pair, as a digest: a steward's "not the same" holds
    until it changes (a record's name, birth date, documents, phones, e-mails or address)."""

    def facts(r: MatchRecord) -> tuple[object, ...]:
        documents = sorted((t, d.hex()) for t, d in (r.documents or {}).items())
        return (
            r.id,
            r.name.text,
            r.birth_date,
            documents,
            sorted(r.phones),
            sorted(r.emails),
            r.address,
        )

    first, second = sorted((a, b), key=lambda r: r.id)
    return hashlib.sha256(repr((facts(first), facts(second))).encode()).hexdigest()
