"""Settings: environment variables over config.toml in the home, over defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aicommons.core.config import Settings


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("AICOMMONS_HOME", str(tmp_path))
    return tmp_path


def test_defaults_put_everything_in_the_home(home):
    settings = Settings()
    assert settings.home == home
    assert settings.resolved_database_url == f"sqlite:///{home / 'aicommons.db'}"
    assert settings.resolved_blob_url == str(home / "blobs")
    assert settings.workers == 2


def test_config_file_overrides_defaults_and_environment_overrides_the_file(home, monkeypatch):
    (home / "config.toml").write_text('workers = 5\nblob_url = "s3://bucket/prefix"\n')
    assert Settings().workers == 5
    assert Settings().resolved_blob_url == "s3://bucket/prefix"
    monkeypatch.setenv("AICOMMONS_WORKERS", "3")
    assert Settings().workers == 3


def test_bad_values_are_refused_naming_the_setting(home, monkeypatch):
    monkeypatch.setenv("AICOMMONS_WORKERS", "-1")
    with pytest.raises(ValidationError, match="workers"):
        Settings()
