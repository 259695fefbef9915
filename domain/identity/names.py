"""Chinese personal and company names as a matcher compares them: simplified characters, the
family name apart, and the pinyin (a typo at a keyboard is a wrong character with the same
sound, a romanised passport name is the pinyin without tones).
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import opencc
from pypinyin import Style, lazy_pinyin

# Two-character family names (复姓) the matcher must not split after the first character.
COMPOUND_SURNAMES = frozenset(
    {
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
        "宇文", "司徒", "令狐", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "万俟",
    }
)  # fmt: skip


@functools.cache
def _to_simplified() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@dataclass(frozen=True, slots=True)
class Name:
    """A name as compared: simplified, without spaces or punctuation; the family name split
    off for a person; its pinyin syllables."""

    text: str
    family: str
    given: str
    pinyin: tuple[str, ...]
    written: str = ""  # as written, before simplification (traditional characters stay)
    # The family name's sound; for a romanised name its first and its last word (which one is
    # the family name is not written).
    family_sounds: tuple[str, ...] = ()

    @property
    def sound(self) -> str:
        return "".join(self.pinyin)

    @property
    def swapped_sound(self) -> str:
        """The given name first, as a passport or a Western form may write it."""
        cut = len(lazy_pinyin(self.family)) if self.family else 1
        return "".join(self.pinyin[cut:] + self.pinyin[:cut])


def simplified(text: str) -> str:
    return str(_to_simplified().convert(text))


def _clean(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch.isalnum()).lower()


def _is_han(text: str) -> bool:
    return bool(text) and all("\u3400" <= ch <= "\u9fff" for ch in text)


@functools.lru_cache(maxsize=65_536)
def parse_name(raw: str, *, person: bool = True) -> Name:
    """The name in the form the comparisons use. A romanised name (ZHANG WEI, Zhang, Wei)
    keeps its words as syllables, so it meets the pinyin of 张伟; which word is the family name
    is not known from it (either order is tried)."""
    text = simplified(_clean(raw))
    if _is_han(text):
        family = ""
        if person and len(text) >= 2:
            family = text[:2] if text[:2] in COMPOUND_SURNAMES and len(text) > 2 else text[:1]
        syllables = tuple(lazy_pinyin(text, style=Style.NORMAL))
        sounds = ("".join(lazy_pinyin(family, style=Style.NORMAL)),) if family else ()
        return Name(text, family, text[len(family) :], syllables, _clean(raw), sounds)
    words = tuple(w for w in (_clean(part) for part in raw.replace(",", " ").split()) if w)
    ends = tuple(dict.fromkeys((words[0], words[-1]))) if len(words) > 1 else ()
    return Name(text, "", "", words, _clean(raw), ends)


def pinyin_key(name: Name) -> str:
    """The name's sound, for blocking: its letters sorted, so 张伟 and WEI ZHANG meet, and 欧阳娜
    (ou·yang·na) meets OUYANG NA, whose words are not split into syllables."""
    return "".join(sorted(name.sound))
