"""The isolation matrix: org A cannot read, list, change or run org B's private things.

Every kind the kernel has (org, user, token, job, audit entry) is checked twice: over HTTP, where
another org's private thing is 404 (never 403: existence must not leak, so the answer equals the
one for an id that never existed), and in the service functions, which raise NotFound. The
positive side is checked too, so these tests can fail: B sees its own things, and what B makes
public A may read but not change (403, since A can see it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from support import assert_db_unchanged, auth, db_state

from aicommons.core import audit, identity, jobs
from aicommons.core.errors import Forbidden, NotFound
from aicommons.core.ids import new_id
from aicommons.core.jobs.worker import flush_log
from aicommons.core.schemas import JobSubmit, OrgCreate, OrgUpdate, TokenCreate, UserCreate, UserUpdate

API = "/api/v1"
B_SECRET_LOG = "B's confidential log line"
A_SIDE = ["a_admin", "a_member"]
# What a NotFound message calls each of BThings' ids.
KINDS = {"org": "org", "admin": "user", "member": "user", "token": "token"} | {
    name: "job" for name in ("job", "shared_job", "cancelled_job", "public_job", "public_cancelled_job")
}


@dataclass
class BThings:
    """What org B owns, by id."""

    org: str
    admin: str
    member: str
    token: str  # b_member's token
    job: str  # private, queued, with a log
    shared_job: str  # `shared`, but with no org: private to everyone else
    cancelled_job: str  # private and cancelled, so B could retry it
    public_job: str  # public, queued
    public_cancelled_job: str

    def ids(self) -> dict[str, str]:
        return dict(vars(self))


def _call(client: Any, member: Any, method: str, path: str, body: Any = None) -> Any:
    return client.request(method, API + path, json=body, headers=auth(member))


def _submit(client: Any, member: Any, **spec: Any) -> str:
    response = _call(client, member, "POST", "/jobs", {"type": "diagnostics.noop", **spec})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _cancel(client: Any, member: Any, job_id: str) -> None:
    response = _call(client, member, "POST", f"/jobs/{job_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"


@pytest.fixture
def b(client, world, runtime) -> BThings:
    job = _submit(client, world.b_member)
    with runtime.session() as session:
        flush_log(session, runtime, job, B_SECRET_LOG + "\n")
    cancelled_job = _submit(client, world.b_member)
    _cancel(client, world.b_member, cancelled_job)
    public_cancelled_job = _submit(client, world.b_member, visibility="public")
    _cancel(client, world.b_member, public_cancelled_job)
    tokens = _call(client, world.b_member, "GET", "/tokens").json()
    assert len(tokens) == 1
    return BThings(
        org=world.org_b,
        admin=world.b_admin.actor.user_id,
        member=world.b_member.actor.user_id,
        token=tokens[0]["id"],
        job=job,
        shared_job=_submit(client, world.b_member, visibility="shared"),
        cancelled_job=cancelled_job,
        public_job=_submit(client, world.b_member, visibility="public"),
        public_cancelled_job=public_cancelled_job,
    )


def _pages(client: Any, member: Any, path: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every item of a paged list, following `next_cursor`."""
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(API + path, params=query, headers=auth(member))
        assert response.status_code == 200, response.text
        page = response.json()
        yield from page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return


def _service_pages(list_page: Callable[..., Any]) -> Iterator[Any]:
    cursor = None
    while True:
        page = list_page(limit=2, cursor=cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


# --- HTTP: B's private things are 404 to A, exactly like things that never existed ------------------

# (method, path, body): `{name}` is one of BThings' ids; the first id in the path is the one
# swapped for a fresh id to get the "never existed" answer.
PRIVATE_REQUESTS = [
    ("GET", "/orgs/{org}", None),
    ("PATCH", "/orgs/{org}", {"name": "Taken over"}),
    ("PATCH", "/orgs/{org}", {"visibility": "public"}),
    ("GET", "/users/{admin}", None),
    ("GET", "/users/{member}", None),
    ("PATCH", "/users/{member}", {"disabled": True}),
    ("PATCH", "/users/{member}", {"org_role": "admin"}),
    ("GET", "/users/{member}/tokens", None),
    ("POST", "/users/{member}/tokens", {"name": "stolen"}),
    ("DELETE", "/tokens/{token}", None),
    ("GET", "/jobs/{job}", None),
    ("GET", "/jobs/{job}/logs", None),
    ("POST", "/jobs/{job}/cancel", None),
    ("POST", "/jobs/{job}/retry", None),
    ("GET", "/jobs/{shared_job}", None),
    ("GET", "/jobs/{shared_job}/logs", None),
    ("POST", "/jobs/{shared_job}/cancel", None),
    ("GET", "/jobs/{cancelled_job}", None),
    ("POST", "/jobs/{cancelled_job}/retry", None),
]


@pytest.mark.parametrize("who", A_SIDE)
@pytest.mark.parametrize(("method", "path", "body"), PRIVATE_REQUESTS, ids=lambda v: v if isinstance(v, str) else "")
def test_b_private_thing_is_404_to_a_over_http(client, world, runtime, b, who, method, path, body):
    member = getattr(world, who)
    name = path.split("{")[1].split("}")[0]
    real, fake = getattr(b, name), new_id(getattr(b, name).split("_")[0])
    before = db_state(runtime)

    response = _call(client, member, method, path.format(**b.ids()), body)
    never_existed = _call(client, member, method, path.format(**{**b.ids(), name: fake}), body)

    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert real in response.json()["error"]["message"]
    assert f"No {KINDS[name]}" in response.json()["error"]["message"], "the message names the wrong kind"
    assert never_existed.status_code == 404, never_existed.text
    assert response.json()["error"]["message"].replace(real, "?") == never_existed.json()["error"]["message"].replace(
        fake, "?"
    ), "the answer tells B's thing apart from one that never existed"
    assert_db_unchanged(before, db_state(runtime))


@pytest.mark.parametrize("who", A_SIDE)
def test_a_cannot_add_a_user_to_org_b(client, world, runtime, b, who):
    fake = new_id("org")
    before = db_state(runtime)
    response = _call(client, getattr(world, who), "POST", "/users", {"email": "mole@a.test", "org_id": b.org})
    never_existed = _call(client, getattr(world, who), "POST", "/users", {"email": "mole@a.test", "org_id": fake})
    assert response.status_code == 404, response.text
    assert never_existed.status_code == 404, never_existed.text
    message, never_message = response.json()["error"]["message"], never_existed.json()["error"]["message"]
    assert b.org in message and message.replace(b.org, "?") == never_message.replace(fake, "?")
    assert_db_unchanged(before, db_state(runtime))


def test_b_still_works_after_a_tried_everything(client, world, b):
    """After the matrix's attempts (run here once more) B's things are as B left them."""
    for method, path, body in PRIVATE_REQUESTS:
        _call(client, world.a_admin, method, path.format(**b.ids()), body)
    assert _call(client, world.b_member, "GET", "/me").status_code == 200  # token not revoked
    assert _call(client, world.b_admin, "GET", f"/jobs/{b.job}").json()["status"] == "queued"
    assert _call(client, world.b_admin, "GET", f"/jobs/{b.cancelled_job}").json()["status"] == "cancelled"
    assert _call(client, world.b_admin, "GET", f"/users/{b.member}").json()["disabled_at"] is None
    assert _call(client, world.b_admin, "GET", f"/orgs/{b.org}").json()["name"] == "Org B"


# --- HTTP: the positive side -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["b_admin", "b_member"])
@pytest.mark.parametrize(
    "path",
    ["/orgs/{org}", "/users/{admin}", "/users/{member}", "/jobs/{job}", "/jobs/{shared_job}", "/jobs/{job}/logs"],
)
def test_b_reads_its_own_things(client, world, b, who, path):
    response = _call(client, getattr(world, who), "GET", path.format(**b.ids()))
    assert response.status_code == 200, response.text
    if path.endswith("/logs"):
        assert B_SECRET_LOG in response.text


def test_b_admin_manages_b_tokens_and_users(client, world, b):
    tokens = _call(client, world.b_admin, "GET", f"/users/{b.member}/tokens")
    assert tokens.status_code == 200 and [t["id"] for t in tokens.json()] == [b.token]
    created = _call(client, world.b_admin, "POST", f"/users/{b.member}/tokens", {"name": "second"})
    assert created.status_code == 201, created.text
    revoked = _call(client, world.b_admin, "DELETE", f"/tokens/{created.json()['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None


@pytest.mark.parametrize("who", A_SIDE)
@pytest.mark.parametrize("path", ["/jobs/{public_job}", "/jobs/{public_job}/logs", "/jobs/{public_cancelled_job}"])
def test_b_public_job_is_readable_by_a(client, world, b, who, path):
    response = _call(client, getattr(world, who), "GET", path.format(**b.ids()))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("who", A_SIDE)
@pytest.mark.parametrize(
    ("action", "job", "status"),
    [
        ("cancel", "public_job", "queued"),
        ("retry", "public_cancelled_job", "cancelled"),
        ("cancel", "public_cancelled_job", "cancelled"),
    ],
)
def test_a_cannot_change_b_public_job(client, world, runtime, b, who, action, job, status):
    before = db_state(runtime)
    job_id = getattr(b, job)
    response = _call(client, getattr(world, who), "POST", f"/jobs/{job_id}/{action}")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"
    assert job_id in response.json()["error"]["message"]
    assert_db_unchanged(before, db_state(runtime))
    assert _call(client, world.b_member, "GET", f"/jobs/{job_id}").json()["status"] == status


def test_public_org_is_readable_by_a_but_its_users_are_not(client, world, b):
    made_public = _call(client, world.operator, "PATCH", f"/orgs/{b.org}", {"visibility": "public"})
    assert made_public.status_code == 200, made_public.text
    assert _call(client, world.a_member, "GET", f"/orgs/{b.org}").status_code == 200
    assert b.org in {o["id"] for o in _pages(client, world.a_member, "/orgs")}
    change = _call(client, world.a_admin, "PATCH", f"/orgs/{b.org}", {"name": "Taken over"})
    assert change.status_code == 403, change.text
    assert _call(client, world.a_admin, "GET", f"/users/{b.member}").status_code == 404
    assert not list(_pages(client, world.a_admin, "/users", org_id=b.org))


# --- HTTP: lists never contain B's private things ------------------------------------------------------


@pytest.mark.parametrize("who", A_SIDE)
def test_org_list_hides_private_org_b(client, world, b, who):
    seen = {o["id"] for o in _pages(client, getattr(world, who), "/orgs", limit=1)}
    assert b.org not in seen
    assert world.org_a in seen
    assert b.org in {o["id"] for o in _pages(client, world.b_member, "/orgs")}
    assert {world.org_a, b.org} <= {o["id"] for o in _pages(client, world.operator, "/orgs")}


@pytest.mark.parametrize("who", A_SIDE)
@pytest.mark.parametrize("of_org_b", [False, True], ids=["all", "org_id_b"])
def test_user_list_hides_b_users(client, world, b, who, of_org_b):
    query = {"org_id": b.org} if of_org_b else {}
    seen = {u["id"] for u in _pages(client, getattr(world, who), "/users", limit=1, **query)}
    assert not seen & {b.admin, b.member}
    if not query:
        assert {world.a_admin.actor.user_id, world.a_member.actor.user_id} <= seen
    assert {b.admin, b.member} <= {u["id"] for u in _pages(client, world.b_member, "/users")}


@pytest.mark.parametrize("who", A_SIDE)
def test_own_token_list_is_only_own_tokens(client, world, b, who):
    member = getattr(world, who)
    tokens = _call(client, member, "GET", "/tokens").json()
    assert b.token not in {t["id"] for t in tokens}
    assert {t["user_id"] for t in tokens} == {member.actor.user_id}


@pytest.mark.parametrize("who", A_SIDE)
@pytest.mark.parametrize("query", [{}, {"status": "queued"}, {"status": "cancelled"}, {"type": "diagnostics.noop"}])
def test_job_list_hides_b_private_jobs(client, world, b, who, query):
    own = _submit(client, getattr(world, who))
    seen = {j["id"] for j in _pages(client, getattr(world, who), "/jobs", limit=1, **query)}
    assert not seen & {b.job, b.shared_job, b.cancelled_job}
    public = {b.public_job} if query.get("status") != "cancelled" else {b.public_cancelled_job}
    assert public <= seen
    b_seen = {j["id"] for j in _pages(client, world.b_admin, "/jobs", **query)}
    assert own not in b_seen
    if not query:
        assert {b.job, b.shared_job, b.cancelled_job, b.public_job, b.public_cancelled_job} <= b_seen


# --- HTTP: the audit log ------------------------------------------------------------------------------


def test_a_admin_audit_never_shows_b_entries(client, world, b):
    b_entries = list(_pages(client, world.b_admin, "/audit", limit=7))
    b_resources = {e["resource_id"] for e in b_entries if e["org_id"] == b.org}
    assert {b.job, b.cancelled_job, b.token, b.member} <= b_resources  # so the check below can fail
    entries = list(_pages(client, world.a_admin, "/audit", limit=3))
    assert entries and {e["org_id"] for e in entries} == {world.org_a}
    assert not {e["resource_id"] for e in entries} & (b_resources | {b.org})
    assert any(e["org_id"] == b.org for e in _pages(client, world.operator, "/audit"))


@pytest.mark.parametrize("name", ["org", "member", "token", "job", "cancelled_job"])
@pytest.mark.parametrize("action", [None, "job.submit", "job.cancel", "user.create", "token.create"])
def test_a_admin_audit_filter_finds_nothing_of_b(client, world, b, name, action):
    query = {"resource_id": getattr(b, name), **({"action": action} if action else {})}
    assert not list(_pages(client, world.a_admin, "/audit", **query))


def test_b_admin_audit_filter_finds_b_entries(client, world, b):
    actions = [e["action"] for e in _pages(client, world.b_admin, "/audit", resource_id=b.cancelled_job)]
    assert actions == ["job.cancel", "job.submit"]


@pytest.mark.parametrize("who", ["a_member", "b_member"])
def test_members_may_not_read_the_audit_log(client, world, who):
    response = _call(client, getattr(world, who), "GET", "/audit")
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("who", "status"), [("a_admin", 403), ("a_member", 403), ("b_admin", 403), ("operator", 200)])
def test_audit_verify_is_operator_only(client, world, b, who, status):
    response = _call(client, getattr(world, who), "GET", "/audit/verify")
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["ok"] is True and response.json()["checked"] > 0


# --- HTTP: roles inside A --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "method", "path", "body"),
    [
        ("a_member", "POST", "/users", {"email": "new@a.test", "org_id": "{org_a}"}),
        ("a_member", "POST", "/users", {"email": "new@a.test", "org_id": "{org_a}", "org_role": "admin"}),
        ("a_admin", "POST", "/users", {"email": "new@a.test", "org_id": "{org_a}", "platform_roles": ["operator"]}),
        ("a_admin", "POST", "/users", {"email": "new@a.test", "org_id": "{org_a}", "platform_roles": ["reviewer"]}),
        ("a_admin", "PATCH", "/users/{a_member}", {"platform_roles": ["operator"]}),
        ("a_admin", "PATCH", "/users/{a_admin}", {"platform_roles": ["reviewer"]}),
        ("a_member", "PATCH", "/users/{a_member}", {"org_role": "admin"}),
        ("a_member", "PATCH", "/users/{a_admin}", {"disabled": True}),
        ("a_member", "PATCH", "/orgs/{org_a}", {"visibility": "public"}),
        ("a_member", "GET", "/users/{a_admin}/tokens", None),
        ("a_member", "POST", "/users/{a_admin}/tokens", {"name": "borrowed"}),
        ("a_admin", "POST", "/orgs", {"name": "Org C", "kind": "lab"}),
        ("a_member", "POST", "/orgs", {"name": "Org C", "kind": "lab"}),
    ],
)
def test_roles_inside_a_are_enforced(client, world, runtime, who, method, path, body):
    names = {"org_a": world.org_a, "a_member": world.a_member.actor.user_id, "a_admin": world.a_admin.actor.user_id}
    body = {k: (v.format(**names) if isinstance(v, str) else v) for k, v in (body or {}).items()} or None
    before = db_state(runtime)
    response = _call(client, getattr(world, who), method, path.format(**names), body)
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"
    assert_db_unchanged(before, db_state(runtime))


def test_a_admin_does_manage_a(client, world):
    """The 403s above are about roles, not a broken endpoint."""
    created = _call(client, world.a_admin, "POST", "/users", {"email": "new@a.test", "org_id": world.org_a})
    assert created.status_code == 201, created.text
    token = _call(client, world.a_admin, "POST", f"/users/{created.json()['id']}/tokens", {"name": "t"})
    assert token.status_code == 201, token.text
    changed = _call(client, world.a_admin, "PATCH", f"/users/{world.a_member.actor.user_id}", {"org_role": "admin"})
    assert changed.status_code == 200 and changed.json()["org_role"] == "admin"


# --- services: the same rules without HTTP ---------------------------------------------------------

# Each call is `(session, actor, b, runtime) -> anything`; against B's private things it must raise
# NotFound with the same message as for an id that never existed.
SERVICE_CALLS: dict[str, tuple[str, Callable[..., Any]]] = {
    "get_org": ("org", lambda s, a, i, r: identity.get_org(s, a, i["org"])),
    "update_org": ("org", lambda s, a, i, r: identity.update_org(s, a, i["org"], OrgUpdate(name="Taken over"))),
    "get_user": ("member", lambda s, a, i, r: identity.get_user(s, a, i["member"])),
    "update_user": ("member", lambda s, a, i, r: identity.update_user(s, a, i["member"], UserUpdate(disabled=True))),
    "create_user_in_b": (
        "org",
        lambda s, a, i, r: identity.create_user(s, a, UserCreate(email="mole@a.test", org_id=i["org"])),
    ),
    "create_token": ("member", lambda s, a, i, r: identity.create_token(s, a, i["member"], TokenCreate(name="x"))),
    "list_tokens": ("member", lambda s, a, i, r: identity.list_tokens(s, a, i["member"])),
    "revoke_token": ("token", lambda s, a, i, r: identity.revoke_token(s, a, i["token"])),
    "get_job": ("job", lambda s, a, i, r: jobs.get_job(s, a, i["job"])),
    "read_logs": ("job", lambda s, a, i, r: jobs.read_logs(s, r.blobs, a, i["job"])),
    "cancel_job": ("job", lambda s, a, i, r: jobs.cancel_job(s, a, i["job"])),
    "retry_job": ("cancelled_job", lambda s, a, i, r: jobs.retry_job(s, a, i["cancelled_job"])),
    "get_shared_job": ("shared_job", lambda s, a, i, r: jobs.get_job(s, a, i["shared_job"])),
    "cancel_shared_job": ("shared_job", lambda s, a, i, r: jobs.cancel_job(s, a, i["shared_job"])),
}


def _raises(runtime: Any, error: type[Exception], call: Callable[[Any], Any]) -> Exception:
    with pytest.raises(error) as caught, runtime.session() as session:
        call(session)
    return caught.value


@pytest.mark.parametrize("who", A_SIDE)
@pytest.mark.parametrize("call", list(SERVICE_CALLS))
def test_b_private_thing_is_not_found_in_services(world, runtime, b, who, call):
    actor = getattr(world, who).actor
    name, function = SERVICE_CALLS[call]
    real, fake = getattr(b, name), new_id(getattr(b, name).split("_")[0])
    before = db_state(runtime)
    error = _raises(runtime, NotFound, lambda s: function(s, actor, b.ids(), runtime))
    never = _raises(runtime, NotFound, lambda s: function(s, actor, {**b.ids(), name: fake}, runtime))
    assert real in error.message
    assert f"No {KINDS[name]}" in error.message, "the message names the wrong kind"
    assert error.message.replace(real, "?") == never.message.replace(fake, "?")
    assert_db_unchanged(before, db_state(runtime))


@pytest.mark.parametrize("who", A_SIDE)
@pytest.mark.parametrize(
    "call",
    [
        lambda s, a: identity.get_org_by_name(s, a, "org b"),
        lambda s, a: identity.get_user_by_email(s, a, "member@b.test"),
        lambda s, a: identity.get_user_by_email(s, a, "ADMIN@b.test"),
    ],
    ids=["org_by_name", "user_by_email", "user_by_email_upper"],
)
def test_lookups_by_name_do_not_find_b(world, runtime, b, who, call):
    _raises(runtime, NotFound, lambda s: call(s, getattr(world, who).actor))
    with runtime.session() as session:
        assert call(session, world.b_member.actor).id in {b.org, b.member, b.admin}


@pytest.mark.parametrize("call", list(SERVICE_CALLS))
def test_services_serve_b_itself(world, runtime, b, call):
    _, function = SERVICE_CALLS[call]
    with runtime.session() as session:
        assert function(session, world.b_admin.actor, b.ids(), runtime) is not None


@pytest.mark.parametrize("who", A_SIDE)
def test_service_lists_hide_b(world, runtime, b, who):
    actor = getattr(world, who).actor
    with runtime.session() as s:
        orgs = {o.id for o in _service_pages(lambda **p: identity.list_orgs(s, actor, **p))}
        users = {u.id for u in _service_pages(lambda **p: identity.list_users(s, actor, **p))}
        users_b = {u.id for u in _service_pages(lambda **p: identity.list_users(s, actor, org_id=b.org, **p))}
        job_ids = {j.id for j in _service_pages(lambda **p: jobs.list_jobs(s, actor, **p))}
        b_job_ids = {j.id for j in _service_pages(lambda **p: jobs.list_jobs(s, world.b_member.actor, **p))}
        own_tokens = identity.list_tokens(s, actor, actor.user_id)
    assert world.org_a in orgs and b.org not in orgs
    assert actor.user_id in users and not users & {b.admin, b.member}
    assert not users_b
    assert not job_ids & {b.job, b.shared_job, b.cancelled_job}
    assert {b.public_job, b.public_cancelled_job} <= job_ids
    assert {b.job, b.shared_job, b.cancelled_job} <= b_job_ids
    assert b.token not in {t.id for t in own_tokens}


@pytest.mark.parametrize(
    ("call", "job"),
    [
        (lambda s, a, j, r: jobs.cancel_job(s, a, j), "public_job"),
        (lambda s, a, j, r: jobs.retry_job(s, a, j), "public_cancelled_job"),
    ],
    ids=["cancel", "retry"],
)
@pytest.mark.parametrize("who", A_SIDE)
def test_service_b_public_job_is_readable_not_changeable(world, runtime, b, who, call, job):
    actor = getattr(world, who).actor
    job_id = getattr(b, job)
    with runtime.session() as session:
        assert jobs.get_job(session, actor, job_id).id == job_id
        jobs.read_logs(session, runtime.blobs, actor, job_id)
    before = db_state(runtime)
    _raises(runtime, Forbidden, lambda s: call(s, actor, job_id, runtime))
    assert_db_unchanged(before, db_state(runtime))


def test_service_audit_isolation(world, runtime, b):
    with runtime.session() as s:
        a_entries = list(_service_pages(lambda **p: audit.list_entries(s, world.a_admin.actor, **p)))
        b_entries = list(_service_pages(lambda **p: audit.list_entries(s, world.b_admin.actor, **p)))
        filtered = audit.list_entries(s, world.a_admin.actor, resource_id=b.job).items
        assert audit.verify_chain(s, world.operator.actor).ok
    assert a_entries and {e.org_id for e in a_entries} == {world.org_a}
    assert {e.org_id for e in b_entries} == {b.org}
    assert not filtered
    for actor in (world.a_member.actor, world.b_member.actor):
        _raises(runtime, Forbidden, lambda s, actor=actor: audit.list_entries(s, actor))
    for actor in (world.a_admin.actor, world.a_member.actor, world.b_admin.actor):
        _raises(runtime, Forbidden, lambda s, actor=actor: audit.verify_chain(s, actor))


@pytest.mark.parametrize(
    "call",
    [
        lambda s, w: identity.create_user(s, w.a_member.actor, UserCreate(email="n@a.test", org_id=w.org_a)),
        lambda s, w: identity.create_user(
            s, w.a_admin.actor, UserCreate(email="n@a.test", org_id=w.org_a, platform_roles=["operator"])
        ),
        lambda s, w: identity.update_user(
            s, w.a_admin.actor, w.a_member.actor.user_id, UserUpdate(platform_roles=["reviewer"])
        ),
        lambda s, w: identity.update_user(s, w.a_member.actor, w.a_member.actor.user_id, UserUpdate(org_role="admin")),
        lambda s, w: identity.create_org(s, w.a_admin.actor, OrgCreate(name="C", kind="lab")),
    ],
    ids=[
        "member_creates_user",
        "admin_grants_operator",
        "admin_grants_reviewer",
        "member_promotes_self",
        "admin_creates_org",
    ],
)
def test_service_roles_inside_a(world, runtime, call):
    before = db_state(runtime)
    _raises(runtime, Forbidden, lambda s: call(s, world))
    assert_db_unchanged(before, db_state(runtime))


def test_service_submit_is_owned_by_the_submitter_org(world, runtime):
    with runtime.session() as session:
        job = jobs.submit_job(session, world.a_member.actor, JobSubmit(type="diagnostics.noop"))
    assert job.org_id == world.org_a
    _raises(runtime, NotFound, lambda s: jobs.get_job(s, world.b_admin.actor, job.id))
