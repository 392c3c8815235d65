"""Crowdsourced annotation over HTTP: a project worked by two orgs' users, refusals that change
nothing, private projects, aggregation as a job, review and publishing a labelled version."""

from __future__ import annotations

from datakit import REVIEWS_CSV, DataKit, png, zip_bytes
from support import assert_db_unchanged, auth, db_state

API = "/api/v1"
PROJECTS = f"{API}/annotation/projects"


class _Job:
    def __init__(self, job_id):
        self.id = job_id


def _reviews(runtime, world):
    """The six-review dataset of org A; returns its version and {record_id: true label}."""
    kit = DataKit(runtime, world.a_member.actor)
    dataset = kit.dataset()
    version = kit.imported(dataset.id, "reviews.csv", REVIEWS_CSV)
    records = kit.records(version.id).items
    return version, {r["record_id"]: r["label"] for r in records}, {r["record_id"]: r["text"] for r in records}


def _create(client, member, version_id, **extra):
    spec = {
        "name": "sentiment", "dataset_version_id": version_id, "schema": {"kind": "single", "labels": ["positive", "negative"]},
        "overlap": 2, "max_overlap": 2, "adaptive": False, "gold_rate": 0, "min_seconds": 0, **extra,
    }
    response = client.post(PROJECTS, json=spec, headers=auth(member))
    assert response.status_code == 201, response.text
    return response.json()


def _next(client, member, project_id):
    return client.post(f"{PROJECTS}/{project_id}/next-task", headers=auth(member))


def test_two_orgs_label_aggregate_review_and_publish_over_http(client, runtime, world):
    version, truth, _ = _reviews(runtime, world)
    project = _create(client, world.a_member, version.id)
    assert project["items"] == 6 and project["status"] == "open" and project["schema"]["kind"] == "single"
    assert project["id"] in [p["id"] for p in client.get(PROJECTS, headers=auth(world.b_member)).json()["items"]]

    workers = (world.a_member, world.b_member)
    for member in workers:
        joined = client.post(f"{PROJECTS}/{project['id']}/join", headers=auth(member))
        assert joined.status_code == 200 and joined.json()["email"] == member.actor.email, joined.text

    seen: dict[str, set[str]] = {w.actor.email: set() for w in workers}
    answered = 0
    while True:
        progressed = False
        for member in workers:
            response = _next(client, member, project["id"])
            if response.status_code == 204:
                assert response.content == b""
                continue
            assert response.status_code == 200, response.text
            task = response.json()
            assert task["kind"] == "single" and task["labels"] == ["positive", "negative"] and task["item"]["text"]
            assert "gold" not in task and task["record_id"] not in seen[member.actor.email]  # never the same item twice
            seen[member.actor.email].add(task["record_id"])
            answer = client.post(
                f"{API}/annotation/tasks/{task['id']}/answer", json={"value": truth[task["record_id"]], "seconds": 4.0}, headers=auth(member)
            )
            assert answer.status_code == 201 and answer.json()["value"] == truth[task["record_id"]], answer.text
            answered += 1
            progressed = True
        if not progressed:
            break
    assert answered == 12 and all(len(items) == 6 for items in seen.values())  # overlap 2: each worker labels every item
    assert client.get(f"{PROJECTS}/{project['id']}", headers=auth(world.b_member)).json()["items_done"] == 6

    listed = client.get(f"{PROJECTS}/{project['id']}/workers", headers=auth(world.a_member))
    assert listed.status_code == 200
    assert sorted((w["email"], w["answers"], w["flags"]) for w in listed.json()) == [
        ("member@a.test", 6, []), ("member@b.test", 6, []),
    ]
    assert client.get(f"{PROJECTS}/{project['id']}/workers", headers=auth(world.b_member)).status_code == 403  # the owner org's view

    queued = client.post(f"{PROJECTS}/{project['id']}/aggregate", json={"method": "mv"}, headers=auth(world.a_member))
    assert queued.status_code == 202 and queued.json()["type"] == "annotation.aggregate", queued.text
    job = DataKit(runtime, world.a_member.actor).run(_Job(queued.json()["id"]))
    assert job.status == "succeeded", job.error
    results = client.get(f"{PROJECTS}/{project['id']}/results", params={"limit": 200}, headers=auth(world.a_member)).json()["items"]
    assert {r["record_id"]: r["value"] for r in results} == truth
    assert all(r["confidence"] == 1.0 and r["support"] == 2 and r["method"] == "mv" for r in results)
    agreement = client.get(f"{PROJECTS}/{project['id']}", headers=auth(world.a_member)).json()["agreement"]
    assert agreement["krippendorff_alpha"] == 1.0

    first, second = sorted(truth)[:2]
    flipped = "negative" if truth[first] == "positive" else "positive"
    corrected = client.post(
        f"{PROJECTS}/{project['id']}/results/{first}/review", json={"decision": "correct", "value": flipped, "comment": "sarcasm"},
        headers=auth(world.a_member),
    )
    assert corrected.status_code == 200 and corrected.json()["final_value"] == flipped, corrected.text
    rejected = client.post(f"{PROJECTS}/{project['id']}/results/{second}/review", json={"decision": "reject"}, headers=auth(world.a_member))
    assert rejected.status_code == 200 and rejected.json()["review"] == "rejected" and rejected.json()["final_value"] is None

    published = client.post(f"{PROJECTS}/{project['id']}/publish", headers=auth(world.a_member))
    assert published.status_code == 201, published.text
    new_version = published.json()
    assert new_version["operation"] == "annotate" and new_version["parent_version_id"] == version.id
    assert new_version["parameters"]["project_id"] == project["id"] and new_version["parameters"]["method"] == "mv"
    records = client.get(f"{API}/versions/{new_version['id']}/records", headers=auth(world.a_member)).json()["items"]
    labels = {r["record_id"]: r["label"] for r in records}
    assert labels[first] == flipped and labels[second] is None
    assert all(labels[r] == truth[r] for r in truth if r not in (first, second))

    audited = client.get(f"{API}/audit", params={"limit": 200}, headers=auth(world.a_admin))  # every step, in the owner org's log
    assert {e["action"] for e in audited.json()["items"]} >= {
        "annotation.project.create", "annotation.worker.join", "annotation.task.assign", "annotation.answer",
        "annotation.aggregate.start", "annotation.aggregate", "annotation.result.review", "annotation.publish",
    }


def test_bad_submissions_get_clear_errors_and_change_nothing(client, runtime, world):
    version, truth, _ = _reviews(runtime, world)
    project = _create(client, world.a_member, version.id)
    other = _create(client, world.a_member, version.id, name="other")
    for member in (world.a_member, world.b_member):
        client.post(f"{PROJECTS}/{project['id']}/join", headers=auth(member))
    task = _next(client, world.a_member, project["id"]).json()
    url = f"{API}/annotation/tasks/{task['id']}/answer"

    before = db_state(runtime)
    refusals = [
        (url, {"value": "neutral"}, world.a_member, {}, 422, "unknown label 'neutral'"),
        (url, {"value": ["positive"]}, world.a_member, {}, 422, "label string"),
        (url, {"value": "positive"}, world.b_member, {}, 403, "assigned to another worker"),
        (url, {"value": "positive"}, world.a_member, {"project_id": other["id"]}, 404, task["id"]),
        (f"{API}/annotation/tasks/ant_nope/answer", {"value": "positive"}, world.a_member, {}, 404, "ant_nope"),
        (url, {"value": "positive", "seconds": -1}, world.a_member, {}, 422, "seconds"),
        (url, {"seconds": 3}, world.a_member, {}, 422, "value"),
        (f"{PROJECTS}/{project['id']}/aggregate", {"method": "best"}, world.a_member, {}, 422, "method"),
        (f"{PROJECTS}/{project['id']}/publish", None, world.a_member, {}, 409, "aggregat"),
        (f"{PROJECTS}/{project['id']}/results/{task['record_id']}/review", {"decision": "accept"}, world.a_member, {}, 404, "aggregate"),
        (f"{PROJECTS}/{project['id']}/results/{task['record_id']}/review", {"decision": "accept", "value": "positive"},
         world.a_member, {}, 422, "only a correction"),
        (PROJECTS, {"name": "x", "dataset_version_id": version.id, "schema": {"kind": "single", "labels": ["a", "a"]}},
         world.a_member, {}, 422, "unique"),
        (PROJECTS, {"name": "x", "dataset_version_id": version.id, "schema": {"kind": "single", "labels": ["a", "b"]},
                    "gold": {"r_missing": "a"}}, world.a_member, {}, 422, "r_missing"),
        (PROJECTS, {"name": "x", "dataset_version_id": version.id, "schema": {"kind": "single", "labels": ["a", "b"]},
                    "overlap": 4, "max_overlap": 3}, world.a_member, {}, 422, "max_overlap"),
        (PROJECTS, {"name": "x", "dataset_version_id": version.id, "schema": {"kind": "single", "labels": ["a", "b"]}},
         world.b_member, {}, 404, version.id),
    ]
    for path, body, member, params, status, needle in refusals:
        response = client.post(path, json=body, params=params, headers=auth(member))
        assert response.status_code == status, (path, body, response.text)
        assert needle in response.json()["error"]["message"], (path, body, response.text)
    assert_db_unchanged(before, db_state(runtime))

    ok = client.post(url, json={"value": truth[task["record_id"]]}, headers=auth(world.a_member))
    assert ok.status_code == 201
    again = client.post(url, json={"value": truth[task["record_id"]]}, headers=auth(world.a_member))
    assert again.status_code == 409 and "already been answered" in again.json()["error"]["message"]


def test_a_private_project_is_invisible_to_other_orgs_and_204_when_nothing_is_left(client, runtime, world):
    version, truth, _ = _reviews(runtime, world)
    project = _create(client, world.a_member, version.id, visibility="private", overlap=1, max_overlap=1)
    path = f"{PROJECTS}/{project['id']}"
    for method, suffix in (("get", ""), ("post", "/join"), ("post", "/next-task"), ("get", "/results"), ("post", "/publish")):
        response = getattr(client, method)(path + suffix, headers=auth(world.b_member))
        assert response.status_code == 404, (suffix, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert project["id"] not in [p["id"] for p in client.get(PROJECTS, headers=auth(world.b_member)).json()["items"]]

    not_joined = _next(client, world.a_admin, project["id"])
    assert not_joined.status_code == 409 and "join" in not_joined.json()["error"]["message"]
    client.post(f"{path}/join", headers=auth(world.a_member))
    for _ in truth:
        task = _next(client, world.a_member, project["id"]).json()
        assert client.post(f"{API}/annotation/tasks/{task['id']}/answer", json={"value": "positive"}, headers=auth(world.a_member)).status_code == 201
    done = _next(client, world.a_member, project["id"])
    assert done.status_code == 204 and done.content == b""

    closed = client.patch(path, json={"status": "closed"}, headers=auth(world.a_member))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    refused = _next(client, world.a_member, project["id"])
    assert refused.status_code == 409 and "closed" in refused.json()["error"]["message"]


def test_a_boxes_project_serves_its_image_to_another_orgs_worker(client, runtime, world):
    kit = DataKit(runtime, world.a_member.actor)
    dataset = kit.dataset("pets", "image")  # private: org B cannot read it, only the project's items
    version = kit.imported(dataset.id, "pets.zip", zip_bytes({"cat/1.png": png(size=(16, 12))}))
    project = _create(client, world.a_member, version.id, schema={"kind": "boxes", "labels": ["cat", "dog"]}, overlap=1, max_overlap=1)
    client.post(f"{PROJECTS}/{project['id']}/join", headers=auth(world.b_member))
    task = _next(client, world.b_member, project["id"]).json()
    assert task["kind"] == "boxes" and task["item"]["file_sha256"]
    image = client.get(f"{API}/annotation/tasks/{task['id']}/file", headers=auth(world.b_member))
    assert image.status_code == 200 and image.content == png(size=(16, 12)) and image.headers["content-type"] == "image/png"
    assert client.get(f"{API}/annotation/tasks/{task['id']}/file", headers=auth(world.b_admin)).status_code == 404  # not theirs

    url = f"{API}/annotation/tasks/{task['id']}/answer"
    outside = client.post(url, json={"value": [[0, 0, 20, 10, "cat"]]}, headers=auth(world.b_member))
    assert outside.status_code == 422 and "16×12" in outside.json()["error"]["message"], outside.text
    answered = client.post(url, json={"value": [[1, 1, 15, 11, "cat"]], "seconds": 6}, headers=auth(world.b_member))
    assert answered.status_code == 201 and answered.json()["value"] == [[1, 1, 15, 11, "cat"]], answered.text


def test_a_worker_skips_a_task_and_is_not_given_its_item_again(client, runtime, world):
    version, _, _ = _reviews(runtime, world)
    project = _create(client, world.a_member, version.id)
    client.post(f"{PROJECTS}/{project['id']}/join", headers=auth(world.a_member))
    task = _next(client, world.a_member, project["id"]).json()
    url = f"{API}/annotation/tasks/{task['id']}/skip"
    assert client.post(url, headers=auth(world.b_member)).status_code in (403, 404)  # not theirs
    assert client.post(url, headers=auth(world.a_member)).status_code == 204
    following = _next(client, world.a_member, project["id"]).json()
    assert following["id"] != task["id"] and following["record_id"] != task["record_id"]
    answered = client.post(f"{API}/annotation/tasks/{following['id']}/answer", json={"value": "positive"}, headers=auth(world.a_member))
    assert answered.status_code == 201
    again = client.post(f"{API}/annotation/tasks/{following['id']}/skip", headers=auth(world.a_member))
    assert again.status_code == 409 and "answered" in again.json()["error"]["message"]


def test_a_refusal_names_the_field_at_fault_as_request_validation_does(client, runtime, world):
    version, _, _ = _reviews(runtime, world)
    spec = {"name": "sentiment", "dataset_version_id": version.id, "schema": {"kind": "spans", "labels": ["DAY"]}}
    cases = {  # each refused by the service after the schema held, for a reason only it can tell
        "gold": {"schema": {"kind": "single", "labels": ["positive"]}, "gold": {"r99999999": "positive"}},
        "deadline": {"schema": {"kind": "single", "labels": ["positive"]}, "deadline": "2001-01-01T00:00:00Z"},
        "prelabeller": {"schema": {"kind": "single", "labels": ["positive"]}, "prelabeller": "no-such-prelabeller"},
    }
    before = db_state(runtime)
    for field, change in cases.items():
        response = client.post(PROJECTS, json={**spec, **change}, headers=auth(world.a_member))
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["fields"] == [{"loc": ["body", field], "msg": error["message"], "type": "invalid"}], error
    assert_db_unchanged(before, db_state(runtime))
    bad_json = client.post(PROJECTS, json={**spec, "overlap": "many"}, headers=auth(world.a_member)).json()["error"]
    assert [f["loc"] for f in bad_json["fields"]] == [["body", "overlap"]]  # the same shape from request validation
