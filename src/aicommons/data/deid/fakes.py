"""Realistic fake identifiers that pass the same checks as real ones.

Faker's zh_CN and en_US locales cover names, addresses, resident ID numbers and e-mail; these
functions add what Faker lacks (unified social credit codes, mainland plates, landlines,
UnionPay cards, Chinese passports) and are shared by the pseudonym operator and the benchmark's
corpus. Every function takes a `random.Random`, so a seeded one gives the same values again.
"""

from __future__ import annotations

import datetime as dt
import random

from aicommons.data.deid.checksums import (
    GB32100_CHARSET,
    gb11643_check_char,
    gb11714_check_char,
    gb32100_check_char,
    luhn_check_digit,
)
from aicommons.data.deid.identifiers import CN_PLATE_PROVINCES

# A few real county-level division codes (GB/T 2260) per province, enough for plausible IDs.
CN_REGION_CODES = (
    "110101", "110105", "110108", "120101", "130102", "140105", "150102", "210102", "220102", "230102",
    "310101", "310104", "310115", "320102", "320506", "330102", "330106", "330108", "330110", "330203",
    "340102", "350102", "360102", "370102", "370202", "410105", "420102", "420106", "430102", "440103",
    "440106", "440305", "450102", "460105", "500103", "510104", "510107", "520102", "530102", "540102",
    "610102", "620102", "630102", "640104", "650102",
)
CN_AREA_CODES = ("010", "020", "021", "022", "023", "024", "025", "027", "028", "029", "0571", "0574", "0591", "0755", "0731", "0871", "0531", "0532")
CN_MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156", "157", "158", "159", "166", "170", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187", "188", "189", "191", "193", "195", "198", "199")
_PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_CODE_CHARS = GB32100_CHARSET


def fake_birth_date(rng: random.Random, *, min_age: int = 18, max_age: int = 85, today: dt.date | None = None) -> dt.date:
    today = today or dt.date.today()
    start = dt.date(today.year - max_age, 1, 1)
    end = dt.date(today.year - min_age, 12, 31)
    return start + dt.timedelta(days=rng.randrange((end - start).days))


def fake_cn_resident_id(rng: random.Random, *, born: dt.date | None = None, old_format: bool = False) -> str:
    """An 18-character resident ID number with a valid check character (or a 15-digit one)."""
    born = born or fake_birth_date(rng)
    region = rng.choice(CN_REGION_CODES)
    sequence = f"{rng.randrange(1000):03d}"
    if old_format:
        return f"{region}{born:%y%m%d}{sequence}"
    body = f"{region}{born:%Y%m%d}{sequence}"
    return body + gb11643_check_char(body)


def fake_cn_credit_code(rng: random.Random) -> str:
    """A unified social credit code whose GB 11714 and GB 32100 check characters are valid."""
    authority, kind = rng.choice([("9", "1"), ("9", "2"), ("9", "3"), ("1", "1"), ("5", "1"), ("5", "2"), ("Y", "1")])
    region = rng.choice(CN_REGION_CODES)
    while True:
        org_body = "".join(rng.choice(_CODE_CHARS[:10] if rng.random() < 0.7 else _CODE_CHARS) for _ in range(8))
        org_check = gb11714_check_char(org_body)
        if org_check in _CODE_CHARS:
            break
    first17 = authority + kind + region + org_body + org_check
    return first17 + gb32100_check_char(first17)


def fake_cn_plate(rng: random.Random, *, new_energy: bool = False, separator: str = "") -> str:
    """A mainland plate: province + letter + five characters, or six for a new-energy vehicle."""
    head = rng.choice(CN_PLATE_PROVINCES) + rng.choice(_PLATE_LETTERS[:12])
    if new_energy:
        tail = (
            rng.choice("DF") + rng.choice(_PLATE_LETTERS + "0123456789") + f"{rng.randrange(10000):04d}"
            if rng.random() < 0.8
            else f"{rng.randrange(100000):05d}" + rng.choice("DF")
        )
    else:
        letters = rng.choice([0, 0, 1, 1, 2])
        chars = [str(rng.randrange(10)) for _ in range(5)]
        for pos in rng.sample(range(5), letters):
            chars[pos] = rng.choice(_PLATE_LETTERS)
        if not any(c.isdigit() for c in chars[:4]):
            chars[0] = str(rng.randrange(10))
        tail = "".join(chars)
    return head + separator + tail


def fake_cn_mobile(rng: random.Random) -> str:
    return rng.choice(CN_MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def fake_cn_landline(rng: random.Random, *, separator: str = "-") -> str:
    area = rng.choice(CN_AREA_CODES)
    width = 8 if len(area) == 3 else rng.choice([7, 8])
    local = str(rng.randrange(2, 9)) + "".join(str(rng.randrange(10)) for _ in range(width - 1))
    return f"({area}){local}" if separator == "()" else f"{area}{separator}{local}"


def fake_nanp_phone(rng: random.Random) -> str:
    """A North American number: area code and exchange start with 2-9."""
    area = f"{rng.randrange(2, 10)}{rng.randrange(10)}{rng.randrange(10)}"
    exchange = f"{rng.randrange(2, 10)}{rng.randrange(10)}{rng.randrange(10)}"
    return f"{area}-{exchange}-{rng.randrange(10000):04d}"


def fake_bank_card(rng: random.Random, *, prefix: str = "62", length: int = 16) -> str:
    """A Luhn-valid card number (UnionPay 62… by default)."""
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    return body + luhn_check_digit(body)


def fake_cn_passport(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return "E" + f"{rng.randrange(10**8):08d}"
    return "E" + rng.choice("ABCDEFGH") + f"{rng.randrange(10**7):07d}"


def fake_us_passport(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.randrange(10**8, 10**9)}"
    return rng.choice("ACEFGHJKLMNPRSTUVWXYZ") + f"{rng.randrange(10**8):08d}"


def reshape(template: str, replacement_chars: str) -> str:
    """`template` with its letters and digits replaced, in order, by `replacement_chars`; the
    separators (spaces, dashes, brackets, +) stay where they were. Extra characters are appended."""
    out, chars = [], iter(replacement_chars)
    for c in template:
        if c.isalnum():
            out.append(next(chars, ""))
        else:
            out.append(c)
    out.extend(chars)
    return "".join(out)
