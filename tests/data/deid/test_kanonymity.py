"""k-anonymity: quasi-identifiers are generalised until every group has at least k rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

import pandas as pd
import pyarrow as pa
import pytest

from aicommons.core.errors import Invalid
from aicommons.data.deid import generalise_for_k
from aicommons.data.deid.kanonymity import date_levels, numeric_bands, prefix_truncation, taxonomy

QIS = ["age", "postcode", "gender", "birth_date"]


def patients(n: int = 600, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(60 * 365))
        rows.append(
            {
                "id": i,
                "age": 2024 - born.year,
                "postcode": f"310{rng.randrange(1000):03d}",
                "gender": rng.choice(["男", "女"]),
                "birth_date": born.isoformat(),
                "diagnosis": rng.choice(["flu", "asthma", "diabetes", "fracture"]),
            }
        )
    return rows


def smallest_group(rows: list[dict], qis: list[str]) -> int:
    return min(Counter(tuple(r[q] for q in qis) for r in rows).values())


@pytest.mark.parametrize("k", [2, 5, 10])
def test_k_anonymity_is_reached_on_a_generated_table(k):
    rows = patients()
    assert smallest_group(rows, QIS) == 1  # every patient is unique before
    result = generalise_for_k(rows, QIS, k)
    assert result.k_reached >= k
    assert smallest_group(result.rows, QIS) == result.k_reached
    assert len(result.rows) + result.suppressed == len(rows) and result.suppressed <= 0.05 * len(rows)
    assert result.steps and all(s.min_group >= 1 for s in result.steps)
    kept = {r["id"]: r for r in result.rows}
    for original in rows:  # what is not a quasi-identifier is untouched
        if original["id"] in kept:
            assert kept[original["id"]]["diagnosis"] == original["diagnosis"]


def test_the_generalisations_follow_the_hierarchies():
    result = generalise_for_k(patients(), QIS, 5, max_suppression=0.0)
    levels = result.levels
    row = result.rows[0]
    assert set(levels) <= set(QIS)
    if levels.get("postcode"):
        assert row["postcode"].endswith("*" * levels["postcode"]) or row["postcode"] == "*"
    assert smallest_group(result.rows, QIS) >= 5 and result.suppressed == 0


def test_pandas_and_arrow_tables_come_back_as_such():
    rows = patients(200)
    frame = generalise_for_k(pd.DataFrame(rows), QIS, 4)
    assert isinstance(frame.rows, pd.DataFrame) and list(frame.rows.columns) == list(rows[0])
    assert frame.rows.groupby(QIS).size().min() >= 4
    table = generalise_for_k(pa.Table.from_pylist(rows), QIS, 4)
    assert isinstance(table.rows, pa.Table)
    assert smallest_group(table.rows.to_pylist(), QIS) >= 4


def test_built_in_hierarchies():
    age = numeric_bands((5, 10, 20))
    assert [age(37, level) for level in range(5)] == [37, "35-39", "30-39", "20-39", "*"]
    postcode = prefix_truncation(6)
    assert [postcode("310012", level) for level in (1, 3, 6)] == ["31001*", "310***", "*"]
    date = date_levels()
    assert [date("1990-05-12", level) for level in range(5)] == ["1990-05-12", "1990-05", "1990", "1990s", "*"]
    region = taxonomy({"西湖区": ["杭州市", "浙江省"]})
    assert [region("西湖区", level) for level in range(4)] == ["西湖区", "杭州市", "浙江省", "*"]


def test_a_table_smaller_than_k_reports_the_k_it_reached():
    rows = patients(3)
    result = generalise_for_k(rows, QIS, 5)
    assert result.k_reached == 3 and all(r[q] == "*" for r in result.rows for q in QIS)


def test_bad_arguments_are_refused():
    with pytest.raises(Invalid, match="'k' parameter of generalise_for_k"):
        generalise_for_k(patients(10), QIS, 0)
    with pytest.raises(Invalid, match="'quasi_identifiers' parameter"):
        generalise_for_k(patients(10), ["nope"], 2)
    with pytest.raises(Invalid, match=r"hierarchies\['age'\]"):
        generalise_for_k(patients(10), QIS, 2, {"age": "weeks"})
