"""The docs cannot fall behind the code: the CLI reference, the settings, the registered names, the README.

Each check is a small function that returns what is wrong; the tests at the bottom prove that
each one does report a problem when given one, so none of them can pass vacuously.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from aicommons.core.config import Settings
from aicommons.core.registry import Registry, load_plugins

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
KERNEL_MD = DOCS / "kernel.md"
CLI_MD = DOCS / "cli.md"
README = REPO / "README.md"
GENERATOR = REPO / "scripts" / "gen_cli_docs.py"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


# --- the checks -------------------------------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_cli_docs", GENERATOR)
    assert spec is not None and spec.loader is not None, f"{GENERATOR} is missing"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cli_reference_problem(current: str | None, generated: str) -> str | None:
    """Why docs/cli.md (`current`, None when absent) is not what the generator makes now."""
    if current is None:
        return "docs/cli.md does not exist: run `make docs`."
    if current == generated:
        return None
    diff = difflib.unified_diff(
        current.splitlines(), generated.splitlines(), "docs/cli.md", "generated now", lineterm="", n=1
    )
    shown = "\n".join(list(diff)[:60])
    return f"docs/cli.md is out of date with the CLI's --help: run `make docs`.\n{shown}"


def setting_variables() -> list[str]:
    prefix = Settings.model_config.get("env_prefix", "")
    return [f"{prefix}{name}".upper() for name in Settings.model_fields]


def undocumented_settings(text: str) -> list[str]:
    """The AICOMMONS_<NAME> variables of Settings that `text` never mentions."""
    return [var for var in setting_variables() if not re.search(rf"(?<![A-Z0-9_]){var}(?![A-Z0-9_])", text)]


def kernel_registries() -> list[Registry[Any]]:
    """Every Registry defined at module level anywhere in aicommons.core, after plugins load."""
    import aicommons.core

    load_plugins()
    found: dict[int, Registry[Any]] = {}
    for info in pkgutil.walk_packages(aicommons.core.__path__, "aicommons.core."):
        if ".migrations" in info.name:  # importing Alembic's env.py would run migrations
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Registry):
                found[id(value)] = value
    return sorted(found.values(), key=lambda r: r.kind)


def _origin(item: Any) -> str:
    """The module that defines a registered item (a job type's function, a factory, a backend)."""
    target = getattr(item, "function", item)
    return getattr(target, "__module__", None) or type(target).__module__


def undocumented_names(registries: list[Registry[Any]], kernel_text: str, all_docs_text: str) -> list[str]:
    """Registered names that no page mentions as `name`.

    A name the kernel itself registers belongs in docs/kernel.md; a name a service registers
    belongs on some page under docs/ (its service's page); third-party plugins are not ours to
    document.
    """
    missing = []
    for registry in registries:
        for name in registry.names():
            origin = _origin(registry.get(name))
            if origin == "aicommons.core" or origin.startswith("aicommons.core."):
                page, text = "docs/kernel.md", kernel_text
            elif origin.startswith("aicommons."):
                page, text = "docs/", all_docs_text
            else:
                continue
            if f"`{name}`" not in text:
                missing.append(f"{registry.kind} {name!r} (registered by {origin}) is not mentioned in {page}")
    return missing


def readme_missing_commands(text: str) -> list[str]:
    return [command for command in ("make run", "make test") if command not in text]


# --- the contract -----------------------------------------------------------------------------


def test_cli_reference_matches_the_cli_help():
    problem = cli_reference_problem(CLI_MD.read_text(encoding="utf-8") if CLI_MD.exists() else None, _generator().render())
    assert problem is None, problem


def test_every_setting_is_documented_in_kernel_md():
    missing = undocumented_settings(_read(KERNEL_MD))
    assert not missing, f"docs/kernel.md does not mention these settings: {missing}"


def test_every_registered_name_is_documented():
    all_docs = "\n".join(_read(page) for page in sorted(DOCS.glob("*.md")))
    missing = undocumented_names(kernel_registries(), _read(KERNEL_MD), all_docs)
    assert not missing, "undocumented hooks:\n" + "\n".join(missing)


def test_readme_explains_the_two_commands():
    missing = readme_missing_commands(_read(README))
    assert not missing, f"README.md does not mention {missing}"


def test_make_docs_exists_since_the_messages_tell_people_to_run_it():
    assert re.search(r"^docs:", _read(REPO / "Makefile"), re.MULTILINE), "the Makefile has no `docs` target"


# --- each check can fail ----------------------------------------------------------------------


def test_the_cli_check_fails_on_a_stale_or_missing_reference():
    generated = "# CLI reference\n\n## `aicommons`\n\n```text\nUsage: aicommons\n```\n"
    assert cli_reference_problem(generated, generated) is None
    stale = cli_reference_problem(generated.replace("Usage: aicommons", "Usage: aicommons --old"), generated)
    assert stale is not None and "run `make docs`" in stale
    assert cli_reference_problem(None, generated) is not None


def test_the_settings_check_fails_on_a_missing_variable():
    text = _read(KERNEL_MD)
    assert set(undocumented_settings("")) == set(setting_variables()) and setting_variables()
    without_workers = re.sub(r"AICOMMONS_WORKERS(?![A-Z0-9_])", "AICOMMONS_WORKERZ", text)
    assert set(undocumented_settings(without_workers)) - set(undocumented_settings(text)) == {"AICOMMONS_WORKERS"}
    # A longer name does not count as a mention of a shorter one.
    assert "AICOMMONS_PORT" in undocumented_settings("AICOMMONS_PORTS")


def test_the_registry_check_sees_the_kernel_registries_and_fails_on_a_missing_name():
    from aicommons.core.blobs import blob_backends
    from aicommons.core.home import demo_seeders
    from aicommons.core.jobs import executors, job_types

    registries = kernel_registries()
    for expected in (job_types, executors, blob_backends, demo_seeders):
        assert any(r is expected for r in registries), f"the {expected.kind} registry was not discovered"

    text = _read(KERNEL_MD)
    assert any("'diagnostics.sleep'" in m for m in undocumented_names(registries, text.replace("`diagnostics.sleep`", ""), ""))
    assert any("'s3'" in m for m in undocumented_names(registries, text.replace("`s3`", "s3"), ""))

    widgets: Registry[Any] = Registry("widget")
    widgets.add("kernel.widget", lambda: None)  # defined here, in tests: not aicommons' to document
    assert undocumented_names([widgets], "", "") == []

    def service_widget() -> None: ...

    service_widget.__module__ = "aicommons.somewhere.plugin"
    widgets.add("somewhere.widget", service_widget)
    assert undocumented_names([widgets], "", "") == [
        "widget 'somewhere.widget' (registered by aicommons.somewhere.plugin) is not mentioned in docs/"
    ]
    assert undocumented_names([widgets], "", "see `somewhere.widget`") == []


@pytest.mark.parametrize("text, missing", [("", ["make run", "make test"]), ("`make run` only", ["make test"])])
def test_the_readme_check_fails_on_a_missing_command(text, missing):
    assert readme_missing_commands(text) == missing
