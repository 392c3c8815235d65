"""Money on console pages: amounts in yuan (exact decimals) or integer fen (分), written for the
visitor's locale (¥1,234.50 in Chinese, CN¥1,234.50 in English) with Babel."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from babel import Locale
from babel.numbers import format_currency

from aicommons.console.locales import Translator

CURRENCY = "CNY"


def yuan_formatter(translator: Translator) -> Callable[[Decimal | int | None], str]:
    """`yuan(amount)` for templates: an amount of yuan, two decimals, in the translator's locale ("—" for none)."""
    locale = Locale.parse(translator.language)

    def yuan(amount: Decimal | int | None) -> str:
        return (
            "—" if amount is None else format_currency(amount, CURRENCY, locale=locale)
        )

    return yuan


def fen_formatter(translator: Translator) -> Callable[[int | None], str]:
    """`fen(amount)` for templates: integer fen shown as yuan (12345 → ¥123.45)."""
    yuan = yuan_formatter(translator)

    def fen(amount: int | None) -> str:
        return "—" if amount is None else yuan(Decimal(amount) / 100)

    return fen
