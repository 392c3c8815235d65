"""Annotation's public shapes, and the label schema that checks and compares answers.

Answer values by schema kind:

- `single`: one label, a string;
- `multi`: a list of labels, no duplicates (stored sorted; the empty list means "none apply");
- `spans`: a list of `[start, end, label]`, character offsets into the item's text, end exclusive;
- `boxes`: a list of `[x0, y0, x1, y1, label]` in pixels, (x0, y0) the top-left corner.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

from aicommons.core.errors import Invalid
from aicommons.core.schemas import Name, Schema

Kind = Literal["single", "multi", "spans", "boxes"]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
MAX_PARTS = 1000  # spans, boxes or labels in one answer
BOX_MATCH_IOU = 0.5  # two boxes of the same label "agree" at this intersection over union


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class LabelSchema(Schema):
    kind: Kind
    labels: list[Label] = Field(min_length=1, max_length=500)

    @field_validator("labels")
    @classmethod
    def _unique(cls, labels: list[str]) -> list[str]:
        seen: set[str] = set()
        repeated = [label for label in labels if label in seen or seen.add(label)]  # type: ignore[func-returns-value]
        if repeated:
            raise ValueError(f"labels must be unique; {sorted(set(repeated))} appear more than once")
        return labels

    # --- checking answers -----------------------------------------------------------------

    def check(self, value: Any, *, text_length: int | None = None, image_size: tuple[int, int] | None = None, where: str = "The answer") -> Any:
        """The value in canonical form, or Invalid naming what does not fit the schema."""
        known = set(self.labels)

        def label_of(label: Any, context: str) -> str:
            if not isinstance(label, str):
                raise Invalid(f"{where} {context}must be a label string; got {label!r}.")
            if label not in known:
                shown = ", ".join(repr(x) for x in self.labels[:20]) + (", …" if len(self.labels) > 20 else "")
                raise Invalid(f"{where} {context}uses the unknown label {label!r}; this project's labels are {shown}.")
            return label

        if self.kind == "single":
            return label_of(value, "")
        if not isinstance(value, list):
            raise Invalid(f"{where} must be a list for a {self.kind!r} project; got {type(value).__name__} {_short(value)}.")
        if len(value) > MAX_PARTS:
            raise Invalid(f"{where} has {len(value)} parts; at most {MAX_PARTS} are allowed.")
        if self.kind == "multi":
            labels = [label_of(label, f"(element {i}) ") for i, label in enumerate(value)]
            if len(set(labels)) != len(labels):
                repeated = sorted({x for x in labels if labels.count(x) > 1})
                raise Invalid(f"{where} repeats the labels {repeated}; name each label once.")
            return sorted(labels)
        if self.kind == "spans":
            spans = [self._span(part, i, text_length, label_of, where) for i, part in enumerate(value)]
            if len(set(map(tuple, spans))) != len(spans):
                raise Invalid(f"{where} lists the same span twice.")
            return sorted(spans, key=lambda s: (s[0], s[1], s[2]))
        boxes = [self._box(part, i, image_size, label_of, where) for i, part in enumerate(value)]
        return sorted(boxes, key=lambda b: (b[0], b[1], b[2], b[3], b[4]))

    @staticmethod
    def _span(part: Any, index: int, text_length: int | None, label_of: Any, where: str) -> list[Any]:
        if not (isinstance(part, list) and len(part) == 3):
            raise Invalid(f"{where}: span {index} must be [start, end, label]; got {_short(part)}.")
        start, end, label = part
        if not (_is_int(start) and _is_int(end)):
            raise Invalid(f"{where}: span {index} needs integer character offsets; got {_short(part)}.")
        if not 0 <= start < end:
            raise Invalid(f"{where}: span {index} must have 0 <= start < end; got start {start}, end {end}.")
        if text_length is not None and end > text_length:
            raise Invalid(f"{where}: span {index} ends at {end}, past the end of the {text_length}-character text.")
        return [int(start), int(end), label_of(label, f"(span {index}) ")]

    @staticmethod
    def _box(part: Any, index: int, image_size: tuple[int, int] | None, label_of: Any, where: str) -> list[Any]:
        if not (isinstance(part, list) and len(part) == 5):
            raise Invalid(f"{where}: box {index} must be [x0, y0, x1, y1, label]; got {_short(part)}.")
        *coords, label = part
        if not all(_is_number(c) for c in coords):
            raise Invalid(f"{where}: box {index} needs four finite numbers; got {_short(part)}.")
        x0, y0, x1, y1 = (float(c) for c in coords)
        if not (x0 < x1 and y0 < y1):
            raise Invalid(f"{where}: box {index} must have x0 < x1 and y0 < y1; got {_short(part)}.")
        if x0 < 0 or y0 < 0:
            raise Invalid(f"{where}: box {index} starts outside the image (negative coordinates); got {_short(part)}.")
        if image_size is not None and (x1 > image_size[0] or y1 > image_size[1]):
            raise Invalid(f"{where}: box {index} reaches past the {image_size[0]}×{image_size[1]} image; got {_short(part)}.")
        return [_plain(x0), _plain(y0), _plain(x1), _plain(y1), label_of(label, f"(box {index}) ")]

    def agree(self, a: Any, b: Any) -> bool:
        """Whether two canonical values say the same: equal labels, label sets and spans; boxes
        matched one to one with the same label and IoU >= 0.5."""
        if self.kind != "boxes":
            return a == b
        if len(a) != len(b):
            return False
        unmatched = list(b)
        for box in a:
            best = max(
                ((iou(box, other), i) for i, other in enumerate(unmatched) if other[4] == box[4]), default=(0.0, -1)
            )
            if best[0] < BOX_MATCH_IOU:
                return False
            unmatched.pop(best[1])
        return True


def iou(a: list[Any], b: list[Any]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def canonical(value: Any) -> str:
    """A value as one comparable string (for "constant answers" and hashing)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- projects -------------------------------------------------------------------------------


class ProjectCreate(Schema):
    model_config = ConfigDict(from_attributes=True, extra="forbid", populate_by_name=True)

    name: Name
    dataset_version_id: str = Field(max_length=40)
    label_schema: LabelSchema = Field(alias="schema", description="What is labelled: the kind of answer and the labels.")
    guidelines: Annotated[str, StringConstraints(max_length=50_000)] = ""
    overlap: int = Field(3, ge=1, le=20, description="Labels per item (the fixed target; adaptive projects may stop sooner).")
    max_overlap: int = Field(5, ge=1, le=20, description="An item never collects more labels than this.")
    adaptive: bool = Field(True, description="single-label projects: stop an item once its posterior reaches confidence_threshold.")
    confidence_threshold: float = Field(0.9, gt=0.5, le=1.0)
    gold: dict[RecordId, Any] = Field(default_factory=dict, max_length=10_000, description="Known answers by record id.")
    gold_rate: float = Field(0.1, ge=0, le=0.5, description="Share of tasks that are gold items, mixed in unannounced.")
    qualification_items: list[RecordId] = Field(default_factory=list, max_length=100, description="Gold items a worker must pass first.")
    qualification_pass_rate: float = Field(0.8, ge=0, le=1)
    min_seconds: float = Field(2.0, ge=0, le=3600, description="Workers answering faster than this (median) are flagged.")
    method: str = Field("ds", max_length=10, description="Aggregation method: mv, wawa, ds, glad or mace.")
    reward_points: float = Field(1.0, ge=0, le=1_000_000)
    deadline: datetime | None = None
    visibility: Literal["private", "public"] = "public"
    prelabeller: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None

    @field_validator("deadline")
    @classmethod
    def _deadline_aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value)

    @model_validator(mode="after")
    def _consistent(self) -> ProjectCreate:
        if self.max_overlap < self.overlap:
            raise ValueError(f"max_overlap ({self.max_overlap}) must be at least overlap ({self.overlap})")
        if len(set(self.qualification_items)) != len(self.qualification_items):
            raise ValueError("qualification_items must not repeat a record id")
        return self


class ProjectUpdate(Schema):
    guidelines: Annotated[str, StringConstraints(max_length=50_000)] | None = None
    deadline: datetime | None = None
    clear_deadline: bool = False
    status: Literal["open", "closed"] | None = None

    @field_validator("deadline")
    @classmethod
    def _deadline_aware(cls, value: datetime | None) -> datetime | None:
        return _aware(value)


class ProjectRead(Schema):
    model_config = ConfigDict(from_attributes=True, extra="forbid", populate_by_name=True)

    id: str
    org_id: str
    name: str
    visibility: str
    status: str
    dataset_id: str
    dataset_version_id: str
    label_schema: LabelSchema = Field(alias="schema")
    guidelines: str
    overlap: int
    max_overlap: int
    adaptive: bool
    confidence_threshold: float
    gold_count: int = Field(description="Gold items (their answers are never shown).")
    gold_rate: float
    qualification_count: int
    qualification_pass_rate: float
    min_seconds: float
    method: str
    reward_points: float
    deadline: datetime | None
    prelabeller: str | None
    items: int = Field(description="Items to label (gold items not counted).")
    items_done: int
    answers: int
    workers: int
    aggregation_job_id: str | None
    aggregated_method: str | None
    aggregated_at: datetime | None
    agreement: dict[str, Any] = Field(description="krippendorff_alpha and fleiss_kappa of the last aggregation.")
    published_version_id: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


# --- workers and tasks ----------------------------------------------------------------------


class FlagRead(Schema):
    code: str
    reason: str


class WorkerRead(Schema):
    project_id: str
    user_id: str
    org_id: str
    email: str
    qualification: Literal["none", "pending", "passed", "failed"]
    qualification_reason: str
    qualified: bool
    tasks: int
    answers: int
    gold_answers: int
    gold_accuracy: float | None
    skill_accuracy: float = Field(description="Mean of the Beta skill estimate (gold answers and reviews).")
    skill_correct: float
    skill_wrong: float
    flags: list[FlagRead]
    weight: float = Field(description="The worker's weight in aggregation; 0 when flagged.")
    points: float
    joined_at: datetime
    last_answer_at: datetime | None


class TaskItem(Schema):
    text: str | None = None
    file_sha256: str | None = None
    file_url: str | None = Field(None, description="The record-file API route (relative to the server).")
    fields: dict[str, Any] = Field(default_factory=dict)


class TaskRead(Schema):
    id: str
    project_id: str
    record_id: str
    item: TaskItem
    kind: Kind
    labels: list[str]
    guidelines: str
    suggestions: Any | None = Field(None, description="A pre-labeller's suggestion; never counted as a vote.")
    assigned_at: datetime
    expires_at: datetime


class AnswerSubmit(Schema):
    value: Any
    seconds: float | None = Field(None, ge=0, le=86_400, description="Time spent on the task, as the client measured it.")


class AnswerRead(Schema):
    id: str
    task_id: str
    project_id: str
    record_id: str
    value: Any
    seconds: float | None
    created_at: datetime


# --- aggregation and review -----------------------------------------------------------------


class AggregateParams(Schema):
    method: str | None = Field(None, max_length=10, description="mv, wawa, ds, glad or mace; the project's method when omitted.")


class ResultRead(Schema):
    project_id: str
    record_id: str
    value: Any = Field(description="The aggregated value.")
    confidence: float
    support: int = Field(description="Answers behind the value.")
    posteriors: dict[str, float] | None
    method: str
    review: Literal["accepted", "rejected", "corrected"] | None
    reviewed_value: Any | None
    review_comment: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    final_value: Any | None = Field(description="What publishing writes: the correction, the accepted or aggregated value, or nothing when rejected.")
    aggregated_at: datetime


class ReviewDecision(Schema):
    decision: Literal["accept", "reject", "correct"]
    value: Any | None = None
    comment: Annotated[str, StringConstraints(max_length=2000)] = ""

    @model_validator(mode="after")
    def _value_with_correct(self) -> ReviewDecision:
        if self.decision == "correct" and self.value is None:
            raise ValueError("a correction needs the corrected value")
        if self.decision != "correct" and self.value is not None:
            raise ValueError(f"only a correction takes a value; {self.decision!r} does not")
        return self
