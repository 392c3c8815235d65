"""Check characters of the identifiers the detectors validate.

- GB 11643-1999: the 18-character resident identity number (ISO 7064 MOD 11-2 check character),
  and the structure of the older 15-digit number (no check character: region and birth date only).
- Luhn (ISO/IEC 7812-1 annex B): bank card numbers; plus the issuer ranges and lengths of
  ISO/IEC 7812 card brands, so that a Luhn-valid order number is not taken for a card.
- GB 32100-2015: the 18-character unified social credit code (MOD 31 check character), whose
  characters 9-17 are a GB 11714-1997 organisation code with its own MOD 11 check character.

All functions are pure and take the identifier as written, without separators.
"""

from __future__ import annotations

import datetime as dt

# --- GB 11643: resident identity numbers -----------------------------------------------------

_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK = "10X98765432"  # indexed by (weighted sum mod 11)

# First two digits of an administrative division code (GB/T 2260): provinces, plus 81/82/83,
# which residence permits for Hong Kong, Macao and Taiwan residents use.
CN_PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
        "65", "71", "81", "82", "83",
    }
)


def gb11643_check_char(first17: str) -> str:
    """The check character ('0'-'9' or 'X') of an 18-character resident identity number."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"GB 11643 needs 17 digits; got {first17!r}.")
    total = sum(int(c) * w for c, w in zip(first17, _GB11643_WEIGHTS))
    return _GB11643_CHECK[total % 11]


def _valid_birth_date(year: int, month: int, day: int, today: dt.date | None = None) -> bool:
    try:
        born = dt.date(year, month, day)
    except ValueError:
        return False
    return dt.date(1900, 1, 1) <= born <= (today or dt.date.today())


def is_valid_cn_resident_id(number: str, today: dt.date | None = None) -> bool:
    """True for an 18-character number with a known province, a real birth date and the right
    GB 11643 check character, or a 15-digit (pre-1999) number with a known province and a real
    birth date in 19YY. A number that looks right but fails its check is not an ID."""
    number = number.upper()
    if len(number) == 18:
        body, check = number[:17], number[17]
        if not body.isdigit() or body[:2] not in CN_PROVINCE_CODES:
            return False
        if not _valid_birth_date(int(body[6:10]), int(body[10:12]), int(body[12:14]), today):
            return False
        return gb11643_check_char(body) == check
    if len(number) == 15:
        if not number.isdigit() or number[:2] not in CN_PROVINCE_CODES:
            return False
        return _valid_birth_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]), today)
    return False


def cn_resident_id_structure(number: str, today: dt.date | None = None) -> bool:
    """True when an 18-digit string has an ID's region and birth date, whatever its check
    character: such a number with a bad check is a mistyped ID, not a bank card."""
    return (
        len(number) == 18
        and number[:17].isdigit()
        and number[:2] in CN_PROVINCE_CODES
        and _valid_birth_date(int(number[6:10]), int(number[10:12]), int(number[12:14]), today)
    )


# --- Luhn and card brands --------------------------------------------------------------------


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` Luhn-valid."""
    for d in "0123456789":
        if luhn_valid(body + d):
            return d
    raise ValueError(f"Luhn needs digits; got {body!r}.")  # pragma: no cover - unreachable for digits


# (prefix ranges, allowed lengths) per brand, from the brands' published IIN tables.
_CARD_BRANDS: tuple[tuple[str, tuple[tuple[int, int], ...], frozenset[int]], ...] = (
    ("visa", ((4, 4),), frozenset({13, 16, 19})),
    ("mastercard", ((51, 55), (2221, 2720)), frozenset({16})),
    ("amex", ((34, 34), (37, 37)), frozenset({15})),
    ("unionpay", ((62, 62), (81, 81)), frozenset({16, 17, 18, 19})),
    ("discover", ((6011, 6011), (644, 649), (65, 65)), frozenset({16, 17, 18, 19})),
    ("jcb", ((3528, 3589),), frozenset({16, 17, 18, 19})),
    ("diners", ((300, 305), (36, 36), (38, 39)), frozenset({14, 15, 16, 17, 18, 19})),
    ("maestro", ((50, 50), (56, 58), (63, 63), (67, 67)), frozenset(range(12, 20))),
)


def card_brand(digits: str) -> str | None:
    """The card brand whose issuer range and length `digits` fits, or None."""
    for brand, ranges, lengths in _CARD_BRANDS:
        if len(digits) not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if digits[:width].isdigit() and low <= int(digits[:width]) <= high:
                return brand
    return None


def is_valid_bank_card(digits: str) -> bool:
    """Luhn-valid and inside a card brand's issuer range and lengths."""
    return digits.isdigit() and card_brand(digits) is not None and luhn_valid(digits)


# --- GB 32100 / GB 11714: unified social credit codes ------------------------------------------

GB32100_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
_GB32100_VALUES = {c: i for i, c in enumerate(GB32100_CHARSET)}
_GB32100_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# First character: the registering authority (1 机构编制, 5 民政, 9 工商, Y 其他, ...).
GB32100_AUTHORITIES = frozenset("123456789ANY")

_GB11714_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def gb32100_check_char(first17: str) -> str:
    if len(first17) != 17 or any(c not in _GB32100_VALUES for c in first17):
        raise ValueError(f"GB 32100 needs 17 characters from {GB32100_CHARSET!r}; got {first17!r}.")
    total = sum(_GB32100_VALUES[c] * w for c, w in zip(first17, _GB32100_WEIGHTS))
    return GB32100_CHARSET[(31 - total % 31) % 31]


def gb11714_check_char(first8: str) -> str:
    """Check character of a GB 11714 organisation code (digits and letters A=10 … Z=35)."""
    if len(first8) != 8 or not first8.isalnum() or not first8.isascii():
        raise ValueError(f"GB 11714 needs 8 letters or digits; got {first8!r}.")
    total = sum(int(c, 36) * w for c, w in zip(first8.upper(), _GB11714_WEIGHTS))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def is_valid_credit_code(code: str) -> bool:
    """A unified social credit code: 18 characters from the GB 32100 set, a known registering
    authority, a known province in the region code and the right GB 32100 check character."""
    code = code.upper()
    if len(code) != 18 or any(c not in _GB32100_VALUES for c in code):
        return False
    if code[0] not in GB32100_AUTHORITIES or not code[2:8].isdigit() or code[2:4] not in CN_PROVINCE_CODES:
        return False
    return gb32100_check_char(code[:17]) == code[17]


def credit_code_org_check_valid(code: str) -> bool:
    """Whether characters 9-17 carry a valid GB 11714 organisation-code check character."""
    body = code[8:16].upper()
    return len(code) == 18 and body.isalnum() and body.isascii() and gb11714_check_char(body) == code[16].upper()
