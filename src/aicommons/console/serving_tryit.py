"""The endpoint page's "try it" form: which kind of input a model version takes from a person
(sentences, an image, a record of features, or named tensors), an example to start from, and the
form's fields turned into the same predict payload the API builds from a request body.

What a person can get wrong in the form itself (no sentence, no file, JSON that does not parse) is
refused here with a `TryRefused` naming the field; what the model cannot take is refused by the
predict service, exactly as for an API call.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from aicommons import serving
from aicommons.models import ModelVersionRead

InputKind = Literal[
    "text", "image", "features", "tensors"
]  # also the name of the form field each kind fills
MAX_SENTENCES = 20
MAX_IMAGE_BYTES = 8 << 20
EXAMPLE_MAX_VALUES = (
    64  # a tensor example larger than this is left for the person to write
)

_KINDS: dict[str, InputKind] = {
    "segmented-text": "text",
    "wordpiece": "text",
    "image": "image",
    "tabular": "features",
    "tensor": "tensors",
}


class TryRefused(Exception):
    """Form input that never reached the model: `field` is the form field at fault, `message` the
    English text (the catalogue translates it) with `values` for its placeholders."""

    def __init__(self, field: str, message: str, values: dict[str, object]):
        super().__init__(message)
        self.field, self.message, self.values = field, message, values


def input_kind(version: ModelVersionRead) -> InputKind:
    """The kind of input the version's preprocessing reads from raw instances."""
    return _KINDS.get(str(version.preprocessing.get("kind", "tensor")), "tensors")


def example(version: ModelVersionRead) -> str:
    """What the form's field starts with: a record of zeros for a tabular model, zero tensors of
    the signature's shapes (batch of one) for a tensor model, nothing for text and images."""
    kind = input_kind(version)
    if kind == "features":
        return json.dumps(
            dict.fromkeys(version.preprocessing.get("features", []), 0),
            ensure_ascii=False,
        )
    if kind == "tensors":
        tensors = {
            spec["name"]: _zeros(spec.get("shape"))
            for spec in version.signature.get("inputs", [])
        }
        if all(value is not None for value in tensors.values()):
            return json.dumps(tensors)
    return ""


def _zeros(shape: list[Any] | None) -> Any:
    if not shape:
        return None
    dims = [d if isinstance(d, int) and d > 0 else 1 for d in shape]
    size = 1
    for d in dims:
        size *= d
    if size > EXAMPLE_MAX_VALUES:
        return None
    value: Any = 0
    for d in reversed(dims):
        value = [value] * d
    return value


def payload(
    kind: InputKind,
    *,
    text: str = "",
    image: bytes | None = None,
    features: str = "",
    tensors: str = "",
) -> serving.Payload:
    """The form's fields as a predict payload, or TryRefused naming the field at fault."""
    if kind == "text":
        return _sentences(text)
    if kind == "image":
        return _image(image)
    if kind == "features":
        return _records(features)
    return _tensors(tensors)


def _sentences(text: str) -> serving.Payload:
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if not sentences:
        raise TryRefused("text", "Type at least one sentence.", {})
    if len(sentences) > MAX_SENTENCES:
        raise TryRefused(
            "text",
            "Type at most {most} sentences, one a line.",
            {"most": MAX_SENTENCES},
        )
    return serving.Payload(instances=sentences)


def _image(image: bytes | None) -> serving.Payload:
    if not image:
        raise TryRefused("image", "Choose an image file.", {})
    if len(image) > MAX_IMAGE_BYTES:
        raise TryRefused(
            "image", "The image is over {most} MiB.", {"most": MAX_IMAGE_BYTES >> 20}
        )
    return serving.Payload(instances=[image])


def _json(field: str, text: str) -> Any:
    if not text.strip():
        raise TryRefused(field, "Enter the input as JSON.", {})
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise TryRefused(
            field,
            "That is not JSON: {problem} (line {line}, column {column}).",
            {"problem": error.msg, "line": error.lineno, "column": error.colno},
        ) from None


def _records(text: str) -> serving.Payload:
    """One record (an object of features) or a list of records."""
    value = _json("features", text)
    records = [value] if isinstance(value, dict) else value
    if not isinstance(records, list) or not records or len(records) > MAX_SENTENCES:
        raise TryRefused(
            "features",
            "Enter one JSON object of features, or a list of up to {most} of them.",
            {"most": MAX_SENTENCES},
        )
    return serving.Payload(instances=records)


def _tensors(text: str) -> serving.Payload:
    value = _json("tensors", text)
    if not isinstance(value, dict) or not value:
        raise TryRefused(
            "tensors", "Enter a JSON object of the model's inputs by name.", {}
        )
    return serving.Payload(inputs=value)
