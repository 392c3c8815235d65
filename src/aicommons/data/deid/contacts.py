"""Detectors for contact points: phone numbers, e-mail addresses, IP addresses and URLs that
point at a person (a profile, a home page, a query naming a user)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

from aicommons.data.deid.detectors import (
    NOT_AFTER_ALNUM,
    NOT_BEFORE_ALNUM,
    Span,
    before,
    context_score,
    detectors,
    keyword_pattern,
)
from aicommons.data.deid.identifiers import NOT_PERSONAL

# --- phone numbers --------------------------------------------------------------------------------

_PHONE_CONTEXT = keyword_pattern(
    [
        "电话", "手机", "手机号", "联系方式", "联系电话", "致电", "拨打", "座机", "来电", "号码", "微信", "短信",
        "phone", "mobile", "cell", "tel", "telephone", "call", "contact", "fax", "reach", "text", "whatsapp",
    ]
)
# Mainland mobile numbers: 1[3-9]x xxxx xxxx, optionally +86 / 0086.
# A phone number is not a group inside a longer run of digit groups (a card, an account number).
_NOT_IN_GROUPS_BEFORE = r"(?<!\d[ -])"
_NOT_IN_GROUPS_AFTER = r"(?![ -]\d)"
_CN_MOBILE = re.compile(_NOT_IN_GROUPS_BEFORE + NOT_AFTER_ALNUM + r"(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}" + NOT_BEFORE_ALNUM + _NOT_IN_GROUPS_AFTER)
# Mainland landlines: a 0-led area code set off by a dash, space or parentheses, or +86 without the 0.
_CN_LANDLINE = re.compile(
    _NOT_IN_GROUPS_BEFORE
    + NOT_AFTER_ALNUM
    + r"(?:(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}[ -])|(?:\+|00)86[ -]?\(?[1-9]\d{1,2}\)?[ -])"
    + r"\d{3,4}[ -]?\d{4}(?:(?:-|转|ext\.?|x)\d{1,5})?"
    + NOT_BEFORE_ALNUM
    + _NOT_IN_GROUPS_AFTER
)
# North American numbers: area code and exchange start with 2-9; separators required unless the
# context says "phone".
_NANP = re.compile(
    _NOT_IN_GROUPS_BEFORE
    + r"(?<![0-9A-Za-z+])(?:(?:\+1|001|1)[ .-]?)?(?:\((?P<a1>[2-9]\d{2})\) ?|(?P<a2>[2-9]\d{2})[ .-])"
    r"[2-9]\d{2}[ .-]\d{4}(?: ?(?:x|ext\.?|extension) ?\d{1,5})?" + NOT_BEFORE_ALNUM + _NOT_IN_GROUPS_AFTER
)
_BARE10 = re.compile(r"(?<![0-9A-Za-z+])(?:\+?1)?[2-9]\d{2}[2-9]\d{6}" + NOT_BEFORE_ALNUM)
# Other international numbers written with a + country code and groups.
_INTL = re.compile(r"(?<![0-9A-Za-z+])\+(?!1[ .-]|86)[1-9]\d{0,2}(?:[ -]\(?\d{1,4}\)?){2,5}" + NOT_BEFORE_ALNUM)


@detectors.register("phone")
def find_phones(text: str) -> Iterator[Span]:
    """Mainland mobiles (0.85) and landlines (0.8), North American numbers with separators
    (0.8) or bare with a phone keyword nearby, and other +country-code numbers (0.75); 0.95 with
    a phone keyword, 0.2 after an order or serial-number keyword."""
    taken: list[tuple[int, int]] = []

    def emit(m: re.Match[str], base: float, need_context: bool = False) -> Iterator[Span]:
        if any(m.start() < e and s < m.end() for s, e in taken):
            return
        if need_context:
            score = context_score(text, m.start(), m.end(), base=0.3, positive=_PHONE_CONTEXT, negative=NOT_PERSONAL, boosted=0.85, window=24)
        else:
            score = context_score(text, m.start(), m.end(), base=base, positive=_PHONE_CONTEXT, negative=NOT_PERSONAL, window=24)
        taken.append((m.start(), m.end()))
        yield Span(m.start(), m.end(), "phone", m.group(), score)

    for m in _CN_MOBILE.finditer(text):
        yield from emit(m, 0.85)
    for m in _CN_LANDLINE.finditer(text):
        yield from emit(m, 0.8)
    for m in _NANP.finditer(text):
        yield from emit(m, 0.8)
    for m in _BARE10.finditer(text):
        yield from emit(m, 0.3, need_context=True)
    for m in _INTL.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 8 <= len(digits) <= 15:
            yield from emit(m, 0.75)


# --- e-mail ---------------------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]*[A-Za-z0-9_%+-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])"
)


@detectors.register("email")
def find_emails(text: str) -> Iterator[Span]:
    """ASCII e-mail addresses with a dotted domain and an alphabetic top-level label (0.95).
    No public-suffix list is fetched: the shape alone decides."""
    for m in _EMAIL.finditer(text):
        yield Span(m.start(), m.end(), "email", m.group(), 0.95)


# --- IP addresses ------------------------------------------------------------------------------------

_IP_CONTEXT = keyword_pattern(["IP", "IP地址", "地址", "登录", "访问", "host", "server", "address", "login", "logged", "client", "source"])
_VERSION_WORDS = keyword_pattern(["version", "ver", "v", "版本", "版本号", "固件", "firmware", "build", "release", "OID", "section", "条", "第"])
_IPV4 = re.compile(r"(?<![0-9A-Za-z.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)")
_IPV6 = re.compile(r"(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])")


@detectors.register("ip_address")
def find_ip_addresses(text: str) -> Iterator[Span]:
    """IPv4 and IPv6 addresses that `ipaddress` accepts (0.85, 0.95 with context); a dotted
    quad right after a version keyword is a version number (0.1)."""
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        if re.search(r"[vV]\s?$", before(text, m.start(), 2)) or _VERSION_WORDS.search(before(text, m.start(), 10)):
            score = 0.1
        else:
            score = context_score(text, m.start(), m.end(), base=0.85, positive=_IP_CONTEXT, window=16)
        yield Span(m.start(), m.end(), "ip_address", m.group(), score)
    for m in _IPV6.finditer(text):
        candidate = m.group()
        if "::" not in candidate and candidate.count(":") != 7:
            continue
        if sum(c not in ":" for c in candidate) < 4:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield Span(m.start(), m.end(), "ip_address", candidate, context_score(text, m.start(), m.end(), base=0.85, positive=_IP_CONTEXT))


# --- URLs with personal paths -------------------------------------------------------------------

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'，。；！？、（）()【】《》「」]+"
    r"|(?<![\w@./-])(?:[A-Za-z0-9-]+\.)+(?:com|cn|net|org|io|me|co|edu|gov|info)(?:\.cn)?/[^\s<>\"'，。；！？、（）()【】《》「」]+",
    re.IGNORECASE,
)
# Path segments after which the next segment names a person.
PERSONAL_SEGMENTS = frozenset(
    {
        "u", "user", "users", "people", "person", "profile", "profiles", "member", "members", "home", "space",
        "in", "pub", "author", "authors", "personal", "uid", "account", "accounts", "staff", "student",
        "students", "homepage", "blog", "blogs", "channel", "follow", "followers", "friends",
    }
)
# Sites whose first path segment is a user name.
USER_HOSTS = frozenset(
    {
        "github.com", "gitee.com", "gitlab.com", "twitter.com", "x.com", "weibo.com", "instagram.com",
        "facebook.com", "tiktok.com", "douyin.com", "medium.com", "t.me", "youtube.com", "reddit.com",
    }
)
# Subdomains that are a user's own site or space.
USER_SUBDOMAIN_HOSTS = ("github.io", "blogspot.com", "wordpress.com", "space.bilibili.com", "gitee.io", "lofter.com")
_NON_USER_FIRST_SEGMENTS = frozenset(
    {
        "about", "features", "pricing", "login", "signup", "join", "explore", "topics", "marketplace", "settings",
        "search", "help", "home", "trending", "orgs", "enterprise", "security", "contact", "terms", "privacy", "i",
        "hashtag", "watch", "results", "feed", "hot", "news", "tag", "tags", "blog", "docs",
    }
)
PERSONAL_QUERY_KEYS = frozenset(
    {
        "uid", "user", "userid", "user_id", "username", "user_name", "name", "email", "mail", "phone", "mobile",
        "tel", "openid", "unionid", "idcard", "id_card", "account", "member_id", "memberid", "customer_id",
    }
)
_PHONE_OR_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}|(?<!\d)1[3-9]\d{9}(?!\d)")


def url_is_personal(url: str) -> bool:
    """Whether a URL's host, path or query identifies a person."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    segments = [s for s in parts.path.split("/") if s]
    if any(len(s) > 1 and s[0] in "~@" for s in segments):
        return True
    if any(host.endswith("." + h) and host != h for h in USER_SUBDOMAIN_HOSTS) or (host == "space.bilibili.com" and segments):
        return True
    if host in USER_HOSTS and segments and segments[0].lower() not in _NON_USER_FIRST_SEGMENTS:
        return True
    for i, segment in enumerate(segments[:-1]):
        if segment.lower() in PERSONAL_SEGMENTS and segments[i + 1]:
            return True
    if any(key.lower() in PERSONAL_QUERY_KEYS and value for key, value in parse_qsl(parts.query)):
        return True
    return bool(_PHONE_OR_EMAIL.search(parts.path + "?" + parts.query))


@detectors.register("url")
def find_urls(text: str) -> Iterator[Span]:
    """URLs whose path or query names a person (/u/123, /~jdoe, github.com/jdoe, ?uid=…): 0.85.
    Other URLs (a home page, a policy document) are not personal data: 0.3."""
    for m in _URL.finditer(text):
        url = m.group().rstrip(".,;:!?)]}'\"")
        if not url:
            continue
        score = 0.85 if url_is_personal(url) else 0.3
        yield Span(m.start(), m.start() + len(url), "url", url, score)
