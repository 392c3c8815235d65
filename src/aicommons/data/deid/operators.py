"""Operators that replace detected PII, the YAML policy that picks one per entity type, and
`deidentify()`, which applies a policy to a text.

Operators:
- `mask`: hide characters but the first `keep_first` and last `keep_last` letters/digits
  (separators stay); never more than half of them are kept.
- `redact`: replace with `replacement` (default: nothing).
- `tag`: replace with a type tag, `[PHONE]` by default (`format` may use `{type}` / `{TYPE}`).
- `hash`: a keyed hash, HMAC-SHA256(secret, type:normalised value), hex, `length` characters.
- `pseudonym`: a realistic fake (Faker zh_CN / en_US plus `fakes`), the same for the same value
  and secret, so joins across a dataset still work.
- `generalise`: birth date → year, address → city, IP address → /24 or /48, URL → its site.

A policy in YAML:

    default: tag                 # or {operator: tag, format: "<{type}>"}
    min_score: 0.5
    detect: [phone, email]       # optional: only these types
    types:
      cn_resident_id: {operator: mask, keep_last: 4}
      person_name: pseudonym
      birth_date: generalise
      email: {operator: hash, length: 12}
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import re
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aicommons.core.errors import Invalid
from aicommons.data.deid import fakes
from aicommons.data.deid.addresses import city_of
from aicommons.data.deid.contacts import PERSONAL_SEGMENTS
from aicommons.data.deid.dates import reformat_date, year_of
from aicommons.data.deid.detectors import CJK, DEFAULT_MIN_SCORE, Span, detect, entity_types

# --- operator specifications (the policy's vocabulary) ---------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mask(_Spec):
    operator: Literal["mask"]
    keep_first: int = Field(0, ge=0)
    keep_last: int = Field(4, ge=0)
    char: str = Field("*", min_length=1, max_length=1)


class Redact(_Spec):
    operator: Literal["redact"]
    replacement: str = ""


class Tag(_Spec):
    operator: Literal["tag"]
    format: str = "[{TYPE}]"

    @field_validator("format")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            value.format(type="x", TYPE="X")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"format may use only {{type}} and {{TYPE}}; got {value!r} ({exc})") from None
        return value


class Hash(_Spec):
    operator: Literal["hash"]
    length: int = Field(16, ge=8, le=64)


class Pseudonym(_Spec):
    operator: Literal["pseudonym"]
    locale: Literal["auto", "zh_CN", "en_US"] = "auto"


class Generalise(_Spec):
    operator: Literal["generalise"]


OperatorSpec = Annotated[Union[Mask, Redact, Tag, Hash, Pseudonym, Generalise], Field(discriminator="operator")]
OPERATORS = ("mask", "redact", "tag", "hash", "pseudonym", "generalise")
GENERALISABLE = ("birth_date", "address", "ip_address", "url")


def _shorthand(value: Any) -> Any:
    """`phone: mask` means `phone: {operator: mask}`."""
    return {"operator": value} if isinstance(value, str) else value


class Policy(BaseModel):
    """Which operator each entity type gets; `default` for the types not listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: OperatorSpec = Tag(operator="tag")
    types: dict[str, OperatorSpec] = Field(default_factory=dict)
    detect: list[str] | None = None
    min_score: float = Field(DEFAULT_MIN_SCORE, ge=0.0, le=1.0)

    @field_validator("default", mode="before")
    @classmethod
    def _default_shorthand(cls, value: Any) -> Any:
        return _shorthand(value)

    @field_validator("types", mode="before")
    @classmethod
    def _types_shorthand(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: _shorthand(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _check_types(self) -> Policy:
        known = entity_types()
        for key in self.types:
            if key not in known:
                raise _PolicyKeyError(f"types.{key}", f"is not an entity type; known: {', '.join(known)}")
        for name in self.detect or []:
            if name not in known:
                raise _PolicyKeyError("detect", f"names an unknown entity type {name!r}; known: {', '.join(known)}")
        if isinstance(self.default, Generalise):
            raise _PolicyKeyError("default", f"cannot be 'generalise': only {', '.join(GENERALISABLE)} can be generalised")
        for key, spec in self.types.items():
            if isinstance(spec, Generalise) and key not in GENERALISABLE:
                raise _PolicyKeyError(f"types.{key}", f"cannot be generalised; only {', '.join(GENERALISABLE)} can")
        return self

    def operator_for(self, entity_type: str) -> Mask | Redact | Tag | Hash | Pseudonym | Generalise:
        return self.types.get(entity_type, self.default)


class _PolicyKeyError(ValueError):
    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


DEFAULT_POLICY = Policy(
    default=Tag(operator="tag"),
    types={
        "cn_resident_id": Mask(operator="mask", keep_last=4),
        "bank_card": Mask(operator="mask", keep_last=4),
        "phone": Mask(operator="mask", keep_first=3, keep_last=2),
        "person_name": Pseudonym(operator="pseudonym"),
        "birth_date": Generalise(operator="generalise"),
        "address": Generalise(operator="generalise"),
        "ip_address": Generalise(operator="generalise"),
        "url": Generalise(operator="generalise"),
        "email": Hash(operator="hash"),
    },
)


def load_policy(source: str | Path | Mapping[str, Any]) -> Policy:
    """A policy from a YAML file (`Path`), YAML text (`str`) or a mapping. Errors raise
    `Invalid` with a message that names the offending key."""
    where = "The policy"
    if isinstance(source, Path):
        where = f"The policy {source.name}"
        try:
            source = source.read_text(encoding="utf-8")
        except OSError as exc:
            raise Invalid(f"{where} cannot be read: {exc.strerror or exc}.") from None
    if isinstance(source, str):
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise Invalid(f"{where} is not valid YAML: {exc}".rstrip(".") + ".") from None
    else:
        data = source
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise Invalid(f"{where} must be a mapping of keys (default, types, detect, min_score); got {type(data).__name__}.")
    try:
        return Policy.model_validate(dict(data))
    except ValidationError as exc:
        raise Invalid(f"{where} is invalid: " + "; ".join(_describe(e, data) for e in exc.errors()) + ".") from None


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _PolicyKeyError):
        return f"key {ctx_error.key!r} {ctx_error.problem}"
    loc = [str(p) for p in error["loc"]]
    # Drop the discriminator tag pydantic inserts into the location: types.phone.mask.keep_lst
    if len(loc) >= 3 and loc[0] == "types" and loc[2] in OPERATORS:
        del loc[2]
    elif len(loc) >= 2 and loc[0] == "default" and loc[1] in OPERATORS:
        del loc[1]
    key = ".".join(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        owner = loc[:-1]
        if not owner:
            return f"key {key!r} is not a policy setting; allowed: default, types, detect, min_score"
        spec = _lookup(data, owner)
        operator = spec.get("operator") if isinstance(spec, Mapping) else spec
        model = _SPEC_BY_NAME.get(str(operator))
        allowed = ", ".join(n for n in model.model_fields if n != "operator") if model else "none"
        return f"key {key!r} is not an option of the {operator!r} operator; allowed: {allowed or 'none'}"
    if kind == "union_tag_invalid":
        return f"key {key + '.operator'!r} must be one of {', '.join(OPERATORS)}; got {error['ctx']['tag']!r}"
    if kind == "union_tag_not_found":
        return f"key {key!r} needs an 'operator' (one of {', '.join(OPERATORS)})"
    if kind == "value_error":
        return f"key {key!r}: {error['msg'].removeprefix('Value error, ')}"
    message = error["msg"][:1].lower() + error["msg"][1:]
    return f"key {key!r}: {message}; got {error.get('input')!r}"


def _lookup(data: Any, path: list[str]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, Mapping) else None
    return data


_SPEC_BY_NAME: dict[str, type[_Spec]] = {"mask": Mask, "redact": Redact, "tag": Tag, "hash": Hash, "pseudonym": Pseudonym, "generalise": Generalise}


# --- applying operators ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    """A detected span and where its replacement lies in the output."""

    span: Span
    operator: str
    output_start: int
    output_end: int


@dataclass(frozen=True)
class DeidResult:
    text: str
    spans: list[Span]
    counts: dict[str, int]
    replacements: list[Replacement] = field(default_factory=list)


def deidentify(text: str, policy: Policy, secret: bytes) -> DeidResult:
    """`text` with every detected span replaced by its type's operator under `policy`. `secret`
    keys hashes and pseudonyms: keep one per dataset, and never store it with the output."""
    if not isinstance(secret, bytes | bytearray) or not secret:
        raise Invalid(f"The 'secret' parameter of deidentify must be non-empty bytes; got {type(secret).__name__} instead.")
    spans = detect(text, policy.detect, min_score=policy.min_score)
    out: list[str] = []
    replacements: list[Replacement] = []
    last = 0
    length = 0
    for span in spans:
        spec = policy.operator_for(span.type)
        new = apply_operator(spec, span, bytes(secret))
        out.append(text[last : span.start])
        length += span.start - last
        replacements.append(Replacement(span, spec.operator, length, length + len(new)))
        out.append(new)
        length += len(new)
        last = span.end
    out.append(text[last:])
    return DeidResult("".join(out), spans, dict(Counter(s.type for s in spans)), replacements)


def residual_scan(result: DeidResult, policy: Policy) -> list[Span]:
    """PII the detectors still find in a de-identified text: should be empty. Pseudonyms are
    realistic by design and pass the same checks as real values, so spans of a pseudonym's type
    that touch one are not counted: a Chinese surrogate name next to the characters that followed
    the original ("朋友李雪梅方") reads as a longer name, but holds nothing from the source that the
    detectors had not already passed. Every other operator's output must be clean."""
    exempt = [(r.output_start, r.output_end, r.span.type) for r in result.replacements if r.operator == "pseudonym"]
    return [
        s
        for s in detect(result.text, policy.detect, min_score=policy.min_score)
        if not any(kind == s.type and s.start < end and start < s.end for start, end, kind in exempt)
    ]


def apply_operator(spec: Mask | Redact | Tag | Hash | Pseudonym | Generalise, span: Span, secret: bytes) -> str:
    if isinstance(spec, Mask):
        return mask(span.text, keep_first=spec.keep_first, keep_last=spec.keep_last, char=spec.char)
    if isinstance(spec, Redact):
        return spec.replacement
    if isinstance(spec, Tag):
        return tag(span.type, spec.format)
    if isinstance(spec, Hash):
        return keyed_hash(span.type, span.text, secret, spec.length)
    if isinstance(spec, Pseudonym):
        return pseudonym(span.type, span.text, secret, spec.locale)
    return generalise(span.type, span.text) or tag(span.type)


def _maskable(c: str) -> bool:
    return c.isalnum()


def mask(value: str, *, keep_first: int = 0, keep_last: int = 4, char: str = "*") -> str:
    """Hide every letter and digit (and Chinese character) but the first `keep_first` and last
    `keep_last`; at most half of them stay visible, so a short value is never left whole."""
    positions = [i for i, c in enumerate(value) if _maskable(c)]
    budget = len(positions) // 2
    last = min(keep_last, budget)
    first = min(keep_first, budget - last)
    visible = set(positions[:first]) | set(positions[len(positions) - last :] if last else [])
    return "".join(c if (i in visible or not _maskable(c)) else char for i, c in enumerate(value))


def tag(entity_type: str, format: str = "[{TYPE}]") -> str:
    return format.format(type=entity_type, TYPE=entity_type.upper())


def normalise(entity_type: str, value: str) -> str:
    """The form of a value that hashes and pseudonyms key on: the same person's phone written
    138-1234-5678 or +86 13812345678 is one value."""
    v = value.strip()
    if entity_type in ("phone", "bank_card", "cn_resident_id", "cn_credit_code", "passport"):
        v = re.sub(r"[^0-9A-Za-z]", "", v).upper()
        if entity_type == "phone" and len(v) == 13 and v.startswith("86"):
            v = v[2:]
        if entity_type == "phone" and len(v) == 15 and v.startswith("0086"):
            v = v[4:]
    elif entity_type in ("email", "url"):
        v = v.lower()
    elif entity_type == "cn_plate":
        v = re.sub(r"[·•\- ]", "", v).upper()
    else:
        v = re.sub(r"\s+", " ", v)
    return v


def _digest(secret: bytes, purpose: str, entity_type: str, value: str) -> bytes:
    message = f"{purpose}\x00{entity_type}\x00{normalise(entity_type, value)}".encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def keyed_hash(entity_type: str, value: str, secret: bytes, length: int = 16) -> str:
    return _digest(secret, "hash", entity_type, value).hex()[:length]


# --- generalise -------------------------------------------------------------------------------------


def generalise(entity_type: str, value: str) -> str | None:
    """A coarser value: birth date → year, address → city, IP → network, URL → site. None when
    the value has no coarser form (the caller then tags it)."""
    if entity_type == "birth_date":
        return year_of(value)
    if entity_type == "address":
        return city_of(value)
    if entity_type == "ip_address":
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return None
        if ip.version == 4:
            return ".".join(value.split(".")[:3]) + ".*"
        groups = ip.exploded.split(":")[:3]  # the /48 routing prefix, written so no detector reads an address
        return ":".join(g.lstrip("0") or "0" for g in groups) + ":*"
    if entity_type == "url":
        parts = urlsplit(value if "://" in value else "http://" + value)
        host = (parts.hostname or "").split(".")
        site = ".".join(host[-3:] if len(host) >= 3 and host[-2] in ("com", "net", "org", "gov", "edu") else host[-2:])
        return f"{parts.scheme}://{site}" if "://" in value else site
    return None


# --- pseudonyms --------------------------------------------------------------------------------------

_faker_lock = threading.Lock()


@lru_cache(maxsize=2)
def _faker(locale: str) -> Any:
    from faker import Faker

    return Faker(locale)


def _has_cjk(value: str) -> bool:
    return re.search(f"[{CJK}]", value) is not None


def pseudonym(entity_type: str, value: str, secret: bytes, locale: str = "auto") -> str:
    """A realistic fake of the same type and shape, derived from HMAC(secret, value): the same
    value and secret always give the same fake, a different secret a different one."""
    seed = int.from_bytes(_digest(secret, "pseudonym", entity_type, value)[:8], "big")
    if locale == "auto":
        chinese_types = ("cn_resident_id", "cn_credit_code", "cn_plate")
        locale = "zh_CN" if _has_cjk(value) or entity_type in chinese_types else "en_US"
    rng = random.Random(seed)
    maker = _PSEUDONYMS.get(entity_type)
    with _faker_lock:
        fake = _faker(locale)
        fake.seed_instance(seed)
        if maker is None:
            return reshape_like(value, rng)
        return maker(value, rng, fake, locale)


def reshape_like(value: str, rng: random.Random) -> str:
    """Same shape: each digit replaced by a digit, each letter by a letter of the same case."""
    out = []
    for c in value:
        if c.isdigit():
            out.append(str(rng.randrange(10)))
        elif c.isascii() and c.isalpha():
            letter = rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
            out.append(letter if c.isupper() else letter.lower())
        else:
            out.append(c)
    return "".join(out)


def _name(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    if locale == "zh_CN":
        return fake.last_name() + fake.first_name()
    return f"{fake.first_name()} {fake.last_name()}"


def _resident_id(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    return fakes.fake_cn_resident_id(rng, old_format=len(value) == 15)


def _phone(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    digits = re.sub(r"\D", "", value)
    prefix, national = "", digits
    for country in ("0086", "86"):
        if digits.startswith(country) and re.fullmatch(r"1[3-9]\d{9}", digits[len(country) :]):
            prefix, national = country, digits[len(country) :]
    if re.fullmatch(r"1[3-9]\d{9}", national):
        new = prefix + fakes.fake_cn_mobile(rng)
    elif digits.startswith("0") and 10 <= len(digits) <= 12:
        area = 3 if digits[1] in "12" else 4  # 010, 02x; else 0xxx
        new = digits[:area] + str(rng.randrange(2, 9)) + "".join(str(rng.randrange(10)) for _ in range(len(digits) - area - 1))
    else:
        keep = max(0, len(digits) - 10)  # a country or trunk prefix stays
        rest = [str(rng.randrange(10)) for _ in range(len(digits) - keep)]
        for lead in (0, 3):  # area code and exchange start with 2-9
            if lead < len(rest):
                rest[lead] = str(rng.randrange(2, 10))
        new = digits[:keep] + "".join(rest)
    return fakes.reshape(value, new)


def _bank_card(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    digits = re.sub(r"\D", "", value)
    return fakes.reshape(value, fakes.fake_bank_card(rng, prefix=digits[:2], length=len(digits)))


def _credit_code(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    return fakes.fake_cn_credit_code(rng)


def _plate(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    separator = next((c for c in value[2:3] if c in "·•- "), "")
    tail = re.sub(r"[·•\- ]", "", value)[2:]
    return fakes.fake_cn_plate(rng, new_energy=len(tail) == 6, separator=separator)


def _passport(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    if re.fullmatch(r"E[0-9A-HJ-NP-Z]\d{7}|[EGDSP]\d{8}|[DSP]E\d{7}", value):
        return fakes.fake_cn_passport(rng)
    return reshape_like(value, rng)


def _email(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    user = fake.user_name() if locale == "en_US" else _faker("en_US").user_name()
    return f"{user}{rng.randrange(100)}@example.{rng.choice(['com', 'org', 'net'])}"


def _ip(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    if ":" in value:
        return str(ipaddress.IPv6Address(rng.getrandbits(128) | (0x2001 << 112)))
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _url(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    has_scheme = "://" in value
    parts = urlsplit(value if has_scheme else "http://" + value)
    user = _faker("en_US").user_name() + str(rng.randrange(1000))
    host = parts.netloc
    labels = host.split(".")
    if len(labels) >= 3 and labels[0] not in ("www", "m", "space"):
        host = ".".join([user, *labels[1:]])
    segments = [s for s in parts.path.split("/")]
    new_segments = [
        s if (not s or s.lower() in PERSONAL_SEGMENTS) else ("~" + user if s.startswith("~") else "@" + user if s.startswith("@") else user)
        for s in segments
    ]
    path = "/".join(new_segments)
    query = "&".join(f"{kv.split('=')[0]}={user}" for kv in parts.query.split("&") if kv) if parts.query else ""
    url = f"{parts.scheme}://{host}{path}" + (f"?{query}" if query else "")
    return url if has_scheme else url.split("://", 1)[1]


def _birth_date(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    return reformat_date(value, fakes.fake_birth_date(rng))


def _address(value: str, rng: random.Random, fake: Any, locale: str) -> str:
    if locale == "zh_CN":
        return fake.province() + fake.city() + fake.district() + "区" + fake.street_name() + f"{rng.randrange(1, 300)}号"
    return f"{fake.building_number()} {fake.street_name()}, {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"


_PSEUDONYMS = {
    "person_name": _name,
    "cn_resident_id": _resident_id,
    "phone": _phone,
    "bank_card": _bank_card,
    "cn_credit_code": _credit_code,
    "cn_plate": _plate,
    "passport": _passport,
    "email": _email,
    "ip_address": _ip,
    "url": _url,
    "birth_date": _birth_date,
    "address": _address,
}
