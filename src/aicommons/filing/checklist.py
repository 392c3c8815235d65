"""The ethics-review checklist (伦理审查清单): items the applicant answers and a reviewer judges.

The items ship in ``filing/checklists/ethics.yaml``::

    name: ethics
    version: "1"                 # bump whenever an item changes
    items:
      - id: intended-use         # unique; letters, digits and '-'
        principle: intended use  # the principle (AI Verify's eleven, plus five review basics)
        question: What is the model for ...?
        question_zh: 模型的用途是什么……？
        evidence_required: false # true: the answer must attach at least one document

An applicant answers every item (`ChecklistAnswer`: text plus the sha256 of attached evidence
documents); a reviewer judges every item (`ItemJudgement`: met / not met / not applicable, with a
comment). `check_answers` and `check_judgements` say, by name, the first item that is missing,
unknown, repeated or lacks its evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from aicommons.core.errors import Invalid

ItemId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
Sha256 = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[0-9a-f]{64}$")]
Verdict = Literal["met", "not_met", "not_applicable"]


class ChecklistItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ItemId
    principle: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    question_zh: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    evidence_required: bool = False


class ChecklistAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: ItemId
    answer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]
    evidence: list[Sha256] = Field(default_factory=list, max_length=20, description="sha256 of each attached evidence document (a stored blob).")


class ItemJudgement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: ItemId
    verdict: Verdict
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = ""


class _ChecklistFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    version: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    items: list[ChecklistItem] = Field(min_length=1)


class Checklist:
    """A parsed checklist: `items` in the order they are asked, `version` and the `sha256` of its text."""

    def __init__(self, *, name: str, version: str, items: list[ChecklistItem], text: str):
        self.name = name
        self.version = version
        self.items = items
        self.text = text
        self.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._by_id = {item.id: item for item in items}

    def __repr__(self) -> str:
        return f"Checklist(name={self.name!r}, version={self.version!r}, items={len(self.items)})"

    @classmethod
    def default(cls) -> Checklist:
        return _default_checklist()

    @classmethod
    def from_yaml(cls, text: str) -> Checklist:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise Invalid(f"The checklist is not valid YAML: {exc}".rstrip(".") + ".") from None
        if isinstance(data, dict) and isinstance(data.get("version"), (int, float)) and not isinstance(data["version"], bool):
            data["version"] = str(data["version"])
        try:
            parsed = _ChecklistFile.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "the document"
            raise Invalid(f"The checklist is invalid at {where}: {error['msg']}; got {error.get('input')!r}.") from None
        ids = [item.id for item in parsed.items]
        repeated = next((item_id for item_id in ids if ids.count(item_id) > 1), None)
        if repeated:
            raise Invalid(f"The checklist has item {repeated!r} twice; item ids must be unique.")
        return cls(name=parsed.name, version=parsed.version, items=parsed.items, text=text)

    def item(self, item_id: str) -> ChecklistItem | None:
        return self._by_id.get(item_id)

    def check_answers(self, answers: Sequence[ChecklistAnswer | Mapping[str, Any]]) -> list[ChecklistAnswer]:
        """Every item answered once, nothing else answered, evidence attached where required.
        Returns the answers in the checklist's order."""
        parsed = [_parse(ChecklistAnswer, answer, "answer") for answer in answers]
        by_item = self._one_per_item(parsed, "answer", "answered")
        for item in self.items:
            answer = by_item[item.id]
            if item.evidence_required and not answer.evidence:
                raise Invalid(f"The answer to checklist item {item.id!r} ({item.principle}) must attach evidence; got none.")
        return [by_item[item.id] for item in self.items]

    def check_judgements(self, judgements: Sequence[ItemJudgement | Mapping[str, Any]]) -> bool:
        """Every item judged once and nothing else; True when no item is judged not met."""
        parsed = [_parse(ItemJudgement, judgement, "judgement") for judgement in judgements]
        by_item = self._one_per_item(parsed, "judgement", "judged")
        return all(judgement.verdict != "not_met" for judgement in by_item.values())

    def _one_per_item(self, entries: list[Any], noun: str, verb: str) -> dict[str, Any]:
        by_item: dict[str, Any] = {}
        for entry in entries:
            if entry.item not in self._by_id:
                raise Invalid(f"The {noun} for {entry.item!r} names no item of checklist {self.name!r} version {self.version}; items: {', '.join(self._by_id)}.")
            if entry.item in by_item:
                raise Invalid(f"Checklist item {entry.item!r} is {verb} twice; give one {noun} per item.")
            by_item[entry.item] = entry
        missing = next((item for item in self.items if item.id not in by_item), None)
        if missing is not None:
            raise Invalid(f"Checklist item {missing.id!r} ({missing.principle}) must be {verb}; it is missing.")
        return by_item


def _parse(model: type[BaseModel], value: Any, noun: str) -> Any:
    if isinstance(value, model):
        return value
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or noun
        item = value.get("item") if isinstance(value, Mapping) else None
        raise Invalid(f"The {noun} for checklist item {item!r} is invalid at {where}: {error['msg']}.") from None


@cache
def _default_checklist() -> Checklist:
    text = resources.files("aicommons.filing").joinpath("checklists/ethics.yaml").read_text(encoding="utf-8")
    return Checklist.from_yaml(text)
