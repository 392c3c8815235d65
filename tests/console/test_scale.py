"""The datasets and models lists with 10,000 rows: a page renders in well under 300 ms with a
fixed number of SQL statements (keyset pagination, no query per row: a model's aliases come in one
query for the whole page)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from consolekit import counted_page

from aicommons.core.db import utcnow
from aicommons.core.ids import new_id
from aicommons.data.tables import Dataset
from aicommons.models.tables import Model, ModelAlias, ModelVersion

pytestmark = pytest.mark.usefixtures("frozen_heap")

BUDGET_S = 0.300


def _add_datasets(runtime, org_id: str, count: int, *, visibility: str = "private", prefix: str = "set") -> None:
    now = utcnow()
    rows = [
        {"id": new_id("ds"), "org_id": org_id, "name": f"{prefix}-{i:05d}", "modality": "text", "visibility": visibility,
         "licence": "", "description": "", "tags": [], "created_at": now, "latest_version": 0}
        for i in range(count)
    ]
    with runtime.session() as session:
        session.execute(sa.insert(Dataset), rows)


def test_ten_thousand_datasets_list_fast_with_a_bounded_number_of_queries(console, runtime, world):
    client = console("member@a.test")
    _add_datasets(runtime, world.org_a, 10)
    _, few_statements, _ = counted_page(client, runtime.engine, "/datasets")

    _add_datasets(runtime, world.org_a, 9_990, prefix="bulk")
    _add_datasets(runtime, world.org_b, 500, prefix="theirs")  # private to B: never listed for A
    page, statements, elapsed = counted_page(client, runtime.engine, "/datasets")
    assert statements == few_statements <= 6  # the session, the page of datasets: not one per row
    assert elapsed < BUDGET_S, f"the datasets page took {elapsed * 1000:.0f} ms"
    assert page.count('<a href="/datasets/ds_') == 50 and "theirs-" not in page and 'rel="next"' in page
    print(f"\ndatasets page over 10,000 rows: {elapsed * 1000:.1f} ms, {statements} SQL statements")

    searched, statements, elapsed = counted_page(client, runtime.engine, "/datasets", q="bulk-0998")
    assert statements == few_statements and elapsed < BUDGET_S
    assert searched.count('<a href="/datasets/ds_') == 10  # bulk-09980 … bulk-09989
    print(f"searched page: {elapsed * 1000:.1f} ms")


def _add_models(runtime, org_id: str, count: int, *, prefix: str = "model") -> None:
    """`count` models, each with one version that the alias `production` points at."""
    now = utcnow()
    models = [{"id": new_id("mdl"), "org_id": org_id, "name": f"{prefix}-{i:05d}", "task": "tabular-classification",
               "visibility": "private", "licence": "", "description": "", "name_zh": "", "description_zh": "", "tags": [],
               "created_at": now, "latest_version": 1} for i in range(count)]
    versions = [{"id": new_id("mdv"), "model_id": m["id"], "number": 1, "onnx_sha256": "0" * 64, "onnx_size": 1, "source_format": "onnx",
                 "framework": "onnx", "signature": {}, "preprocessing": {}, "metrics": {}, "details": {}, "card": "",
                 "dataset_version_ids": [], "operation": "upload", "parameters": {}, "created_at": now} for m in models]
    aliases = [{"model_id": v["model_id"], "name": "production", "version_id": v["id"], "updated_at": now} for v in versions]
    with runtime.session() as session:
        for table, rows in ((Model, models), (ModelVersion, versions), (ModelAlias, aliases)):
            session.execute(sa.insert(table), rows)


def test_ten_thousand_models_list_fast_with_a_bounded_number_of_queries(console, runtime, world):
    client = console("member@a.test")
    _add_models(runtime, world.org_a, 10)
    _, few_statements, _ = counted_page(client, runtime.engine, "/models")

    _add_models(runtime, world.org_a, 9_990, prefix="bulk")
    _add_models(runtime, world.org_b, 500, prefix="theirs")
    page, statements, elapsed = counted_page(client, runtime.engine, "/models")
    assert statements == few_statements <= 6  # the session, the page of models, their aliases: not one per row
    assert elapsed < BUDGET_S, f"the models page took {elapsed * 1000:.0f} ms"
    assert page.count('<a href="/models/mdl_') == 50 and "theirs-" not in page and 'rel="next"' in page
    print(f"\nmodels page over 10,000 rows: {elapsed * 1000:.1f} ms, {statements} SQL statements")
