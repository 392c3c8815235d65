"""Helpers for filing tests: a trained model, a reviewer, complete applications, and the
filing's evaluation run in this process."""

from __future__ import annotations

import io
from dataclasses import dataclass

from datakit import DataKit, cancer_csv

from aicommons import evaluation, filing, models
from aicommons.core.identity import actor_for_user_id, create_token, create_user
from aicommons.core.schemas import TokenCreate, UserCreate

# Small samples and budgets: the filing suite in well under a second on a logistic regression.
FAST_TESTS = {"robustness": {"samples": 100, "severities": [1, 3]}, "privacy": {"samples": 200}, "efficiency": {"budget_s": 0.02}}


@dataclass
class Person:
    actor: object
    token: str


def new_person(runtime, world, email, org_id, *, reviewer=False, admin=False) -> Person:
    """A user the operator adds to an org (a platform reviewer when `reviewer`), with an API token."""
    with runtime.session() as session:
        user = create_user(
            session, world.operator.actor,
            UserCreate(email=email, org_id=org_id, org_role="admin" if admin else "member", platform_roles=["reviewer"] if reviewer else []),
        )
        token = create_token(session, world.operator.actor, user.id, TokenCreate(name="test"))
        return Person(actor_for_user_id(session, user.id), token.token)


class FilingKit:
    """Org A's model trained on breast-cancer records, and a platform reviewer from the operator org."""

    def __init__(self, runtime, world):
        self.runtime = runtime
        self.world = world
        self.applicant = world.a_member
        self.data = DataKit(runtime, world.a_member.actor)
        self.issuer = filing.Issuer.of(runtime)
        self.dataset_version = self.data.imported(self.data.dataset("cancer", "tabular").id, "cancer.csv", cancer_csv())
        with runtime.session() as session:
            self.model = models.create_model(session, self.applicant.actor, models.ModelCreate(name="cancer", task="tabular-classification"))
            job = models.start_training(
                session, self.applicant.actor, self.model.id,
                models.TrainParams(dataset_version_id=self.dataset_version.id, recipe="tabular-logistic"),
            )
        done = self.data.run(job)
        assert done.status == "succeeded", done.error
        with runtime.session() as session:
            self.version = models.get_version(session, self.applicant.actor, done.result["version_id"])
        self.reviewer = self.person("reviewer@operator.test", world.operator.actor.org_id, reviewer=True)

    def person(self, email, org_id, *, reviewer=False, admin=False):
        return new_person(self.runtime, self.world, email, org_id, reviewer=reviewer, admin=admin)

    def copy_version(self):
        """Another version of the model: the same ONNX uploaded again."""
        onnx = self.runtime.blobs.read_bytes(self.version.onnx_sha256)
        meta = models.VersionMeta(
            dataset_version_ids=self.version.dataset_version_ids, preprocessing=self.version.preprocessing,
            classes=self.version.details.get("classes", []),
        )
        with self.runtime.session() as session:
            return models.upload_version(session, self.runtime.blobs, self.applicant.actor, self.model.id, io.BytesIO(onnx), "copy.onnx", meta)

    # --- applications ---

    def application(self, version_id=None, **changes):
        return {
            "version_id": version_id or self.version.id, "provider": "Org A Health", "service_form": "api",
            "application_field": "breast-cancer screening support", "algorithm_type": "classification",
            "self_assessment": "Tested on the held-out split; a clinician confirms every result.",
            "public_content": "Flags tumour measurements for a clinician's second look.",
            "intended_use": "Decision support for radiologists; never a diagnosis on its own.",
            "contact": "filing@a.test", "evaluation_params": FAST_TESTS, **changes,
        }

    @staticmethod
    def answers(evidence_sha256):
        return [
            {"item": item.id, "answer": f"Our answer on {item.principle}.", "evidence": [evidence_sha256] if item.evidence_required else []}
            for item in filing.Checklist.default().items
        ]

    @staticmethod
    def judgements(verdict="met", **overrides):
        return [{"item": item.id, "verdict": overrides.get(item.id, verdict), "comment": ""} for item in filing.Checklist.default().items]

    def create_complete(self, version_id=None, actor=None, **changes):
        """A draft with evidence attached and every checklist item answered."""
        actor = actor or self.applicant.actor
        with self.runtime.session() as session:
            draft = filing.create_filing(session, actor, filing.FilingCreate(**self.application(version_id, **changes)))
            evidence = filing.attach_evidence(session, self.runtime.blobs, actor, draft.id, io.BytesIO(b"oversight procedure v1"), "oversight.txt", "text/plain")
            return filing.update_filing(session, actor, draft.id, filing.FilingUpdate(answers=self.answers(evidence.sha256)))

    def submitted(self, version_id=None, **changes):
        draft = self.create_complete(version_id, **changes)
        with self.runtime.session() as session:
            return filing.submit_filing(session, self.applicant.actor, draft.id)

    def run_evaluation(self, filing_id):
        """Run the queued evaluation job here; return the filing as the applicant then reads it."""
        with self.runtime.session() as session:
            found = filing.get_filing(session, self.applicant.actor, filing_id)
            run = evaluation.get_evaluation(session, self.applicant.actor, found.evaluation_id)
        from aicommons.core import jobs

        with self.runtime.session() as session:
            job = jobs.get_job(session, self.applicant.actor, run.job_id)
        ended = self.data.run(job)
        assert ended.status == "succeeded", ended.error
        with self.runtime.session() as session:
            return filing.get_filing(session, self.applicant.actor, filing_id)

    def in_review(self, version_id=None, **changes):
        return self.run_evaluation(self.submitted(version_id, **changes).id)

    def approved(self, version_id=None, **changes):
        waiting = self.in_review(version_id, **changes)
        assert waiting.status == "in_review", waiting.message
        with self.runtime.session() as session:
            return filing.review_filing(
                session, self.issuer, self.reviewer.actor, waiting.id,
                filing.FilingReview(decision="approve", judgements=self.judgements(), comment="Meets every item."),
            )
