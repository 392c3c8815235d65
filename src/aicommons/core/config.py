"""Settings: environment variables (`AICOMMONS_*`) over `config.toml` in the home folder.

The home folder (`AICOMMONS_HOME`, default `~/.aicommons`) holds the SQLite database, the blob
folder and `config.toml`. Every setting is documented in docs/kernel.md; a docs test checks it.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def home_dir() -> Path:
    return Path(os.environ.get("AICOMMONS_HOME", "~/.aicommons")).expanduser().resolve()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AICOMMONS_", extra="ignore")

    home: Path = Field(default_factory=home_dir, description="Home folder of this installation.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means SQLite in the home.")
    blob_url: str = Field("", description="fsspec URL of the blob store; empty means <home>/blobs.")
    s3_endpoint_url: str = Field("", description="Endpoint of an S3-compatible server for s3:// blob URLs.")
    executor: str = Field("local", description="Job executor: 'local' (worker processes).")
    workers: int = Field(2, ge=0, le=64, description="Local executor worker processes.")
    heartbeat_s: float = Field(1.0, gt=0, description="Seconds between a running job's heartbeats.")
    lost_after_s: float = Field(15.0, gt=0, description="A running job silent this long is lost and re-queued.")
    retry_backoff_s: float = Field(2.0, ge=0, description="First retry delay; doubles per attempt.")
    builtin_datasets: bool = Field(True, description="Publish the built-in public datasets at `init`.")
    plugins: list[str] = Field(default_factory=list, description="Extra plugin modules to import.")
    host: str = Field("127.0.0.1", description="Address `aicommons serve` binds.")
    port: int = Field(8000, ge=1, le=65535, description="Port `aicommons serve` binds.")
    access_log: bool = Field(True, description="`aicommons serve` logs every request (uvicorn's access log).")
    api_processes: int = Field(
        1, ge=1, le=64,
        description="API server processes `aicommons serve` runs (one per core scales predict calls); "
                    "they share rate quotas and metrics, and jobs run in the process that supervises them.",
    )
    filing_number_format: str = Field(
        "ZJAI-{year}-{seq:06d}", description="Format of filing (备案) numbers: Python format fields {year} and {seq}."
    )

    @field_validator("filing_number_format")
    @classmethod
    def _filing_number_format_formats(cls, value: str) -> str:
        # Numbers are unique per (year, seq): a format without both fields would repeat them.
        try:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
            sample = value.format(year=2026, seq=1)
        except (ValueError, IndexError, KeyError) as exc:
            raise ValueError(f"must be a Python format string such as 'ZJAI-{{year}}-{{seq:06d}}'; {value!r} does not format: {exc}") from None
        if fields != {"year", "seq"}:
            raise ValueError(f"must use exactly the fields {{year}} and {{seq}}; {value!r} uses {sorted(fields)}")
        if any(c in sample for c in "/?#%\\") or any(c.isspace() for c in sample):
            raise ValueError(f"must make numbers without '/', '?', '#', '%', '\\' or spaces (they appear in URLs); {value!r} makes {sample!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=home_dir() / "config.toml")
        return (init_settings, env_settings, toml)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'aicommons.db'}"

    @property
    def resolved_blob_url(self) -> str:
        return self.blob_url or str(self.home / "blobs")


DEFAULT_CONFIG_TOML = """\
# aicommons settings. Environment variables AICOMMONS_<NAME> override these.
# database_url = "postgresql+psycopg://user@127.0.0.1:5432/aicommons"
# blob_url = "s3://bucket/prefix"
# workers = 2
"""
