"""The public datasets every installation ships: real data from installed packages."""

from __future__ import annotations

import pytest

from aicommons import data
from aicommons.core.home import init_home
from aicommons.core.identity import actor_for_user_id

pytestmark = pytest.mark.slow  # publishes ~37k records; once is enough


def test_init_publishes_the_builtin_datasets_once_and_everyone_can_read_them(settings, runtime, world):
    settings = settings.model_copy(update={"builtin_datasets": True})
    first = init_home(settings, admin_email="root@operator.test")
    init_home(settings, admin_email="root@operator.test")  # idempotent
    with runtime.session() as session:
        operator = actor_for_user_id(session, first.admin.id)
        outsider = world.b_member.actor
        names = {d.name: d for d in data.list_datasets(session, outsider, limit=200).items}
        assert set(names) == {"sklearn-digits", "sklearn-breast-cancer", "chinese-review-sentiment"}
        assert all(d.org_id == operator.org_id and d.visibility == "public" and d.latest_version == 1 for d in names.values())
        digits = data.resolve_version(session, outsider, names["sklearn-digits"].id)
        cancer = data.resolve_version(session, outsider, names["sklearn-breast-cancer"].id)
        reviews = data.resolve_version(session, outsider, names["chinese-review-sentiment"].id)
        first_digit = data.list_records(session, data.manifest_cache(runtime), outsider, digits.id, limit=1).items[0]
    assert digits.record_count == 1797 and len(digits.statistics["by_label"]) == 10
    assert cancer.record_count == 569 and cancer.statistics["by_label"] == {"benign": 357, "malignant": 212}
    assert len(cancer.columns) == 30
    assert reviews.record_count > 30_000 and set(reviews.statistics["by_label"]) == {"positive", "negative"}
    assert runtime.blobs.read_bytes(first_digit["file_sha256"]).startswith(b"\x89PNG")
