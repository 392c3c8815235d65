"""Filing's public shapes: applications, reviews, the filing as read, and registry entries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from aicommons.core.schemas import Schema
from aicommons.filing.checklist import ChecklistAnswer, ItemJudgement

FilingStatus = Literal["draft", "testing", "test_failed", "in_review", "approved", "rejected", "revoked", "deregistered", "superseded"]
# The forms and algorithm types of the national algorithm filing (算法备案), in English.
ServiceForm = Literal["app", "api", "sdk", "website", "mini-program", "embedded", "other"]
AlgorithmType = Literal[
    "classification", "regression", "detection", "generative", "recommendation", "ranking", "retrieval", "decision", "other"
]
RiskLevel = Literal["低", "中", "高", "low", "medium", "high"]

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20_000)]
Ident = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
TestParams = dict[Annotated[str, StringConstraints(max_length=60)], dict[str, Any]]


class FilingCreate(Schema):
    """An application to file one model version. Texts may be left empty in a draft; submitting
    needs them all, and every checklist item answered."""

    version_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
    change_of: Ident | None = Field(
        None, description="A change to a filed model: the approved filing (id or number) this one changes; it keeps that number."
    )
    dataset_version_id: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="The records to test on; default: the version's training data."
    )
    provider: ShortText = Field(description="Who provides the service (服务提供者).")
    service_form: ServiceForm = Field(description="How the model is offered (服务形式).")
    application_field: ShortText = Field(description="Where it is applied (应用领域), e.g. medical triage.")
    algorithm_type: AlgorithmType = Field(description="What kind of algorithm it is (算法类型).")
    self_assessment: LongText = Field("", description="The applicant's self-assessment report (自评估报告).")
    public_content: LongText = Field("", description="What the public registry shows about it (拟公示内容).")
    intended_use: LongText = ""
    contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    evaluation_params: TestParams = Field(
        default_factory=dict, max_length=20,
        description='Test name → parameters over the filing suite\'s, e.g. {"fairness": {"sensitive_attribute": "sex"}}.',
    )
    answers: list[ChecklistAnswer] = Field(default_factory=list, max_length=100, description="The ethics checklist, item by item.")


class FilingUpdate(Schema):
    """Edit a draft, rejected or test-failed filing; the model version is fixed (file another one instead)."""

    dataset_version_id: Annotated[str, StringConstraints(max_length=40)] | None = None
    provider: ShortText | None = None
    service_form: ServiceForm | None = None
    application_field: ShortText | None = None
    algorithm_type: AlgorithmType | None = None
    self_assessment: LongText | None = None
    public_content: LongText | None = None
    intended_use: LongText | None = None
    contact: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    evaluation_params: TestParams | None = Field(None, max_length=20)
    answers: list[ChecklistAnswer] | None = Field(None, max_length=100)


class FilingReview(Schema):
    decision: Literal["approve", "reject"]
    judgements: list[ItemJudgement] = Field(max_length=100, description="One per checklist item: met, not_met or not_applicable.")
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = ""


class FilingEnd(Schema):
    """Why a filing is revoked (reviewers, the operator) or deregistered (its org's admins)."""

    reason: Reason


class EvidenceRead(Schema):
    sha256: str
    filename: str
    size: int
    content_type: str
    attached_by: str | None = None
    attached_at: datetime | None = None


class FilingRead(Schema):
    id: str
    org_id: str
    model_id: str
    model_name: str
    version_id: str
    version_number: int
    change_of: str | None
    status: FilingStatus
    provider: str
    service_form: str
    application_field: str
    algorithm_type: str
    self_assessment: str
    public_content: str
    intended_use: str
    contact: str
    dataset_version_id: str | None
    evaluation_params: dict[str, Any]
    evaluation_id: str | None
    evaluation_summary: dict[str, Any]
    grade: dict[str, Any] | None = Field(description="The risk grade: level 低/中/高, level_en, reasons, policy and its sha256.")
    risk_level: str | None
    message: str
    checklist_sha256: str | None
    answers: list[dict[str, Any]]
    evidence: list[EvidenceRead]
    judgements: list[dict[str, Any]]
    review_comment: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    number: str | None
    revision: int | None
    issued_at: datetime | None
    certificate_sha256: str | None
    certificate_pdf_sha256: str | None
    report_sha256: str | None
    report_pdf_sha256: str | None
    ended_at: datetime | None
    end_reason: str
    superseded_by: str | None
    submitted_by: str | None
    submitted_at: datetime | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime


class RegistryEntry(Schema):
    """What anyone may read about a filed model."""

    number: str
    revision: int
    status: FilingStatus
    org_id: str
    org_name: str
    model_id: str
    model_name: str
    task: str
    version_number: int
    model_sha256: str
    provider: str
    service_form: str
    application_field: str
    algorithm_type: str
    public_content: str
    risk_level: str = Field(description="低 / 中 / 高")
    risk_level_en: str
    issued_at: datetime
    ended_at: datetime | None = None
    end_reason: str = ""


class RegistryRevision(Schema):
    revision: int
    status: FilingStatus
    version_number: int
    model_sha256: str
    issued_at: datetime
    ended_at: datetime | None


class RegistryEntryDetail(RegistryEntry):
    reasons: list[dict[str, Any]] = Field(default_factory=list, description="Why the risk level is what it is, rule by rule.")
    policy: dict[str, str] = Field(default_factory=dict, description="The grading policy's name, version and sha256.")
    evaluation: dict[str, Any] = Field(default_factory=dict, description="The test run: suite, counts and each test's status.")
    certificate_sha256: str
    report_sha256: str
    report_url: str
    revisions: list[RegistryRevision] = Field(default_factory=list, description="Every revision under this number, oldest first.")
