"""Data cleaning: pure functions that say which records to drop or review, and why.

Each is called by a cleaning job that writes a new dataset version with lineage; nothing here
reads or writes storage, and the same input always gives the same answer.

- duplicates: `exact_duplicates`, `near_duplicate_texts`, `near_duplicate_images` -> `Cluster`s
- text quality: `check_text(text, TextRules)` -> reason codes
- image checks: `check_image(data, ImageRules)` -> reason codes
- label issues: `find_label_issues(features, labels)` -> `LabelIssue`s, for review
"""

from .duplicates import Cluster, exact_duplicates, near_duplicate_images, near_duplicate_texts, removed_ids
from .image_checks import REASONS as IMAGE_REASONS
from .image_checks import ImageRules, check_image
from .label_issues import LabelIssue, find_label_issues
from .minhash import normalize_text
from .text_quality import REASONS as TEXT_REASONS
from .text_quality import TextRules, check_text

__all__ = [
    "IMAGE_REASONS",
    "TEXT_REASONS",
    "Cluster",
    "ImageRules",
    "LabelIssue",
    "TextRules",
    "check_image",
    "check_text",
    "exact_duplicates",
    "find_label_issues",
    "near_duplicate_images",
    "near_duplicate_texts",
    "normalize_text",
    "removed_ids",
]
