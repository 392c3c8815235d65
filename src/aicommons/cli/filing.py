"""`aicommons filing …`: file model versions (备案), review them, read the public registry, and
check certificates offline.

`verify` needs no database: it reads the certificate, the operator's public key and the
revocation list that `sync` last cached under the home (`<home>/registry-cache/`).
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from aicommons import data, evaluation, filing, models
from aicommons.cli import rendering
from aicommons.cli.arguments import text_or_file
from aicommons.cli.jobs import finish_or_report
from aicommons.cli.state import CliState, state
from aicommons.core import jobs
from aicommons.core.config import Settings
from aicommons.core.errors import Invalid

app = typer.Typer(help="Filing (备案): apply, review, certificates, the public registry, offline verification.", no_args_is_help=True)

CACHE_DIR = "registry-cache"
PUBLIC_KEY_FILE = "public-key.pem"
REVOCATIONS_FILE = "revocations.json"
# `verify` exit codes: 0 valid, then one per way a certificate can fail.
EXIT_REVOKED, EXIT_TAMPERED, EXIT_UNKNOWN_KEY = 1, 2, 3


def _json_file(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Invalid(f"No {what} file {str(path)!r}.") from None
    except json.JSONDecodeError as exc:
        raise Invalid(f"The {what} file {str(path)!r} is not JSON: {exc}.") from None


def _test_params(pairs: list[str]) -> dict[str, dict[str, Any]]:
    """`--param fairness.sensitive_attribute=sex` into {"fairness": {"sensitive_attribute": "sex"}}."""
    params: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        test, dot, name = key.partition(".")
        if not sep or not dot or not test or not name:
            raise Invalid(f"The '--param' option must look like TEST.KEY=VALUE; got {pair!r} instead.")
        try:
            params.setdefault(test, {})[name] = json.loads(value)
        except json.JSONDecodeError:
            params.setdefault(test, {})[name] = value
    return params


def _version_id(cli: CliState, ref: str) -> str:
    name, _, which = ref.partition("@")
    with cli.session() as (session, actor):
        model = models.find_model(session, actor, name)
        return models.resolve_version(session, actor, model.id, which or None).id


def _dataset_version_id(cli: CliState, ref: str) -> str:
    name, _, number = ref.partition("@")
    with cli.session() as (session, actor):
        found = data.find_dataset(session, actor, name)
        return data.resolve_version(session, actor, found.id, int(number) if number.isdigit() else None).id


def _summary(found: filing.FilingRead) -> str:
    level = f", risk {found.grade['level']} ({found.grade['level_en']})" if found.grade else ""
    number = f", number {found.number}" if found.number else ""
    return f"Filing [bold]{found.id}[/] of {found.model_name}@{found.version_number}: {found.status}{number}{level}"


@app.command("create")
def create(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="MODEL, MODEL@N or MODEL@alias: the version to file.")],
    provider: Annotated[str, typer.Option(help="Who provides the service (服务提供者).")],
    application_field: Annotated[str, typer.Option(help="Where it is applied (应用领域).")],
    algorithm_type: Annotated[str, typer.Option(help="classification, regression, detection, generative, recommendation, ranking, retrieval, decision or other.")],
    service_form: Annotated[str, typer.Option(help="app, api, sdk, website, mini-program, embedded or other.")] = "api",
    self_assessment: Annotated[str, typer.Option(help="The self-assessment report: text, or @FILE.")] = "",
    public_content: Annotated[str, typer.Option(help="What the public registry shows: text, or @FILE.")] = "",
    intended_use: Annotated[str, typer.Option(help="What it is for: text, or @FILE.")] = "",
    contact: Annotated[str, typer.Option(help="Who to contact about it.")] = "",
    dataset: Annotated[str | None, typer.Option(help="DATASET[@N] to test on; default: the version's training data.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="TEST.KEY=VALUE over the filing suite, e.g. fairness.sensitive_attribute=sex; repeat.")] = None,
    answers: Annotated[Path | None, typer.Option(help="A JSON file: the ethics checklist answers, [{item, answer, evidence: [sha256]}].")] = None,
    change_of: Annotated[str | None, typer.Option(help="File a change to this approved filing (id or number); it keeps the number.")] = None,
) -> None:
    """Start a filing (a draft) of one of your org's model versions."""
    cli = state(ctx)
    spec = filing.FilingCreate(
        version_id=_version_id(cli, version), change_of=change_of, dataset_version_id=_dataset_version_id(cli, dataset) if dataset else None,
        provider=provider, service_form=service_form, application_field=application_field, algorithm_type=algorithm_type,
        self_assessment=text_or_file(self_assessment), public_content=text_or_file(public_content), intended_use=text_or_file(intended_use), contact=contact,
        evaluation_params=_test_params(param or []), answers=_json_file(answers, "answers") if answers else [],
    )
    with cli.session() as (session, actor):
        found = filing.create_filing(session, actor, spec)
    rendering.out.print(f"Created filing [bold]{found.id}[/] (draft) of {found.model_name}@{found.version_number}")


@app.command("update")
def update(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The filing's id.")],
    answers: Annotated[Path | None, typer.Option(help="A JSON file: the ethics checklist answers.")] = None,
    self_assessment: Annotated[str | None, typer.Option(help="Text, or @FILE.")] = None,
    public_content: Annotated[str | None, typer.Option(help="Text, or @FILE.")] = None,
    intended_use: Annotated[str | None, typer.Option(help="Text, or @FILE.")] = None,
    contact: str | None = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="TEST.KEY=VALUE; replaces all test parameters.")] = None,
) -> None:
    """Edit a draft, rejected or test-failed filing."""
    change = filing.FilingUpdate(
        answers=_json_file(answers, "answers") if answers else None,
        self_assessment=text_or_file(self_assessment) if self_assessment is not None else None,
        public_content=text_or_file(public_content) if public_content is not None else None,
        intended_use=text_or_file(intended_use) if intended_use is not None else None,
        contact=contact, evaluation_params=_test_params(param) if param else None,
    )
    with state(ctx).session() as (session, actor):
        found = filing.update_filing(session, actor, filing.find_filing(session, actor, ref).id, change)
    rendering.out.print(_summary(found))


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only filings in this state.")] = None,
    limit: int = 50,
) -> None:
    """Your org's filings (reviewers: every submitted filing)."""
    with state(ctx).session() as (session, actor):
        page = filing.list_filings(session, actor, status=status, limit=limit)
    rendering.table(
        "Filings", ["id", "model", "version", "status", "risk", "number", "message"],
        ((f.id, f.model_name, f.version_number, f.status, f.risk_level, f.number, f.message) for f in page.items),
    )


@app.command("show")
def show(ctx: typer.Context, ref: Annotated[str, typer.Argument(help="A filing id or number.")],
         json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """One filing: its fields, test run, grade, review and certificate."""
    with state(ctx).session() as (session, actor):
        found = filing.find_filing(session, actor, ref)
    rendering.as_json(found) if json_out else rendering.record(found)


@app.command("attach")
def attach(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The filing's id.")],
    files: Annotated[list[Path], typer.Argument(help="Evidence documents; cite the printed sha256 in an answer's evidence.")],
) -> None:
    """Attach evidence documents for the ethics checklist."""
    cli = state(ctx)
    rows = []
    for path in files:
        if not path.is_file():
            raise Invalid(f"No file {str(path)!r} to attach.")
        with cli.session() as (session, actor), path.open("rb") as stream:
            evidence = filing.attach_evidence(session, cli.runtime().blobs, actor, filing.find_filing(session, actor, ref).id, stream, path.name)
        rows.append((evidence.sha256, evidence.filename, evidence.size))
    rendering.table("Evidence attached", ["sha256", "file", "bytes"], rows)


@app.command("submit")
def submit(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The filing's id.")],
    wait: Annotated[bool, typer.Option(help="Follow the evaluation with a progress bar.")] = True,
) -> None:
    """Submit a filing: its checklist is checked and the filing suite starts testing it."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        found = filing.submit_filing(session, actor, filing.find_filing(session, actor, ref).id)
        assert found.evaluation_id is not None
        job = jobs.get_job(session, actor, evaluation.get_evaluation(session, actor, found.evaluation_id).job_id)
    rendering.out.print(f"Submitted filing [bold]{found.id}[/]; evaluation {found.evaluation_id} is testing it.")
    finish_or_report(cli, job, wait)
    if wait:
        with cli.session() as (session, actor):
            rendering.out.print(_summary(filing.get_filing(session, actor, found.id)))


@app.command("review")
def review(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The filing's id.")],
    approve: Annotated[bool, typer.Option("--approve/--reject", help="The decision.")],
    judgements: Annotated[Path | None, typer.Option(help="A JSON file: [{item, verdict: met|not_met|not_applicable, comment}].")] = None,
    all_met: Annotated[bool, typer.Option("--all-met", help="Judge every checklist item met.")] = False,
    comment: Annotated[str, typer.Option(help="The review's comment (required to reject).")] = "",
) -> None:
    """Review a filing as a platform reviewer (`--as reviewer@…`): judge each checklist item, then decide."""
    if (judgements is None) == (not all_met):
        raise Invalid("Give exactly one of --judgements FILE or --all-met.")
    judged = _json_file(judgements, "judgements") if judgements else [
        {"item": item.id, "verdict": "met", "comment": ""} for item in filing.Checklist.default().items
    ]
    cli = state(ctx)
    decision = filing.FilingReview(decision="approve" if approve else "reject", judgements=judged, comment=comment)
    with cli.session() as (session, actor):
        found = filing.review_filing(session, filing.Issuer.of(cli.runtime()), actor, filing.find_filing(session, actor, ref).id, decision)
    rendering.out.print(_summary(found))


@app.command("revoke")
def revoke(ctx: typer.Context, ref: Annotated[str, typer.Argument(help="A filing id or number.")],
           reason: Annotated[str, typer.Option(help="Why it is revoked (published).")]) -> None:
    """Revoke an approved filing (reviewers, the operator); its number joins the revocation list."""
    with state(ctx).session() as (session, actor):
        found = filing.revoke_filing(session, actor, ref, filing.FilingEnd(reason=reason))
    rendering.out.print(_summary(found))


@app.command("deregister")
def deregister(ctx: typer.Context, ref: Annotated[str, typer.Argument(help="A filing id or number.")],
               reason: Annotated[str, typer.Option(help="Why it is withdrawn (published).")]) -> None:
    """Deregister your org's approved filing (org admins)."""
    with state(ctx).session() as (session, actor):
        found = filing.deregister_filing(session, actor, ref, filing.FilingEnd(reason=reason))
    rendering.out.print(_summary(found))


@app.command("certificate")
def certificate(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="A filing id or number.")],
    out: Annotated[Path, typer.Option(help="The folder to write into.")] = Path("."),
) -> None:
    """Write the signed certificate (JSON and PDF) and the certified report (HTML and PDF) to files."""
    cli = state(ctx)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with cli.session() as (session, actor):
        found = filing.find_filing(session, actor, ref)
        for name in ("certificate", "certificate.pdf", "report.html", "report.pdf"):
            document = filing.filing_document(session, cli.runtime().blobs, actor, found.id, name)
            path = out / document.filename
            path.write_bytes(document.content)
            written.append((name, str(path), hashlib.sha256(document.content).hexdigest()))
    rendering.table(f"Filing {found.number or found.id}", ["document", "file", "sha256"], written)


@app.command("registry")
def registry(
    ctx: typer.Context,
    number: Annotated[str | None, typer.Option(help="This filing number only.")] = None,
    org: Annotated[str | None, typer.Option(help="An org id or part of its name.")] = None,
    task: Annotated[str | None, typer.Option(help="The model's task, e.g. tabular-classification.")] = None,
    risk_level: Annotated[str | None, typer.Option(help="低, 中, 高 or low, medium, high.")] = None,
    status: Annotated[str | None, typer.Option(help="approved, revoked, deregistered or superseded.")] = None,
    q: Annotated[str | None, typer.Option(help="Words in the model, org or provider name, field or public content.")] = None,
    limit: int = 50,
) -> None:
    """Search the public registry of filed models."""
    with state(ctx).runtime().session() as session:
        page = filing.search_registry(session, number=number, org=org, task=task, risk_level=risk_level, status=status, q=q, limit=limit)
    rendering.table(
        "Filed models", ["number", "rev", "status", "model", "version", "org", "task", "risk", "issued"],
        ((e.number, e.revision, e.status, e.model_name, e.version_number, e.org_name, e.task, f"{e.risk_level} {e.risk_level_en}",
          e.issued_at.date().isoformat()) for e in page.items),
    )


@app.command("public-key")
def public_key(ctx: typer.Context) -> None:
    """Print the operator's public key (PEM) that certificates are checked against."""
    print(filing.public_key_pem(filing.Issuer.of(state(ctx).runtime())).decode("ascii"), end="")


def _cache_dir() -> Path:
    return Settings().home / CACHE_DIR


@app.command("sync")
def sync(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="A platform's address, e.g. https://ai.example.gov.cn; default: this installation.")] = None,
) -> None:
    """Cache the public key and the signed revocation list for offline `verify`."""
    if url:
        pem, revoked = _fetch(url.rstrip("/") + "/api/v1/registry/public-key"), json.loads(_fetch(url.rstrip("/") + "/api/v1/registry/revocations"))
    else:
        cli = state(ctx)
        issuer = filing.Issuer.of(cli.runtime())
        with cli.runtime().session() as session:
            pem, revoked = filing.public_key_pem(issuer), filing.revocations(session, issuer)
    if not filing.verify_document(revoked, pem):
        raise Invalid("The revocation list's signature does not match the public key; nothing was cached.")
    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PUBLIC_KEY_FILE).write_bytes(pem)
    (folder / REVOCATIONS_FILE).write_text(json.dumps(revoked, ensure_ascii=False, indent=2), encoding="utf-8")
    count = len(revoked["payload"].get("entries", []))
    rendering.out.print(f"Synced {count} revoked filing number(s) as of {revoked['payload'].get('issued_at')} into {folder}")


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (an address the user gave)
            return response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise Invalid(f"Could not fetch {url}: {exc}.") from None


@app.command("verify")
def verify(
    certificate_file: Annotated[Path, typer.Argument(help="The certificate's JSON file.")],
    public_key_file: Annotated[Path | None, typer.Option("--public-key", help="The operator's public key (PEM); default: the one `sync` cached.")] = None,
    report: Annotated[Path | None, typer.Option(help="A report file (HTML or PDF) to check against the certificate's digests.")] = None,
) -> None:
    """Check a certificate offline: valid, revoked as of the last `sync`, or tampered. Exits 0 only when valid."""
    document = _json_file(certificate_file, "certificate")
    folder = _cache_dir()
    key_path = public_key_file or folder / PUBLIC_KEY_FILE
    if not key_path.is_file():
        raise Invalid(f"No public key at {str(key_path)!r}: pass --public-key PEM or run `aicommons filing sync` first.")
    revocations_path = folder / REVOCATIONS_FILE
    revoked = json.loads(revocations_path.read_text(encoding="utf-8")) if revocations_path.is_file() else None
    verdict = filing.check_certificate(document, key_path.read_bytes(), revoked)
    colour = {"valid": "green", "revoked": "yellow"}.get(verdict.status, "red")
    rendering.out.print(f"[bold {colour}]{verdict.status}[/]: {verdict.message}", highlight=False)
    if verdict.status == "tampered":
        raise typer.Exit(EXIT_TAMPERED)
    if verdict.status == "unknown-key":
        raise typer.Exit(EXIT_UNKNOWN_KEY)
    if report is not None:
        if not report.is_file():
            raise Invalid(f"No report file {str(report)!r}.")
        digest = hashlib.sha256(report.read_bytes()).hexdigest()
        certified = {document["payload"].get("report_sha256"), document["payload"].get("report_pdf_sha256")} - {None}
        if digest not in certified:
            rendering.out.print(f"[bold red]report tampered[/]: {report.name} hashes to {digest}, which the certificate does not certify.", highlight=False)
            raise typer.Exit(EXIT_TAMPERED)
        rendering.out.print(f"report matches: {report.name} is the certified report ({digest}).", highlight=False)
    if verdict.status == "revoked":
        raise typer.Exit(EXIT_REVOKED)
