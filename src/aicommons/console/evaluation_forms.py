"""The evaluation and filing pages' forms: what the visitor typed, read into the services' schemas.

Each form keeps what was typed (to show it again) and a message for each field it cannot accept,
keyed by the field's id; the pages render those next to the fields with a 422 and call no service
until a form has none. What a service then refuses is the service's to say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from aicommons import evaluation, filing
from aicommons.console.locales import Translator
from aicommons.filing.filings import REQUIRED_TEXTS

ID_LIMIT = 40  # ids and version references
ANSWER_LIMIT = 5_000
APPLICATION_TEXTS = (
    "provider",
    "application_field",
    "intended_use",
    "self_assessment",
    "public_content",
    "contact",
)
APPLICATION_CHOICES = ("service_form", "algorithm_type")
VERDICTS = ("met", "not_met", "not_applicable")
DECISIONS = ("approve", "reject")


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _files(form: FormData, name: str) -> list[UploadFile]:
    return [f for f in form.getlist(name) if isinstance(f, UploadFile) and f.filename]


# --- running a suite --------------------------------------------------------------------------


@dataclass
class RunForm:
    """Run a suite: a model and its version, a suite, and optionally the dataset version to test on."""

    model_id: str = ""
    version: str = ""  # a number, an alias, or empty for the latest
    suite: str = "default"
    dataset_id: str = ""  # empty: the version's own training data
    dataset_version: str = ""  # a number, or empty for the dataset's latest
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, form: FormData, translator: Translator) -> RunForm:
        _ = translator.gettext
        read = cls(
            **{
                name: _text(form, name)
                for name in (
                    "model_id",
                    "version",
                    "suite",
                    "dataset_id",
                    "dataset_version",
                )
            }
        )
        if not read.model_id or len(read.model_id) > ID_LIMIT:
            read.errors["model_id"] = _("Choose one of the listed models.")
        if len(read.version) > ID_LIMIT:
            read.errors["version"] = _(
                "Give a version number or alias, or leave it empty for the latest."
            )
        if read.suite not in evaluation.suites:
            read.errors["suite"] = _("Choose a suite from the list.")
        if len(read.dataset_id) > ID_LIMIT:
            read.errors["dataset_id"] = _("Choose a dataset from the list.")
        if read.dataset_version and not (
            read.dataset_version.isdigit() and read.dataset_id
        ):
            read.errors["dataset_version"] = _(
                "Give a version number of the chosen dataset, or leave it empty for its latest."
            )
        return read


# --- the filing form --------------------------------------------------------------------------


@dataclass
class FilingForm:
    """The application and the ethics checklist. `evidence` holds the documents each item already
    cites (an edited filing's); `uploads` the new ones chosen now."""

    values: dict[str, str] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)
    evidence: dict[str, list[str]] = field(default_factory=dict)
    uploads: dict[str, list[UploadFile]] = field(default_factory=dict)
    submit: bool = False
    # The checked values for FilingCreate / FilingUpdate:
    application: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, found: filing.FilingRead) -> FilingForm:
        """An existing filing's values, to edit."""
        values = {
            name: str(getattr(found, name))
            for name in (*APPLICATION_TEXTS, *APPLICATION_CHOICES)
        }
        values["evaluation_params"] = (
            json.dumps(found.evaluation_params, ensure_ascii=False, indent=1)
            if found.evaluation_params
            else ""
        )
        return cls(
            values=values,
            answers={a["item"]: a["answer"] for a in found.answers},
            evidence={a["item"]: list(a.get("evidence", [])) for a in found.answers},
        )

    @classmethod
    def read(
        cls,
        form: FormData,
        translator: Translator,
        checklist: filing.Checklist,
        *,
        evidence: dict[str, list[str]] | None = None,
    ) -> FilingForm:
        read = cls(
            values={
                name: _text(form, name)
                for name in (
                    *APPLICATION_TEXTS,
                    *APPLICATION_CHOICES,
                    "evaluation_params",
                    "model_id",
                    "version",
                )
            },
            answers={
                item.id: _text(form, f"answer-{item.id}") for item in checklist.items
            },
            evidence=dict(evidence or {}),
            uploads={
                item.id: _files(form, f"evidence-{item.id}") for item in checklist.items
            },
            submit=_text(form, "action") == "submit",
        )
        read._check_application(translator)
        read._check_answers(translator, checklist)
        if read.submit:
            read._check_complete(translator, checklist)
        return read

    def _check_application(self, translator: Translator) -> None:
        _ = translator.gettext
        messages = {
            "provider": _("Fill this in, in at most 200 characters."),
            "application_field": _("Fill this in, in at most 200 characters."),
            "service_form": _("Choose one of the listed values."),
            "algorithm_type": _("Choose one of the listed values."),
            "contact": _("At most 200 characters."),
            "intended_use": _("At most 20,000 characters."),
            "self_assessment": _("At most 20,000 characters."),
            "public_content": _("At most 20,000 characters."),
            "evaluation_params": _(
                "Give a JSON object of test names and their parameters, for at most 20 tests."
            ),
        }
        candidate: dict[str, Any] = {
            name: self.values[name]
            for name in (*APPLICATION_TEXTS, *APPLICATION_CHOICES)
        }
        params = self._test_params(translator)
        if params is not None:
            candidate["evaluation_params"] = params
        try:
            checked = filing.FilingUpdate.model_validate(candidate)
        except ValidationError as error:
            for problem in error.errors():
                name = str(problem["loc"][0])
                self.errors.setdefault(
                    name, messages.get(name, _("This value is not accepted."))
                )
            return
        self.application = checked.model_dump(exclude_none=True)

    def _test_params(self, translator: Translator) -> dict[str, Any] | None:
        """The evaluation parameters typed as JSON, or None (with a message) when they are not."""
        _ = translator.gettext
        text = self.values["evaluation_params"]
        try:
            params = json.loads(text) if text else {}
        except ValueError:
            params = None
        if not isinstance(params, dict) or not all(
            isinstance(v, dict) for v in params.values()
        ):
            self.errors["evaluation_params"] = _(
                "Give a JSON object of test names and their parameters, for at most 20 tests."
            )
            return None
        unknown = next(
            (name for name in params if name not in evaluation.evaluation_tests), None
        )
        if unknown is not None:
            self.errors["evaluation_params"] = _(
                "No test is named {name}; the tests are: {names}.",
                name=unknown,
                names=", ".join(evaluation.evaluation_tests),
            )
            return None
        return params

    def _check_answers(
        self, translator: Translator, checklist: filing.Checklist
    ) -> None:
        _ = translator.gettext
        for item in checklist.items:
            if len(self.answers[item.id]) > ANSWER_LIMIT:
                self.errors[f"answer-{item.id}"] = _("At most 5,000 characters.")
            elif not self.answers[item.id] and (
                self.uploads[item.id] or self.evidence.get(item.id)
            ):
                self.errors[f"answer-{item.id}"] = _(
                    "Say how the attached documents answer this item."
                )

    def _check_complete(
        self, translator: Translator, checklist: filing.Checklist
    ) -> None:
        """What submitting needs beyond a draft: the texts filled in, every item answered, evidence where required."""
        _ = translator.gettext
        for name in REQUIRED_TEXTS:
            if not self.values[name]:
                self.errors.setdefault(name, _("Fill this in before submitting."))
        for item in checklist.items:
            if not self.answers[item.id]:
                self.errors.setdefault(
                    f"answer-{item.id}", _("Answer every item before submitting.")
                )
            if item.evidence_required and not (
                self.uploads[item.id] or self.evidence.get(item.id)
            ):
                self.errors[f"evidence-{item.id}"] = _(
                    "Attach at least one document for this item before submitting."
                )

    def checklist_answers(
        self, attached: dict[str, list[str]]
    ) -> list[filing.ChecklistAnswer]:
        """The answered items, citing the documents they had and those just attached (sha256s)."""
        return [
            filing.ChecklistAnswer(
                item=item,
                answer=answer,
                evidence=[*self.evidence.get(item, []), *attached.get(item, [])],
            )
            for item, answer in self.answers.items()
            if answer
        ]


# --- a reviewer's judgement -------------------------------------------------------------------


@dataclass
class ReviewForm:
    """Every checklist item judged (met, not met, not applicable) with an optional comment, then a decision."""

    verdicts: dict[str, str] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)
    decision: str = ""
    comment: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(
        cls, form: FormData, translator: Translator, checklist: filing.Checklist
    ) -> ReviewForm:
        _ = translator.gettext
        read = cls(
            verdicts={
                item.id: _text(form, f"verdict-{item.id}") for item in checklist.items
            },
            comments={
                item.id: _text(form, f"comment-{item.id}") for item in checklist.items
            },
            decision=_text(form, "decision"),
            comment=_text(form, "comment"),
        )
        for item in checklist.items:
            if read.verdicts[item.id] not in VERDICTS:
                read.errors[f"verdict-{item.id}"] = _(
                    "Judge this item: met, not met or not applicable."
                )
            if len(read.comments[item.id]) > ANSWER_LIMIT:
                read.errors[f"comment-{item.id}"] = _("At most 5,000 characters.")
        if len(read.comment) > 10_000:
            read.errors["comment"] = _("At most 10,000 characters.")
        if read.decision not in DECISIONS:
            read.errors["decision"] = _("Approve or reject the filing.")
        return read

    def review(self) -> filing.FilingReview:
        judgements = [
            {"item": item, "verdict": verdict, "comment": self.comments[item]}
            for item, verdict in self.verdicts.items()
        ]
        return filing.FilingReview.model_validate(
            {
                "decision": self.decision,
                "judgements": judgements,
                "comment": self.comment,
            }
        )
