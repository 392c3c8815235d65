"""Bad input: a 4xx JSON body `{"error": {"code": ..., "message": ...}}` whose message names the
problem, and a database left exactly as it was (every table's row count and contents).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from support import assert_db_unchanged, auth, db_state

from aicommons.core import audit, identity, jobs
from aicommons.core.errors import Invalid
from aicommons.core.ids import new_id
from aicommons.core.jobs.worker import WorkerLoop, new_worker_id
from aicommons.core.schemas import JobStatus, JobSubmit, TokenCreate, UserCreate, UserUpdate

API = "/api/v1"
NO_BODY = object()


@dataclass(frozen=True)
class Bad:
    """One bad request: who sends it, what comes back, and what the message must mention.

    `{name}` in path, body, headers and mentions is filled from the `names` fixture.
    """

    method: str
    path: str
    status: int
    code: str
    mentions: tuple[str, ...]
    json: Any = NO_BODY
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    who: str | None = "operator"  # None: send `headers` alone, no token of a member


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


@pytest.fixture
def names(client, world, runtime) -> dict[str, str]:
    """Ids of the world's things, and of jobs and tokens in each state a case needs."""
    a = world.a_member.actor
    with runtime.session() as session:
        succeeded = jobs.submit_job(session, a, JobSubmit(type="diagnostics.noop")).id
    assert WorkerLoop(runtime, new_worker_id("test")).run_one()  # runs the only queued job
    with runtime.session() as session:
        assert jobs.get_job(session, a, succeeded).status == JobStatus.succeeded
        queued = jobs.submit_job(session, a, JobSubmit(type="diagnostics.noop")).id
        cancelled = jobs.submit_job(session, a, JobSubmit(type="diagnostics.noop")).id
        jobs.cancel_job(session, a, cancelled)
        revoked = identity.create_token(session, a, a.user_id, TokenCreate(name="old"))
        identity.revoke_token(session, a, revoked.id)
        operator = world.operator.actor
        disabled = identity.create_user(session, operator, UserCreate(email="gone@a.test", org_id=world.org_a))
        disabled_token = identity.create_token(session, operator, disabled.id, TokenCreate()).token
        identity.update_user(session, operator, disabled.id, UserUpdate(disabled=True))
    return {
        "org_a": world.org_a,
        "org_b": world.org_b,
        "a_admin": world.a_admin.actor.user_id,
        "a_member": world.a_member.actor.user_id,
        "queued_job": queued,
        "cancelled_job": cancelled,
        "succeeded_job": succeeded,
        "revoked_token": revoked.token,
        "disabled_token": disabled_token,
        "missing_org": new_id("org"),
        "missing_user": new_id("usr"),
        "missing_token": new_id("tok"),
        "missing_job": new_id("job"),
        "long_email": "x" * 290 + "@a.test",
        "name_101": "n" * 101,
    }


def _send(client: Any, world: Any, case: Bad, names: dict[str, str]) -> Any:
    headers = {**auth(getattr(world, case.who))} if case.who else {}
    headers.update(_fill(case.headers, names))
    kwargs: dict[str, Any] = {"headers": headers}
    if case.json is not NO_BODY:
        kwargs["json"] = _fill(case.json, names)
    if case.content is not None:
        kwargs["content"] = case.content  # raw bytes: not a template
        headers.setdefault("content-type", "application/json")
    return client.request(case.method, API + _fill(case.path, names), **kwargs)


def _check(response: Any, case: Bad, names: dict[str, str]) -> dict[str, Any]:
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message"} <= set(error), body
    assert error["code"] == case.code, body
    assert isinstance(error["message"], str) and error["message"].strip()
    for mention in _fill(list(case.mentions), names):
        assert mention in error["message"], f"{mention!r} is not named in {error['message']!r}"
    return error


def _run(client: Any, world: Any, runtime: Any, names: dict[str, str], case: Bad) -> dict[str, Any]:
    before = db_state(runtime)
    response = _send(client, world, case, names)
    error = _check(response, case, names)
    if case.status == 401:
        assert response.headers.get("www-authenticate") == "Bearer", response.headers
    assert_db_unchanged(before, db_state(runtime))
    return error


# --- malformed JSON and the wrong shape of body ----------------------------------------------------

MALFORMED = {
    "truncated_object": Bad("POST", "/orgs", 400, "malformed_json", ("not valid JSON",), content='{"name": "C", '),
    "unquoted_keys": Bad("POST", "/jobs", 400, "malformed_json", ("not valid JSON",), content="{type: noop}"),
    "bad_literal": Bad(
        "PATCH", "/users/{a_member}", 400, "malformed_json", ("not valid JSON",), content='{"disabled": tru}'
    ),
    "trailing_garbage": Bad(
        "POST", "/tokens", 400, "malformed_json", ("not valid JSON",), content='{"name": "t"} extra', who="a_member"
    ),
    "array_not_object": Bad("POST", "/orgs", 422, "invalid", ("body", "dictionary"), json=[{"name": "C"}]),
    "string_not_object": Bad("POST", "/jobs", 422, "invalid", ("body", "dictionary"), json="diagnostics.noop"),
    "empty_body": Bad("POST", "/orgs", 422, "invalid", ("body", "required"), content=""),
    "no_body": Bad("POST", "/users", 422, "invalid", ("body", "required")),
}

# --- wrong types -------------------------------------------------------------------------------------

WRONG_TYPES = {
    "org_kind_int": Bad("POST", "/orgs", 422, "invalid", ("kind",), json={"name": "Org C", "kind": 5}),
    "org_name_int": Bad("POST", "/orgs", 422, "invalid", ("name", "string"), json={"name": 5, "kind": "lab"}),
    "org_name_null": Bad("POST", "/orgs", 422, "invalid", ("name",), json={"name": None, "kind": "lab"}),
    "job_max_attempts_str": Bad(
        "POST",
        "/jobs",
        422,
        "invalid",
        ("max_attempts", "integer"),
        json={"type": "diagnostics.noop", "max_attempts": "x"},
    ),
    "job_max_attempts_float": Bad(
        "POST", "/jobs", 422, "invalid", ("max_attempts",), json={"type": "diagnostics.noop", "max_attempts": 1.5}
    ),
    "job_max_attempts_zero": Bad(
        "POST", "/jobs", 422, "invalid", ("max_attempts", "1"), json={"type": "diagnostics.noop", "max_attempts": 0}
    ),
    "job_max_attempts_21": Bad(
        "POST", "/jobs", 422, "invalid", ("max_attempts", "20"), json={"type": "diagnostics.noop", "max_attempts": 21}
    ),
    "job_params_str": Bad(
        "POST", "/jobs", 422, "invalid", ("params", "dictionary"), json={"type": "diagnostics.noop", "params": "x=1"}
    ),
    "job_type_list": Bad("POST", "/jobs", 422, "invalid", ("type", "string"), json={"type": ["diagnostics.noop"]}),
    "job_type_missing": Bad("POST", "/jobs", 422, "invalid", ("type", "required"), json={"params": {}}),
    "user_disabled_str": Bad(
        "PATCH", "/users/{a_member}", 422, "invalid", ("disabled", "boolean"), json={"disabled": "maybe"}
    ),
    "user_roles_str": Bad(
        "POST",
        "/users",
        422,
        "invalid",
        ("platform_roles", "list"),
        json={"email": "new@a.test", "org_id": "{org_a}", "platform_roles": "reviewer"},
    ),
    "user_email_int": Bad("POST", "/users", 422, "invalid", ("email",), json={"email": 7, "org_id": "{org_a}"}),
    "user_org_missing": Bad("POST", "/users", 422, "invalid", ("org_id", "required"), json={"email": "new@a.test"}),
    "token_name_bool": Bad("POST", "/tokens", 422, "invalid", ("name", "string"), json={"name": True}, who="a_member"),
    "limit_not_int": Bad("GET", "/jobs?limit=abc", 422, "invalid", ("limit", "integer")),
}

# --- unknown enum values -----------------------------------------------------------------------------

UNKNOWN_ENUMS = {
    "org_kind": Bad(
        "POST", "/orgs", 422, "invalid", ("kind", "'enterprise'"), json={"name": "Org C", "kind": "castle"}
    ),
    "org_kind_case": Bad("POST", "/orgs", 422, "invalid", ("kind",), json={"name": "Org C", "kind": "LAB"}),
    "org_visibility": Bad(
        "POST",
        "/orgs",
        422,
        "invalid",
        ("visibility", "'public'"),
        json={"name": "Org C", "kind": "lab", "visibility": "secret"},
    ),
    "org_create_shared": Bad(
        "POST",
        "/orgs",
        422,
        "invalid",
        ("visibility", "'shared'"),
        json={"name": "Org C", "kind": "lab", "visibility": "shared"},
    ),
    "org_visibility_shared": Bad(
        "PATCH", "/orgs/{org_a}", 422, "invalid", ("visibility", "shared"), json={"visibility": "shared"}
    ),
    "user_org_role": Bad(
        "POST",
        "/users",
        422,
        "invalid",
        ("org_role", "'admin'"),
        json={"email": "new@a.test", "org_id": "{org_a}", "org_role": "king"},
    ),
    "user_platform_role": Bad(
        "POST",
        "/users",
        422,
        "invalid",
        ("platform_roles", "'operator'"),
        json={"email": "new@a.test", "org_id": "{org_a}", "platform_roles": ["god"]},
    ),
    "user_update_org_role": Bad(
        "PATCH", "/users/{a_member}", 422, "invalid", ("org_role",), json={"org_role": "owner"}
    ),
    "job_visibility": Bad(
        "POST", "/jobs", 422, "invalid", ("visibility",), json={"type": "diagnostics.noop", "visibility": "everyone"}
    ),
    "job_list_status": Bad("GET", "/jobs?status=done", 422, "invalid", ("status", "'succeeded'")),
}

# --- over-long and empty strings -----------------------------------------------------------------------

TOO_LONG = {
    "org_name_101": Bad("POST", "/orgs", 422, "invalid", ("name", "100"), json={"name": "{name_101}", "kind": "lab"}),
    "org_name_blank": Bad("POST", "/orgs", 422, "invalid", ("name",), json={"name": "   ", "kind": "lab"}),
    "org_rename_101": Bad("PATCH", "/orgs/{org_a}", 422, "invalid", ("name", "100"), json={"name": "{name_101}"}),
    "email_300": Bad(
        "POST", "/users", 422, "invalid", ("email", "254"), json={"email": "{long_email}", "org_id": "{org_a}"}
    ),
    "email_not_email": Bad(
        "POST", "/users", 422, "invalid", ("email",), json={"email": "not-an-email", "org_id": "{org_a}"}
    ),
    "display_name_101": Bad(
        "POST",
        "/users",
        422,
        "invalid",
        ("display_name", "100"),
        json={"email": "new@a.test", "org_id": "{org_a}", "display_name": "{name_101}"},
    ),
    "org_id_41": Bad(
        "POST", "/users", 422, "invalid", ("org_id", "40"), json={"email": "new@a.test", "org_id": "o" * 41}
    ),
    "token_name_101": Bad(
        "POST", "/tokens", 422, "invalid", ("name", "100"), json={"name": "{name_101}"}, who="a_member"
    ),
    "user_token_name_empty": Bad("POST", "/users/{a_member}/tokens", 422, "invalid", ("name",), json={"name": ""}),
    "job_type_101": Bad("POST", "/jobs", 422, "invalid", ("type", "100"), json={"type": "t" * 101}),
    "job_type_empty": Bad("POST", "/jobs", 422, "invalid", ("type",), json={"type": ""}),
    "cursor_41": Bad("GET", "/orgs?cursor=" + "c" * 41, 422, "invalid", ("cursor", "40")),
    "audit_action_61": Bad("GET", "/audit?action=" + "a" * 61, 422, "invalid", ("action", "60")),
}

# --- unknown extra fields (extra="forbid") ---------------------------------------------------------------

EXTRA_FIELDS = {
    "org_owner": Bad(
        "POST", "/orgs", 422, "invalid", ("owner", "Extra inputs"), json={"name": "Org C", "kind": "lab", "owner": "me"}
    ),
    "org_update_kind": Bad("PATCH", "/orgs/{org_a}", 422, "invalid", ("kind", "Extra inputs"), json={"kind": "lab"}),
    "user_is_operator": Bad(
        "POST",
        "/users",
        422,
        "invalid",
        ("is_operator", "Extra inputs"),
        json={"email": "new@a.test", "org_id": "{org_a}", "is_operator": True},
    ),
    "user_update_email": Bad(
        "PATCH", "/users/{a_member}", 422, "invalid", ("email", "Extra inputs"), json={"email": "n@a.test"}
    ),
    "user_update_org": Bad(
        "PATCH", "/users/{a_member}", 422, "invalid", ("org_id", "Extra inputs"), json={"org_id": "{org_b}"}
    ),
    "token_secret": Bad(
        "POST",
        "/tokens",
        422,
        "invalid",
        ("token", "Extra inputs"),
        json={"name": "t", "token": "aic_mine"},
        who="a_member",
    ),
    "job_priority": Bad(
        "POST", "/jobs", 422, "invalid", ("priority", "Extra inputs"), json={"type": "diagnostics.noop", "priority": 9}
    ),
    "job_org_id": Bad(
        "POST",
        "/jobs",
        422,
        "invalid",
        ("org_id", "Extra inputs"),
        json={"type": "diagnostics.noop", "org_id": "{org_b}"},
    ),
}

# --- unknown ids ---------------------------------------------------------------------------------------

UNKNOWN_IDS = {
    f"{who}_{key}": Bad(method, path, 404, "not_found", (kind, "{" + ident + "}"), json=body, who=who)
    for who in ("operator", "a_admin")
    for key, (method, path, body, kind, ident) in {
        "get_org": ("GET", "/orgs/{missing_org}", NO_BODY, "org", "missing_org"),
        "patch_org": ("PATCH", "/orgs/{missing_org}", {"name": "Org Z"}, "org", "missing_org"),
        "get_user": ("GET", "/users/{missing_user}", NO_BODY, "user", "missing_user"),
        "patch_user": ("PATCH", "/users/{missing_user}", {"disabled": True}, "user", "missing_user"),
        "user_tokens": ("GET", "/users/{missing_user}/tokens", NO_BODY, "user", "missing_user"),
        "create_user_token": ("POST", "/users/{missing_user}/tokens", {"name": "t"}, "user", "missing_user"),
        "revoke_token": ("DELETE", "/tokens/{missing_token}", NO_BODY, "token", "missing_token"),
        "user_in_missing_org": (
            "POST",
            "/users",
            {"email": "new@a.test", "org_id": "{missing_org}"},
            "organisation",
            "missing_org",
        ),
        "get_job": ("GET", "/jobs/{missing_job}", NO_BODY, "job", "missing_job"),
        "job_logs": ("GET", "/jobs/{missing_job}/logs", NO_BODY, "job", "missing_job"),
        "cancel_job": ("POST", "/jobs/{missing_job}/cancel", NO_BODY, "job", "missing_job"),
        "retry_job": ("POST", "/jobs/{missing_job}/retry", NO_BODY, "job", "missing_job"),
    }.items()
} | {
    "no_such_route": Bad("GET", "/nothing-here", 404, "not_found", ("Not Found",)),
    "method_not_allowed": Bad("PUT", "/orgs", 405, "method_not_allowed", ("Method Not Allowed",), json={}),
}

# --- conflicts -----------------------------------------------------------------------------------------

CONFLICTS = {
    "org_name_lower": Bad(
        "POST", "/orgs", 409, "conflict", ("org a", "already exists"), json={"name": "org a", "kind": "lab"}
    ),
    "org_name_upper_padded": Bad(
        "POST", "/orgs", 409, "conflict", ("ORG B", "already exists"), json={"name": "  ORG B  ", "kind": "university"}
    ),
    "org_rename_taken": Bad(
        "PATCH", "/orgs/{org_a}", 409, "conflict", ("oRG b", "already exists"), json={"name": "oRG b"}
    ),
    "user_email_upper": Bad(
        "POST",
        "/users",
        409,
        "conflict",
        ("admin@a.test", "already exists"),
        json={"email": "ADMIN@A.test", "org_id": "{org_a}"},
    ),
    "user_email_other_org": Bad(
        "POST",
        "/users",
        409,
        "conflict",
        ("member@b.test", "already exists"),
        json={"email": " member@b.test ", "org_id": "{org_a}"},
    ),
    "cancel_succeeded": Bad(
        "POST", "/jobs/{succeeded_job}/cancel", 409, "conflict", ("{succeeded_job}", "succeeded"), who="a_member"
    ),
    "cancel_cancelled": Bad(
        "POST", "/jobs/{cancelled_job}/cancel", 409, "conflict", ("{cancelled_job}", "cancelled"), who="a_admin"
    ),
    "retry_queued": Bad(
        "POST", "/jobs/{queued_job}/retry", 409, "conflict", ("{queued_job}", "queued"), who="a_member"
    ),
    "retry_succeeded": Bad(
        "POST", "/jobs/{succeeded_job}/retry", 409, "conflict", ("{succeeded_job}", "succeeded"), who="a_member"
    ),
}

# --- job types and their params ------------------------------------------------------------------------

JOB_SPECS = {
    "unknown_type": Bad(
        "POST",
        "/jobs",
        422,
        "invalid",
        ("diagnostics.nope", "diagnostics.noop", "diagnostics.sleep"),
        json={"type": "diagnostics.nope"},
    ),
    "sleep_steps_negative": Bad(
        "POST",
        "/jobs",
        422,
        "invalid",
        ("steps", "diagnostics.sleep"),
        json={"type": "diagnostics.sleep", "params": {"steps": -1}},
    ),
    "sleep_steps_str": Bad(
        "POST", "/jobs", 422, "invalid", ("steps",), json={"type": "diagnostics.sleep", "params": {"steps": "many"}}
    ),
    "sleep_seconds_too_long": Bad(
        "POST",
        "/jobs",
        422,
        "invalid",
        ("seconds", "600"),
        json={"type": "diagnostics.sleep", "params": {"seconds": 601}},
    ),
    "sleep_unknown_param": Bad(
        "POST", "/jobs", 422, "invalid", ("stepz",), json={"type": "diagnostics.sleep", "params": {"stepz": 3}}
    ),
    "noop_unknown_param": Bad(
        "POST",
        "/jobs",
        422,
        "invalid",
        ("x", "diagnostics.noop"),
        json={"type": "diagnostics.noop", "params": {"x": 1}},
    ),
}

# --- limits and cursors --------------------------------------------------------------------------------

LIMITS = {
    f"{path.strip('/').split('?')[0]}_limit_{limit}": Bad(
        "GET", f"{path}?limit={limit}", 422, "invalid", ("limit",), who="a_admin"
    )
    for path in ("/orgs", "/users", "/jobs", "/audit")
    for limit in (0, 1000, -1)
} | {
    "audit_cursor_not_number": Bad("GET", "/audit?cursor=abc", 422, "invalid", ("cursor", "'abc'"), who="a_admin"),
}

# --- authentication ------------------------------------------------------------------------------------

_UNAUTH = ("unauthenticated",)
AUTH = {
    "missing": Bad("GET", "/me", 401, *_UNAUTH, ("Authorization: Bearer",), who=None),
    "missing_on_submit": Bad("POST", "/jobs", 401, *_UNAUTH, ("Bearer",), json={"type": "diagnostics.noop"}, who=None),
    "basic_scheme": Bad(
        "GET", "/me", 401, *_UNAUTH, ("Bearer",), headers={"Authorization": "Basic dXNlcjpwYXNz"}, who=None
    ),
    "empty_bearer": Bad("GET", "/me", 401, *_UNAUTH, ("Bearer",), headers={"Authorization": "Bearer"}, who=None),
    "not_a_token": Bad(
        "GET", "/me", 401, *_UNAUTH, ("malformed", "aic_"), headers={"Authorization": "Bearer hunter2"}, who=None
    ),
    "too_long": Bad(
        "GET", "/me", 401, *_UNAUTH, ("malformed",), headers={"Authorization": "Bearer aic_" + "x" * 300}, who=None
    ),
    "unknown_token": Bad(
        "GET",
        "/jobs",
        401,
        *_UNAUTH,
        ("unknown or revoked",),
        headers={"Authorization": "Bearer aic_" + "x" * 43},
        who=None,
    ),
    "revoked_token": Bad(
        "POST",
        "/jobs",
        401,
        *_UNAUTH,
        ("unknown or revoked",),
        json={"type": "diagnostics.noop"},
        headers={"Authorization": "Bearer {revoked_token}"},
        who=None,
    ),
    "disabled_user": Bad(
        "POST",
        "/tokens",
        401,
        *_UNAUTH,
        ("disabled",),
        json={"name": "again"},
        headers={"Authorization": "Bearer {disabled_token}"},
        who=None,
    ),
}

ALL_CASES = {
    f"{group}-{name}": case
    for group, cases in {
        "malformed": MALFORMED,
        "type": WRONG_TYPES,
        "enum": UNKNOWN_ENUMS,
        "long": TOO_LONG,
        "extra": EXTRA_FIELDS,
        "id": UNKNOWN_IDS,
        "conflict": CONFLICTS,
        "job": JOB_SPECS,
        "limit": LIMITS,
        "auth": AUTH,
    }.items()
    for name, case in cases.items()
}


@pytest.mark.parametrize("case", list(ALL_CASES.values()), ids=list(ALL_CASES))
def test_bad_request_is_a_clear_4xx_and_changes_nothing(client, world, runtime, names, case):
    error = _run(client, world, runtime, names, case)
    if case.code == "invalid" and "fields" in error:
        assert error["fields"] and all({"loc", "msg", "type"} <= set(f) for f in error["fields"])


def test_the_good_twins_of_bad_requests_work(client, world, runtime, names):
    """A few of the cases above with the problem removed: the 4xx came from the problem."""
    op, member = auth(world.operator), auth(world.a_member)
    assert client.post(f"{API}/orgs", json={"name": "Org C", "kind": "lab"}, headers=op).status_code == 201
    assert (
        client.post(f"{API}/users", json={"email": "new@a.test", "org_id": world.org_a}, headers=op).status_code == 201
    )
    submitted = client.post(
        f"{API}/jobs", json={"type": "diagnostics.sleep", "params": {"steps": 1}, "max_attempts": 20}, headers=member
    )
    assert submitted.status_code == 201, submitted.text
    assert client.post(f"{API}/jobs/{submitted.json()['id']}/cancel", headers=member).status_code == 200
    assert client.post(f"{API}/jobs/{names['cancelled_job']}/retry", headers=member).status_code == 200
    assert client.get(f"{API}/jobs?limit=200", headers=member).status_code == 200
    assert client.get(f"{API}/audit?limit=1", headers=auth(world.a_admin)).status_code == 200
    assert client.patch(f"{API}/orgs/{world.org_a}", json={"visibility": "public"}, headers=op).status_code == 200
    assert client.post(f"{API}/tokens", json={"name": "n" * 100}, headers=member).status_code == 201


# --- the same checks without HTTP ----------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1, 201, 1000])
@pytest.mark.parametrize(
    "listing",
    [
        lambda s, a, **p: identity.list_orgs(s, a, **p),
        lambda s, a, **p: identity.list_users(s, a, **p),
        lambda s, a, **p: jobs.list_jobs(s, a, **p),
        lambda s, a, **p: audit.list_entries(s, a, **p),
    ],
    ids=["list_orgs", "list_users", "list_jobs", "list_entries"],
)
def test_services_reject_bad_limits(world, runtime, listing, limit):
    before = db_state(runtime)
    with pytest.raises(Invalid) as caught, runtime.session() as session:
        listing(session, world.a_admin.actor, limit=limit)
    assert "'limit'" in caught.value.message and repr(limit) in caught.value.message
    assert_db_unchanged(before, db_state(runtime))


def test_services_reject_bad_job_specs(world, runtime):
    before = db_state(runtime)
    for spec, mentions in [
        (JobSubmit(type="diagnostics.nope"), ("diagnostics.nope", "diagnostics.noop")),
        (JobSubmit(type="diagnostics.sleep", params={"steps": -1}), ("steps",)),
    ]:
        with pytest.raises(Invalid) as caught, runtime.session() as session:
            jobs.submit_job(session, world.a_member.actor, spec)
        assert all(m in caught.value.message for m in mentions), caught.value.message
    assert_db_unchanged(before, db_state(runtime))


def test_an_unexpected_error_is_a_json_500_and_the_transaction_is_rolled_back(runtime, world, monkeypatch):
    from fastapi.testclient import TestClient

    from aicommons.api.app import create_app

    def write_then_crash(session, actor, spec):
        audit.record(session, actor, "test.partial", "job", "job_x", org_id=actor.org_id)
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs, "submit_job", write_then_crash)  # a bug that cannot be provoked otherwise
    before = db_state(runtime)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        response = client.post("/api/v1/jobs", json={"type": "diagnostics.noop"}, headers=auth(world.a_member))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal"
    assert_db_unchanged(before, db_state(runtime))


def test_a_body_that_is_not_json_at_all_is_named_as_such(client, world, runtime):
    before = db_state(runtime)
    response = client.post(
        "/api/v1/jobs", content="type=diagnostics.noop", headers={**auth(world.a_member), "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert "Content-Type: application/json" in response.json()["error"]["message"]
    assert_db_unchanged(before, db_state(runtime))
