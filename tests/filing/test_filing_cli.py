"""`aicommons filing …` against a real home: file, review, certificate, offline verify, tamper,
revoke, sync, registry."""

from __future__ import annotations

import http.server
import json
import threading

import pytest
from filingkit import FilingKit
from support import cli_env
from typer.testing import CliRunner

from aicommons import filing
from aicommons.cli.main import app
from aicommons.filing.certificates import SigningKey


@pytest.fixture
def fk(runtime, world):
    return FilingKit(runtime, world)


@pytest.fixture
def cli(settings, fk):
    """`aicommons --as EMAIL …` in this process, against the test's home."""
    runner = CliRunner()
    return lambda email, *args: runner.invoke(app, ["--as", email, *args], env=cli_env(settings), catch_exceptions=False)


MEMBER, REVIEWER = "member@a.test", "reviewer@operator.test"


def _filing_id(output: str) -> str:
    return next(word for word in output.split() if word.startswith("fil_"))


def test_file_review_verify_tamper_revoke_and_sync(cli, fk, tmp_path):
    created = cli(MEMBER, "filing", "create", "cancer@1", "--provider", "Org A Health", "--application-field", "screening support",
                  "--algorithm-type", "classification", "--self-assessment", "Tested; a clinician confirms.", "--public-content",
                  "Flags cases for a second look.", "--intended-use", "Decision support.", "--contact", "filing@a.test",
                  "-p", "robustness.samples=100", "-p", "robustness.severities=[1]", "-p", "efficiency.budget_s=0.02")
    assert created.exit_code == 0, created.output
    filing_id = _filing_id(created.output)
    (tmp_path / "oversight.txt").write_text("Our oversight procedure.", encoding="utf-8")
    attached = cli(MEMBER, "filing", "attach", filing_id, str(tmp_path / "oversight.txt"))
    assert attached.exit_code == 0, attached.output
    sha256 = fk.runtime.blobs.put_bytes(b"Our oversight procedure.").sha256
    assert sha256 in attached.output
    incomplete = cli(MEMBER, "filing", "submit", filing_id, "--no-wait")
    assert incomplete.exit_code == 2 and "must be answered" in incomplete.output
    (tmp_path / "answers.json").write_text(json.dumps(fk.answers(sha256)), encoding="utf-8")
    assert cli(MEMBER, "filing", "update", filing_id, "--answers", str(tmp_path / "answers.json")).exit_code == 0
    submitted = cli(MEMBER, "filing", "submit", filing_id, "--no-wait")
    assert submitted.exit_code == 0 and "testing it" in submitted.output, submitted.output
    fk.run_evaluation(filing_id)
    listed = cli(REVIEWER, "filing", "list", "--status", "in_review")
    assert listed.exit_code == 0 and filing_id in listed.output

    own = cli(MEMBER, "filing", "review", filing_id, "--approve", "--all-met")
    assert own.exit_code == 4 and "Only platform reviewers" in own.output
    approved = cli(REVIEWER, "filing", "review", filing_id, "--approve", "--all-met", "--comment", "Meets every item.")
    assert approved.exit_code == 0 and "approved" in approved.output, approved.output
    number = json.loads(cli(MEMBER, "filing", "show", filing_id, "--json").stdout)["number"]

    out = tmp_path / "issued"
    written = cli(MEMBER, "filing", "certificate", number, "--out", str(out))
    assert written.exit_code == 0, written.output
    certificate, report = out / f"certificate-{number}.json", out / f"report-{number}.html"
    assert (out / f"certificate-{number}.pdf").read_bytes().startswith(b"%PDF") and (out / f"report-{number}.pdf").exists()

    assert cli(MEMBER, "filing", "sync").exit_code == 0
    valid = cli(MEMBER, "filing", "verify", str(certificate), "--report", str(report))
    assert valid.exit_code == 0 and "valid" in valid.output and "report matches" in valid.output, valid.output

    tampered = tmp_path / "tampered.json"
    text = certificate.read_text(encoding="utf-8")
    tampered.write_text(text.replace('"version_number": 1', '"version_number": 2'), encoding="utf-8")
    assert tampered.read_text(encoding="utf-8") != text  # one byte changed
    result = cli(MEMBER, "filing", "verify", str(tampered))
    assert result.exit_code == 2 and "tampered" in result.output
    forged_report = tmp_path / "report.html"
    forged_report.write_bytes(report.read_bytes().replace(b"</html>", b"<!-- edited --></html>"))
    result = cli(MEMBER, "filing", "verify", str(certificate), "--report", str(forged_report))
    assert result.exit_code == 2 and "report tampered" in result.output

    other_key = tmp_path / "other.pem"
    other_key.write_bytes(SigningKey.generate().public_key_pem())
    result = cli(MEMBER, "filing", "verify", str(certificate), "--public-key", str(other_key))
    assert result.exit_code == 3 and "unknown-key" in result.output

    revoked = cli(REVIEWER, "filing", "revoke", number, "--reason", "misses small tumours")
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    stale = cli(MEMBER, "filing", "verify", str(certificate))
    assert stale.exit_code == 0 and "as of last sync" in stale.output  # offline: it knows only what it synced
    assert cli(MEMBER, "filing", "sync").exit_code == 0
    now_revoked = cli(MEMBER, "filing", "verify", str(certificate))
    assert now_revoked.exit_code == 1 and "revoked" in now_revoked.output and "misses small tumours" in now_revoked.output

    registry = cli(MEMBER, "filing", "registry", "--status", "revoked")
    assert registry.exit_code == 0 and number in registry.output and "revoked" in registry.output
    key = cli(MEMBER, "filing", "public-key")
    assert key.exit_code == 0 and key.stdout.startswith("-----BEGIN PUBLIC KEY-----")


def test_verify_needs_a_key_and_sync_reads_a_remote_registry(cli, fk, runtime, tmp_path):
    certificate = tmp_path / "c.json"
    certificate.write_text("{}", encoding="utf-8")
    missing = cli(MEMBER, "filing", "verify", str(certificate))
    assert missing.exit_code == 2 and "run `aicommons filing sync`" in " ".join(missing.output.split())

    issuer = filing.Issuer.of(runtime)
    with runtime.session() as session:
        served = {"/api/v1/registry/public-key": filing.public_key_pem(issuer), "/api/v1/registry/revocations": json.dumps(filing.revocations(session, issuer)).encode()}

    class Registry(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            body = served.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        synced = cli(MEMBER, "filing", "sync", "--url", f"http://127.0.0.1:{server.server_port}")
        assert synced.exit_code == 0 and "Synced 0 revoked" in synced.output, synced.output
        served["/api/v1/registry/revocations"] = served["/api/v1/registry/revocations"].replace(b"revocation-list", b"revocation-lisT")
        forged = cli(MEMBER, "filing", "sync", "--url", f"http://127.0.0.1:{server.server_port}")
        assert forged.exit_code == 2 and "signature does not match" in forged.output
    finally:
        server.shutdown()
    result = cli(MEMBER, "filing", "verify", str(certificate))
    assert result.exit_code == 2 and "tampered" in result.output  # "{}" is no signed certificate
