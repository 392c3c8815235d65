"""De-identification: find PII in Chinese and English text, replace it under a policy, blur
faces in images and generalise tables until k-anonymity holds. Pure functions, no storage:
the data service's versioning calls these and records what they report.

    from aicommons.data.deid import deidentify, load_policy, residual_scan

    policy = load_policy(Path("policy.yaml"))
    result = deidentify(text, policy, secret=dataset_secret)
    assert residual_scan(result, policy) == []

`blur_faces` (OpenCV) and `generalise_for_k` load on first use, so text-only callers do not
import OpenCV.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from aicommons.data.deid.detectors import Detector, Span, detect, detectors, entity_types
from aicommons.data.deid.operators import (
    DEFAULT_POLICY,
    DeidResult,
    Policy,
    Replacement,
    deidentify,
    load_policy,
    residual_scan,
)

if TYPE_CHECKING:
    from aicommons.data.deid.images import blur_faces, count_faces
    from aicommons.data.deid.kanonymity import Hierarchy, KAnonymityResult, generalise_for_k

_LAZY = {
    "blur_faces": "aicommons.data.deid.images",
    "count_faces": "aicommons.data.deid.images",
    "Hierarchy": "aicommons.data.deid.kanonymity",
    "KAnonymityResult": "aicommons.data.deid.kanonymity",
    "generalise_for_k": "aicommons.data.deid.kanonymity",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_POLICY",
    "DeidResult",
    "Detector",
    "Hierarchy",
    "KAnonymityResult",
    "Policy",
    "Replacement",
    "Span",
    "blur_faces",
    "count_faces",
    "deidentify",
    "detect",
    "detectors",
    "entity_types",
    "generalise_for_k",
    "load_policy",
    "residual_scan",
]
