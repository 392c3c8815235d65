"""Evaluation and filing pages: run a suite and read its results; file a model through the form,
follow it through testing and review to its certificate; the reviewers' queue. Each page shows only
what the visitor may see, every form refuses bad input next to the field and stores nothing, and
the lists cost a fixed number of SQL statements whatever their length."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from consolekit import counted_page, csrf_of
from filingkit import FAST_TESTS, FilingKit
from support import assert_db_unchanged, db_state

from aicommons import evaluation, filing
from aicommons.core.ids import new_id
from aicommons.core.tables import Job
from aicommons.evaluation.tables import Evaluation
from aicommons.filing.tables import Filing

REVIEWER = "reviewer@operator.test"
EVIDENCE_NAMES = {"human-oversight": "人工监督流程.txt"}  # file names may be Chinese


@pytest.fixture
def fk(runtime, world):
    return FilingKit(runtime, world)


def _run_jobs(fk):
    while fk.data.worker.run_one():
        pass


def _filing(fk, filing_id):
    with fk.runtime.session() as session:
        return filing.get_filing(session, fk.applicant.actor, filing_id)


def _application_form(fk, token, *, action="submit", **changes):
    """The filing form as a browser sends it: the application, every checklist answer, evidence where required."""
    fields = {
        k: v
        for k, v in fk.application().items()
        if k not in ("version_id", "evaluation_params")
    }
    fields |= {
        "csrf_token": token,
        "model_id": fk.model.id,
        "version": "",
        "action": action,
        "evaluation_params": json.dumps(FAST_TESTS),
    }
    items = filing.Checklist.default().items
    fields |= {
        f"answer-{item.id}": f"How we handle {item.principle}." for item in items
    }
    files = [
        (
            f"evidence-{item.id}",
            (
                EVIDENCE_NAMES.get(item.id, f"{item.id}.txt"),
                f"procedure for {item.id}".encode(),
                "text/plain",
            ),
        )
        for item in items
        if item.evidence_required
    ]
    fields |= changes
    return fields, files


# --- evaluations ------------------------------------------------------------------------------


def test_run_a_suite_from_the_form_and_read_results_charts_and_reports(console, fk):
    client = console("member@a.test")
    form = client.get("/evaluations/new", params={"model_id": fk.model.id}).text
    assert f'<option value="{fk.model.id}" selected>cancer</option>' in form
    started = client.post(
        "/evaluations",
        data={
            "csrf_token": csrf_of(form),
            "model_id": fk.model.id,
            "version": "1",
            "suite": "quick",
        },
        follow_redirects=False,
    )
    assert started.status_code == 303
    run_url = started.headers["location"]
    waiting = client.get(run_url).text
    # htmx polls while it runs, and stops once it has ended.
    assert 'hx-trigger="every 1s"' in waiting and "status-queued" in waiting

    _run_jobs(fk)
    poll = client.get(run_url, headers={"HX-Request": "true"})
    assert (
        poll.status_code == 200
        and "<html" not in poll.text
        and 'id="run-body"' in poll.text
    )
    assert "hx-trigger" not in poll.text and "status-succeeded" in poll.text
    # The fragment and the page share the URL, so caches (the Back button) must key on the header.
    assert poll.headers["vary"] == "HX-Request" == client.get(run_url).headers["vary"]
    page = client.get(run_url).text
    assert (
        '<h2 id="test-accuracy">准确性 <span class="status status-passed">通过</span></h2>'
        in page
    )
    assert "<caption>主要指标</caption>" in page and "<td>macro_f1</td>" in page
    chart = re.search(r'src="(/evaluations/ev_[^"]+/charts/[^"]+)"', page).group(1)
    png = client.get(chart)
    assert (
        png.status_code == 200
        and png.headers["content-type"] == "image/png"
        and png.content.startswith(b"\x89PNG")
    )
    report = client.get(f"{run_url}/report.html")
    assert report.status_code == 200 and "<html" in report.text
    pdf = client.get(f"{run_url}/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(
        b"%PDF"
    )
    listed = client.get("/evaluations").text
    assert f'<a href="{run_url}">cancer v1</a>' in listed and "2 项通过" in listed

    stranger = console("member@b.test")
    for url in (run_url, chart, f"{run_url}/report.html", f"{run_url}/report.pdf"):
        assert stranger.get(url).status_code == 404, url
    assert run_url not in stranger.get("/evaluations").text
    assert client.get(f"{run_url}/charts/no-such-chart").status_code == 404


def test_the_run_form_refuses_bad_input_next_to_the_field_and_starts_nothing(
    console, runtime, fk
):
    client = console("member@a.test")
    token = csrf_of(client.get("/evaluations/new").text)
    good = {
        "csrf_token": token,
        "model_id": fk.model.id,
        "version": "",
        "suite": "quick",
    }
    before = db_state(runtime)
    for change, field in [
        ({"model_id": ""}, "model_id"),
        ({"suite": "no-such-suite"}, "suite"),
        ({"version": "99"}, "version"),
        ({"dataset_version": "two"}, "dataset_version"),
        ({"dataset_id": "ds_nope"}, "dataset_id"),
    ]:
        refused = client.post("/evaluations", data=good | change)
        assert refused.status_code == 422, (change, refused.text[:300])
        assert (
            f'id="{field}-error"' in refused.text
            and f'aria-describedby="{field}-error"' in refused.text
        ), change
    assert (
        "没有版本 99" in refused.text
        or "has no version 99"
        in client.post("/evaluations", data=good | {"version": "99"}).text
    )
    assert_db_unchanged(before, db_state(runtime))


# --- filing -----------------------------------------------------------------------------------


def test_file_a_model_through_the_form_follow_it_to_review(console, fk):
    client = console("member@a.test")
    form = client.get("/filings/new").text
    assert f'<option value="{fk.model.id}"' in form and form.count('type="file"') == 16
    fields, files = _application_form(fk, csrf_of(form))
    created = client.post("/filings", data=fields, files=files, follow_redirects=False)
    assert created.status_code == 303, created.text[:2000]
    filing_url = created.headers["location"]
    filing_id = filing_url.rsplit("/", 1)[1]
    assert _filing(fk, filing_id).status == "testing"
    testing = client.get(filing_url).text
    # The page follows the run; evidence is shown by its file name.
    assert "status-testing" in testing and 'hx-trigger="every 2s"' in testing
    assert "/evaluations/ev_" in testing and "人工监督流程.txt" in testing

    _run_jobs(fk)
    in_review = client.get(filing_url).text
    assert "status-in_review" in in_review and "hx-trigger" not in in_review
    assert "风险等级" in in_review and 'class="reasons"' in in_review
    run_url = re.search(r'href="(/evaluations/ev_[^"]+)"', in_review).group(1)
    run_page = client.get(run_url).text
    # The run page shows the filing suite's thresholds.
    assert "<caption>检查项</caption>" in run_page and "&gt;= 0.85" in run_page
    listed = client.get("/filings").text
    assert filing_url in listed and "待审核" in listed

    evidence = re.search(
        rf'href="({filing_url}/evidence/[0-9a-f]+)">人工监督流程.txt<', in_review
    ).group(1)
    downloaded = client.get(evidence)
    assert downloaded.headers["content-type"] == "application/octet-stream"
    assert (
        downloaded.headers["content-disposition"]
        == "attachment; filename*=UTF-8''%E4%BA%BA%E5%B7%A5%E7%9B%91%E7%9D%A3%E6%B5%81%E7%A8%8B.txt"
    )
    assert downloaded.content == b"procedure for human-oversight"


def test_a_draft_is_saved_edited_and_then_submitted(console, fk):
    client = console("member@a.test")
    fields, _ = _application_form(
        fk, csrf_of(client.get("/filings/new").text), action="save", contact=""
    )
    fields = {
        k: v
        for k, v in fields.items()
        if not k.startswith("answer-") or k == "answer-intended-use"
    }
    saved = client.post("/filings", data=fields, follow_redirects=False)
    assert saved.status_code == 303
    filing_id = saved.headers["location"].rsplit("/", 1)[1]
    draft = _filing(fk, filing_id)
    assert draft.status == "draft" and [a["item"] for a in draft.answers] == [
        "intended-use"
    ]

    page = client.get(f"/filings/{filing_id}").text
    assert "status-draft" in page and f'action="/filings/{filing_id}/submit"' in page
    refused = client.post(
        f"/filings/{filing_id}/submit", data={"csrf_token": csrf_of(page)}
    )
    assert (
        refused.status_code == 422
        and 'id="action-error"' in refused.text
        and _filing(fk, filing_id).status == "draft"
    )

    edit = client.get(f"/filings/{filing_id}/edit").text
    assert "Org A Health" in edit and "How we handle intended use." in edit
    fields, files = _application_form(fk, csrf_of(edit))
    submitted = client.post(
        f"/filings/{filing_id}/edit", data=fields, files=files, follow_redirects=False
    )
    assert submitted.status_code == 303, submitted.text[:2000]
    after = _filing(fk, filing_id)
    assert (
        after.status == "testing"
        and after.contact == "filing@a.test"
        and len(after.answers) == 16
    )
    assert (
        len(after.evidence)
        == len(files)
        == sum(item.evidence_required for item in filing.Checklist.default().items)
    )


def test_the_filing_form_refuses_bad_input_next_to_the_field_and_stores_nothing(
    console, runtime, fk
):
    client = console("member@a.test")
    token = csrf_of(client.get("/filings/new").text)
    before = db_state(runtime)
    for change, field in [
        ({"provider": ""}, "provider"),
        ({"service_form": "carrier-pigeon"}, "service_form"),
        ({"contact": "x" * 201}, "contact"),
        ({"evaluation_params": "{not json"}, "evaluation_params"),
        ({"evaluation_params": '{"no-such-test": {}}'}, "evaluation_params"),
        ({"answer-fairness": "x" * 5001}, "answer-fairness"),
        ({"answer-safety": ""}, "answer-safety"),
        ({"model_id": ""}, "model_id"),
        ({"version": "99"}, "version"),
        ({"intended_use": ""}, "intended_use"),
    ]:
        fields, files = _application_form(fk, token, **change)
        refused = client.post("/filings", data=fields, files=files)
        assert refused.status_code == 422, (change, refused.text[:500])
        assert f'id="{field}-error"' in refused.text, change
        assert (
            'aria-invalid="true"' in refused.text
            and "Flags tumour measurements" in refused.text
        ), change  # what was typed stays
    fields, _ = _application_form(fk, token)
    no_evidence = client.post("/filings", data=fields)
    assert (
        no_evidence.status_code == 422
        and 'id="evidence-human-oversight-error"' in no_evidence.text
    )
    assert_db_unchanged(before, db_state(runtime))

    # The version has a filing under way: the service refuses a second, next to the version.
    fk.create_complete()
    before = db_state(runtime)
    fields, files = _application_form(fk, token)
    duplicate = client.post("/filings", data=fields, files=files)
    assert (
        duplicate.status_code == 422
        and 'id="version-error"' in duplicate.text
        and "already has filing" in duplicate.text
    )
    assert_db_unchanged(before, db_state(runtime))


def test_another_orgs_filing_is_not_found(console, fk):
    testing = fk.submitted()  # its run queued: the stranger may see neither
    stranger = console("member@b.test")
    token = csrf_of(stranger.get("/filings").text)
    sha256 = testing.evidence[0].sha256
    for url in (
        f"/filings/{testing.id}",
        f"/filings/{testing.id}/edit",
        f"/filings/{testing.id}/evidence/{sha256}",
        f"/filings/{testing.id}/documents/report.html",
        f"/evaluations/{testing.evaluation_id}",
    ):
        assert stranger.get(url).status_code == 404, url
    assert (
        stranger.post(
            f"/filings/{testing.id}/submit", data={"csrf_token": token}
        ).status_code
        == 404
    )
    assert testing.id not in stranger.get("/filings").text
    assert (
        console("member@a.test").get("/filings/fil_does_not_exist").status_code == 404
    )


# --- reviewing --------------------------------------------------------------------------------


def _judgements(verdict="met", **overrides):
    return {
        f"verdict-{item.id}": overrides.get(item.id, verdict)
        for item in filing.Checklist.default().items
    }


def test_only_a_reviewer_from_another_org_judges_the_checklist_and_approves_from_the_queue(
    console, runtime, world, fk
):
    waiting = fk.in_review()
    member = console("member@a.test")
    # Not a reviewer: no queue, no review page.
    assert member.get("/filings/review").status_code == 403
    assert "/filings/review" not in member.get("/filings").text
    assert member.get(f"/filings/{waiting.id}/review").status_code == 403
    # A reviewer from the applicant's own org may not review it either.
    fk.person("reviewer@a.test", world.org_a, reviewer=True)
    own, reviewer = console("reviewer@a.test"), console(REVIEWER)
    assert waiting.id not in own.get("/filings/review").text
    assert own.get(f"/filings/{waiting.id}/review").status_code == 403
    before = db_state(runtime)
    refused = own.post(
        f"/filings/{waiting.id}/review",
        data={
            "csrf_token": csrf_of(own.get("/filings").text),
            "decision": "approve",
            "comment": "Looks fine to me.",
        }
        | _judgements(),
    )
    assert (
        refused.status_code == 403 and "may not approve its own filing" in refused.text
    )

    queue = reviewer.get("/filings/review").text
    assert f'href="/filings/{waiting.id}/review"' in queue
    page = reviewer.get(f"/filings/{waiting.id}/review").text
    assert (
        page.count('type="radio"') == 48
        and "Our answer on human oversight." in page
        and "oversight.txt" in page
    )
    token = csrf_of(page)

    missing = reviewer.post(
        f"/filings/{waiting.id}/review",
        data={"csrf_token": token, "decision": "approve"} | _judgements(fairness=""),
    )
    assert (
        missing.status_code == 422
        and 'id="verdict-fairness-error"' in missing.text
        and 'id="verdict-safety-error"' not in missing.text
    )
    bad_approval = reviewer.post(
        f"/filings/{waiting.id}/review",
        data={"csrf_token": token, "decision": "approve"}
        | _judgements(fairness="not_met"),
    )
    assert (
        bad_approval.status_code == 422
        and 'id="decision-error"' in bad_approval.text
        and "not_met" in bad_approval.text
    )
    silent_rejection = reviewer.post(
        f"/filings/{waiting.id}/review",
        data={"csrf_token": token, "decision": "reject"} | _judgements(),
    )
    assert (
        silent_rejection.status_code == 422
        and 'id="decision-error"' in silent_rejection.text
    )
    assert 'value="met" checked' in silent_rejection.text  # the judgements made stay
    assert_db_unchanged(before, db_state(runtime))

    approved = reviewer.post(
        f"/filings/{waiting.id}/review",
        data={"csrf_token": token, "decision": "approve", "comment": "Fine."}
        | _judgements(),
        follow_redirects=False,
    )
    assert approved.status_code == 303
    done = _filing(fk, waiting.id)
    assert done.status == "approved" and done.number
    assert f"/filings/{waiting.id}/review" not in reviewer.get("/filings/review").text
    applicant = console("member@a.test")
    page = applicant.get(f"/filings/{waiting.id}").text
    assert (
        done.number in page and f"/registry/{done.number}" in page and "Fine." in page
    )
    certificate = applicant.get(f"/filings/{waiting.id}/documents/certificate")
    assert (
        certificate.status_code == 200
        and json.loads(certificate.content)["payload"]["filing_number"] == done.number
    )
    assert applicant.get(f"/filings/{waiting.id}/documents/nothing").status_code == 422


# --- lists at scale ---------------------------------------------------------------------------


def _copies(runtime, table, row_id, count, **changes):
    """Insert `count` copies of a row under new ids (and any changed columns, each a function of the copy's index)."""
    with runtime.session() as session:
        row = (
            session.execute(
                sa.select(table.__table__).where(table.__table__.c.id == row_id)
            )
            .mappings()
            .one()
        )
        prefix = row_id.split("_")[0]
        session.execute(
            sa.insert(table.__table__),
            [
                {
                    **row,
                    "id": new_id(prefix),
                    **{column: make(i) for column, make in changes.items()},
                }
                for i in range(count)
            ],
        )


@pytest.mark.usefixtures("frozen_heap")
def test_the_lists_cost_the_same_statements_for_one_row_or_fifty(console, runtime, fk):
    approved = fk.approved()
    _copies(
        runtime,
        Filing,
        approved.id,
        1,
        status=lambda i: "in_review",
        number=lambda i: None,
        revision=lambda i: None,
    )
    with runtime.session() as session:
        run = evaluation.get_evaluation(
            session, fk.applicant.actor, approved.evaluation_id
        )
    member, reviewer = console("member@a.test"), console(REVIEWER)
    pages = [
        (member, "/evaluations"),
        (member, "/filings"),
        (reviewer, "/filings/review"),
        (member, "/registry"),
    ]
    few = {url: counted_page(client, runtime.engine, url)[1] for client, url in pages}

    _copies(runtime, Job, run.job_id, 1)  # more runs, each with a job
    with runtime.session() as session:
        job_ids = list(
            session.scalars(sa.select(Job.id).where(Job.type == "evaluation.run"))
        )
    _copies(runtime, Evaluation, run.id, 60, job_id=lambda i: job_ids[i % len(job_ids)])
    _copies(runtime, Filing, approved.id, 60, number=lambda i: f"{approved.number}-{i}")
    _copies(
        runtime,
        Filing,
        approved.id,
        60,
        status=lambda i: "in_review",
        number=lambda i: None,
        revision=lambda i: None,
    )
    for client, url in pages:
        page, statements, _ = counted_page(client, runtime.engine, url)
        assert statements == few[url], (
            f"{url}: {few[url]} statements for a row or two, {statements} for a page of 50"
        )
        assert 'rel="next"' in page, url


def test_a_models_page_leads_to_evaluating_filing_and_deploying_the_version_shown(console, fk):
    """The lifecycle's next steps are a click away, each form opened with the model and version chosen."""
    client = console("member@a.test")
    card = client.get(f"/models/{fk.model.id}").text
    steps = {
        "/evaluations/new": "评测",
        "/filings/new": "申请备案",
        "/endpoints": "部署",
    }
    for path, text in steps.items():
        link = re.search(rf'<a href="({path}\?model_id={fk.model.id}&amp;version=1[^"]*)">{text}</a>', card)
        assert link, f"no link to {path} on the model's page"
        form = client.get(link.group(1).replace("&amp;", "&")).text
        assert re.search(rf'<option value="{fk.model.id}" selected', form), path
        assert re.search(r'name="version" value="1"', form), path
    # Another org's member sees the card of a public model only, and never these links.
    assert "/filings/new?model_id" not in console("member@b.test").get(f"/models/{fk.model.id}").text
