"""Languages: zh-CN by default, English switchable; one gettext catalogue read with Babel.

Messages are written in English in templates and routes, through `_`; the .po files in `i18n/zh_CN/`
(one per area of the console, read as one catalogue) hold their Chinese. They are parsed at
start-up (no compiled .mo), so a plain `pip install -e .` serves both languages. Numbers and dates go through Babel for the visitor's locale, and times are
shown in China Standard Time, where the platform's users are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

DEFAULT = "zh_CN"
LANGUAGES = {"zh_CN": "中文", "en": "English"}
CATALOGUE_DIR = Path(__file__).parent / "i18n"
TIMEZONE = ZoneInfo("Asia/Shanghai")


@functools.cache
def _messages(language: str) -> dict[str, str]:
    messages: dict[str, str] = {}
    # English is the source language: it has no catalogue folder
    for path in sorted((CATALOGUE_DIR / language).glob("*.po")):
        with path.open("rb") as handle:
            catalogue = read_po(handle, locale=language)
        messages.update({m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy and isinstance(m.id, str)})
    return messages


def chosen(cookie: str | None) -> str:
    """The language a cookie asks for, or the default."""
    return cookie if cookie in LANGUAGES else DEFAULT


@dataclass(frozen=True)
class Translator:
    """What templates call for words, numbers and dates in one language."""

    language: str

    @property
    def html_lang(self) -> str:
        return self.language.replace("_", "-")

    def gettext(self, message: str, **values: object) -> str:
        text = _messages(self.language).get(message, message)
        return text.format(**values) if values else text

    def number(self, value: float) -> str:
        return format_decimal(value, locale=Locale.parse(self.language))

    def percent(self, value: float) -> str:
        return format_percent(value, locale=Locale.parse(self.language))

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return "—"
        return format_datetime(value, "medium", tzinfo=TIMEZONE, locale=Locale.parse(self.language))

    def functions(self) -> dict[str, Callable[..., str]]:
        return {"_": self.gettext, "number": self.number, "percent": self.percent, "when": self.datetime}
