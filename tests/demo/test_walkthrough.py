"""`aicommons demo`: the whole lifecycle on built-in data, end to end, on the real services."""

from __future__ import annotations

import time

import pytest

from aicommons import filing, serving
from aicommons.core.errors import Invalid
from aicommons.core.identity import bootstrap_operator
from aicommons.core.runtime import Runtime
from aicommons.demo import STAGES, Walkthrough


@pytest.fixture
def demo_runtime(settings):
    runtime = Runtime.from_settings(settings.model_copy(update={"builtin_datasets": True}))
    with runtime.session() as session:
        bootstrap_operator(session, "root@operator.test")
    yield runtime
    runtime.close()


@pytest.mark.slow
def test_the_demo_walks_every_stage_and_ends_with_a_filed_public_model(demo_runtime):
    seen: list[tuple[str, float]] = []
    started = time.perf_counter()
    walk = Walkthrough(demo_runtime, lambda key, fraction, message: seen.append((key, fraction)))
    results = walk.run()
    elapsed = time.perf_counter() - started
    assert [r.key for r in results] == [key for key, _ in STAGES]
    assert elapsed < 180  # the budget on a 2-core machine
    # Every stage reported its progress, in order, from its start to its end.
    assert list(dict.fromkeys(key for key, _ in seen)) == [key for key, _ in STAGES]
    assert all((key, 0.0) in seen and (key, 1.0) in seen for key, _ in STAGES)
    by_key = {r.key: r.detail for r in results}
    assert by_key["clean"]["records_after"] < by_key["clean"]["records_before"]
    assert by_key["train"]["accuracy"]["demo-digits-cnn"] >= 0.95 and by_key["train"]["accuracy"]["demo-sentiment"] >= 0.75
    assert by_key["compress"]["demo-digits-cnn"]["size_ratio"] > 2 and by_key["compress"]["demo-digits-cnn"]["accuracy_points"] >= -1
    assert by_key["predict"]["correct"] >= 9
    observatory = by_key["observatory"]
    assert observatory["sample_enterprises"] == 200 and observatory["sample_observations"] > 0 and observatory["first_region"]
    # The demo's jobs are billed: vouchers pay their share first, so the ¥100 top-up loses at most the rest.
    # (The amount is a few fen, rounded per charge: on a fast machine it can round to nothing.)
    assert observatory["billed_items"] >= 6  # two trainings, a compression, three evaluations
    assert 10_000 - observatory["billed_fen"] <= observatory["prepaid_fen"] <= 10_000
    travel = by_key["citybrain"]["average_travel_time_s"]  # seconds per vehicle on the generated grid
    assert set(travel) == {"fixed-time", "max-pressure", "learned"} and travel["max-pressure"] < travel["fixed-time"]
    number = by_key["approve"]["filing_number"]
    with demo_runtime.session() as session:
        entry = filing.get_registry_entry(session, number)
        assert entry.status == "approved" and entry.model_name == "demo-digits-cnn"
        endpoint = serving.get_endpoint(session, walk.applicant, walk.facts["endpoint"])
        assert endpoint.visibility == "public"
    assert Walkthrough.walked_before(demo_runtime)


def test_an_unknown_stop_is_refused_before_anything_runs(demo_runtime):
    with pytest.raises(Invalid, match="Unknown demo stage 'teleport'"):
        Walkthrough(demo_runtime).run(stop_after="teleport")
    assert not Walkthrough.walked_before(demo_runtime)
