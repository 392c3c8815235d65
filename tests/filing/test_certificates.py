"""Certificates: Ed25519-signed JSON, key storage, offline checks against revocation lists, the PDF."""

from __future__ import annotations

import copy
import json
import re
import zlib
import stat
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from aicommons.core.errors import Invalid
from aicommons.filing import certificates
from aicommons.filing.certificates import (
    SigningKey,
    _publish_new_key,
    canonical_json,
    certificate_pdf,
    check_certificate,
    revocation_list,
    sign_document,
    verify_document,
)

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only

PAYLOAD = {
    "filing_number": "ZJAI-2025-000042",
    "model_name": "数字识别 digits-cnn",
    "version_number": 3,
    "org_name": "浙江智能科技有限公司",
    "risk_level": "中",
    "issued_at": "2025-06-01T08:30:00+00:00",
    "service_form": "API",
    "grade": {"policy": "default", "policy_version": "1"},
}


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="module")
def certificate(key) -> dict:
    return sign_document(key, PAYLOAD)


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": [1, "浙"]}) == '{"a":[1,"浙"],"b":1}'.encode()
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})
    with pytest.raises(Invalid, match="JSON values only"):
        canonical_json({"when": datetime.now(UTC)})


def test_a_signed_document_round_trips_through_json_and_verifies(key, certificate):
    assert certificate["payload"] == PAYLOAD
    assert certificate["signature"]["algorithm"] == "Ed25519"
    assert certificate["signature"]["key_id"] == key.key_id and len(key.key_id) == 16
    reread = json.loads(json.dumps(certificate, indent=2))
    assert verify_document(reread, key.public_key_pem())
    verdict = check_certificate(reread, key.public_key_pem(), None)
    assert verdict.status == "valid"
    assert "no revocation list synced" in verdict.message
    assert (verdict.revoked_at, verdict.synced_at) == (None, None)


def test_flipping_one_byte_of_the_payload_is_tampered(key, certificate):
    text = canonical_json(certificate["payload"])
    position = text.index(b"000042") + 5
    forged_payload = json.loads(text[:position] + b"3" + text[position + 1 :])
    forged = {**certificate, "payload": forged_payload}
    assert forged_payload["filing_number"] == "ZJAI-2025-000043"
    assert not verify_document(forged, key.public_key_pem())
    verdict = check_certificate(forged, key.public_key_pem(), None)
    assert verdict.status == "tampered"
    assert "signature does not match" in verdict.message


def test_a_changed_field_or_a_forged_signature_is_tampered(key, certificate):
    raised = copy.deepcopy(certificate)
    raised["payload"]["risk_level"] = "低"
    assert check_certificate(raised, key.public_key_pem(), None).status == "tampered"
    forged = copy.deepcopy(certificate)
    forged["signature"]["value"] = "not base64!"
    assert check_certificate(forged, key.public_key_pem(), None).status == "tampered"
    assert check_certificate({"payload": PAYLOAD}, key.public_key_pem(), None).status == "tampered"
    assert check_certificate("nonsense", key.public_key_pem(), None).status == "tampered"


def test_a_certificate_from_another_key_is_unknown_key(certificate):
    stranger = SigningKey.generate()
    verdict = check_certificate(certificate, stranger.public_key_pem(), None)
    assert verdict.status == "unknown-key"
    assert stranger.key_id in verdict.message
    assert not verify_document(certificate, stranger.public_key_pem())


def test_a_revoked_filing_is_revoked_as_of_the_lists_issue_time(key, certificate):
    revocations = revocation_list(
        key,
        [
            {"filing_number": "ZJAI-2025-000042", "revoked_at": datetime(2025, 7, 1, tzinfo=UTC), "reason": "accuracy fell"},
            {"filing_number": "ZJAI-2025-000007", "revoked_at": "2025-03-01T00:00:00+00:00", "reason": "deregistered"},
        ],
        datetime(2025, 7, 2, tzinfo=UTC),
    )
    assert [e["filing_number"] for e in revocations["payload"]["entries"]] == ["ZJAI-2025-000007", "ZJAI-2025-000042"]
    verdict = check_certificate(certificate, key.public_key_pem(), revocations)
    assert verdict.status == "revoked"
    assert verdict.revoked_at == "2025-07-01T00:00:00+00:00"
    assert verdict.synced_at == "2025-07-02T00:00:00+00:00"
    assert "accuracy fell" in verdict.message and "as of last sync 2025-07-02" in verdict.message


def test_a_filing_not_on_the_list_is_valid_as_of_last_sync(key, certificate):
    revocations = revocation_list(key, [{"filing_number": "ZJAI-2025-000007", "revoked_at": "2025-03-01", "reason": ""}], "2025-07-02T00:00:00+00:00")
    verdict = check_certificate(certificate, key.public_key_pem(), revocations)
    assert (verdict.status, verdict.synced_at) == ("valid", "2025-07-02T00:00:00+00:00")
    assert "as of last sync 2025-07-02T00:00:00+00:00" in verdict.message


def test_a_tampered_revocation_list_is_ignored_and_said_so(key, certificate):
    revocations = revocation_list(key, [{"filing_number": "ZJAI-2025-000042", "revoked_at": "2025-07-01", "reason": "x"}], "2025-07-02")
    emptied = copy.deepcopy(revocations)
    emptied["payload"]["entries"] = []  # someone hides the revocation
    verdict = check_certificate(certificate, key.public_key_pem(), emptied)
    assert verdict.status == "valid"
    assert "revocation list is tampered" in verdict.message and "no revocation list synced" in verdict.message
    assert verdict.synced_at is None
    # A list signed by someone else is no better, and a certificate is no revocation list.
    forged = revocation_list(SigningKey.generate(), [], "2025-07-03")
    assert "revocation list is tampered" in check_certificate(certificate, key.public_key_pem(), forged).message
    assert "not a revocation list" in check_certificate(certificate, key.public_key_pem(), certificate).message


def test_the_key_file_is_private_and_reloads_to_the_same_key(tmp_path):
    directory = tmp_path / "keys"
    key = SigningKey.load_or_create(directory)
    path = directory / "filing-ed25519.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = SigningKey.load_or_create(directory)
    assert again.key_id == key.key_id
    assert again.public_key_pem() == key.public_key_pem()
    assert [p.name for p in directory.iterdir()] == ["filing-ed25519.pem"]  # no temporary file left
    assert "PRIVATE" not in repr(key)


def test_a_late_writer_keeps_the_key_already_in_place(tmp_path):
    first = SigningKey.load_or_create(tmp_path)
    _publish_new_key(tmp_path / "filing-ed25519.pem")  # what the loser of a race does
    assert SigningKey.load_or_create(tmp_path).key_id == first.key_id
    assert [p.name for p in tmp_path.iterdir()] == ["filing-ed25519.pem"]


def test_processes_racing_to_create_the_key_agree_on_one(tmp_path):
    # The module alone, not the whole filing package: start-up time would serialise the racers.
    script = (
        "import importlib.util, pathlib, sys\n"
        f"spec = importlib.util.spec_from_file_location('certificates', {certificates.__file__!r})\n"
        "module = sys.modules['certificates'] = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.SigningKey.load_or_create(pathlib.Path(sys.argv[1])).key_id)\n"
    )
    racers = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True) for _ in range(6)]
    key_ids = {racer.communicate(timeout=60)[0].strip() for racer in racers}
    assert len(key_ids) == 1
    assert SigningKey.load_or_create(tmp_path).key_id in key_ids


def test_unreadable_keys_are_refused(tmp_path):
    with pytest.raises(Invalid, match="PEM-encoded Ed25519 public key"):
        verify_document({}, b"not a key")
    with pytest.raises(Invalid, match="signing key must be"):
        SigningKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def pdf_text(pdf: bytes) -> list[str]:
    """The strings a matplotlib PDF draws (each TJ array's characters), from its deflated streams."""
    lines = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for array in re.findall(rb"\[(.*?)\]\s*TJ", content, re.S):
            lines.append(b"".join(re.findall(rb"\(((?:\\.|[^\\)])*)\)", array)).decode("latin-1"))
    return lines


def test_the_pdf_is_one_ascii_page_with_the_certificates_fields(key, certificate):
    pdf = certificate_pdf(certificate)
    assert pdf.startswith(b"%PDF")
    assert re.findall(rb"/Count \d+", pdf) == [b"/Count 1"]
    text = pdf_text(pdf)
    for expected in [
        "Filing number:  ZJAI-2025-000042",
        "shu zi shi bie digits-cnn",  # Chinese written in pinyin: no CJK font is assumed
        "zhe jiang zhi neng ke ji you xian gong si",
        "3",
        "medium",
        "2025-06-01",
        key.key_id,
        "Ed25519",
    ]:
        assert expected in text
    assert certificate["signature"]["value"] in "".join(text)  # wrapped over consecutive lines
    assert all(line.isascii() for line in text)
    assert certificate_pdf(certificate) == pdf  # no creation date: the same bytes every time
