"""Filing (备案): safety-risk grading, ethics review, filing numbers, signed certificates and the public registry."""

from aicommons.filing.certificates import SigningKey, Verdict, canonical_json, check_certificate, revocation_list, sign_document, verify_document
from aicommons.filing.checklist import Checklist, ChecklistAnswer, ChecklistItem, ItemJudgement
from aicommons.filing.filings import (
    Document,
    Issuer,
    attach_evidence,
    certificate_bytes,
    create_filing,
    deregister_filing,
    evidence_file,
    filing_document,
    find_filing,
    get_filing,
    get_filing_for_review,
    list_filings,
    list_review_queue,
    on_evaluation_finished,
    review_filing,
    revoke_filing,
    submit_filing,
    update_filing,
)
from aicommons.filing.grading import Grade, GradingPolicy, Reason
from aicommons.filing.profiles import FilingProfile, filing_profiles, profile_for
from aicommons.filing.registry import get_registry_entry, is_publicly_servable, public_key_pem, public_report, revocations, search_registry
from aicommons.filing.schemas import (
    AlgorithmType,
    EvidenceRead,
    FilingCreate,
    FilingEnd,
    FilingRead,
    FilingReview,
    FilingStatus,
    FilingUpdate,
    RegistryEntry,
    RegistryEntryDetail,
    ServiceForm,
)

__all__ = [
    "AlgorithmType", "Checklist", "ChecklistAnswer", "ChecklistItem", "Document", "EvidenceRead", "FilingCreate", "FilingEnd", "FilingProfile",
    "FilingRead", "FilingReview", "FilingStatus", "FilingUpdate", "Grade", "GradingPolicy", "ItemJudgement", "Issuer", "Reason",
    "RegistryEntry", "RegistryEntryDetail", "ServiceForm", "SigningKey", "Verdict", "attach_evidence", "canonical_json",
    "certificate_bytes", "check_certificate", "create_filing", "deregister_filing", "evidence_file", "filing_document", "filing_profiles",
    "find_filing", "get_filing", "get_filing_for_review", "get_registry_entry", "is_publicly_servable", "list_filings", "list_review_queue",
    "on_evaluation_finished", "profile_for",
    "public_key_pem", "public_report", "review_filing", "revocation_list", "revocations", "revoke_filing", "search_registry",
    "sign_document", "submit_filing", "update_filing", "verify_document",
]
