"""Fonts: a CJK font family matplotlib can draw Chinese with, and `Script`, how text reaches
matplotlib with one or (English labels, names in pinyin) without."""

from __future__ import annotations

import functools
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from typing import Any

from aicommons.observatory.reports.contents import Label

CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                "Source Han Sans CN", "AR PL UMing CN", "AR PL UKai CN", "SimHei", "Microsoft YaHei", "PingFang SC")


@functools.cache
def cjk_font_family() -> str | None:
    """A font family matplotlib can draw Chinese with, or None; fonts installed after matplotlib
    built its cache are found through fontconfig and added."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in _fontconfig_chinese_fonts():
        try:
            font_manager.fontManager.addfont(path)
            return str(font_manager.FontProperties(fname=path).get_name())
        except (OSError, RuntimeError, ValueError):
            continue  # a format FreeType here cannot read: try the next
    return None


def _fontconfig_chinese_fonts() -> list[str]:
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()})
    return [p for p in paths if p.lower().endswith((".ttf", ".otf", ".ttc"))]


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_PUNCTUATION = str.maketrans({"、": ",", "。": ".", "〔": "[", "〕": "]", "《": "<", "》": ">", "【": "[", "】": "]", "—": "-"})


@dataclass(frozen=True)
class Script:
    """How text reaches matplotlib: as is with a CJK font; without one, labels in English and
    names in pinyin. '$' is escaped either way so no text switches on mathtext."""

    family: str | None

    def __call__(self, text: str) -> str:
        if self.family is None:
            text = unicodedata.normalize("NFKC", text).translate(_CJK_PUNCTUATION)
            text = _HAN.sub(lambda m: _spaced(m, _pinyin(m.group(0))), text).encode("latin-1", "replace").decode("latin-1")
        return text.replace("$", r"\$")

    def label(self, label: Label) -> str:
        return self(f"{label[0]} {label[1]}") if self.family else label[1]


def _spaced(match: re.Match[str], word: str) -> str:
    """`word` with a space on each side where it would touch a letter or digit (and before a parenthesis)."""
    text, start, end = match.string, match.start(), match.end()
    before = " " if start > 0 and text[start - 1].isalnum() else ""
    after = " " if end < len(text) and (text[end].isalnum() or text[end] == "(") else ""
    return before + word + after


def _pinyin(han: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(han)).capitalize()


def _script(cjk: bool | None) -> Script:
    """`cjk=None` finds a font; False forces the fallback (what a machine without one shows)."""
    return Script(cjk_font_family() if cjk is not False else None)


def _style(script: Script) -> dict[str, Any]:
    families = [script.family, "DejaVu Sans"] if script.family else ["DejaVu Sans"]
    return {"font.family": "sans-serif", "font.sans-serif": families, "axes.unicode_minus": False, "pdf.fonttype": 3,
            "svg.hashsalt": "aicommons"}


FONT_NOTE = ("No Chinese font was found for the charts and the PDF: labels are in English and names in pinyin. "
             "Install one with scripts/ensure-cjk-font.sh (WenQuanYi Micro Hei) for Chinese.")
