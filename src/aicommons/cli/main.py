"""The `aicommons` command."""

from __future__ import annotations

from typing import Annotated

import pydantic
import typer
from pydantic_settings import SettingsError
from typer.core import TyperGroup

from aicommons.cli import annotation, audit, citybrain, data, demo, evaluation, filing, identity, jobs, ledger, models, observatory, rendering, serving
from aicommons.cli.state import CliState, state
from aicommons.core import db
from aicommons.core.config import Settings
from aicommons.core.errors import AicommonsError
from aicommons.core.home import DEFAULT_ADMIN_EMAIL, init_home


class _Group(TyperGroup):
    """Turns the platform's errors into a one-line message and an exit code, for every command."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except AicommonsError as exc:
            rendering.error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except SettingsError as exc:
            rendering.error(f"Invalid settings (AICOMMONS_* variables or config.toml): {exc}")
            raise typer.Exit(2) from None
        except pydantic.ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            rendering.error(f"Invalid input: {problems}.")
            raise typer.Exit(2) from None
        finally:
            if isinstance(ctx.obj, CliState):
                ctx.obj.close()


app = typer.Typer(
    cls=_Group,
    help="aicommons: the open AI public-service platform. Honours AICOMMONS_HOME (default ~/.aicommons).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The metadata database's schema.", no_args_is_help=True)
app.add_typer(identity.orgs, name="org")
app.add_typer(identity.users, name="user")
app.add_typer(identity.tokens, name="token")
app.add_typer(jobs.app, name="jobs")
app.add_typer(audit.app, name="audit")
app.add_typer(data.app, name="data")
app.add_typer(models.app, name="models")
app.add_typer(serving.app, name="endpoints")
app.add_typer(evaluation.app, name="evaluation")
app.add_typer(filing.app, name="filing")
app.add_typer(annotation.app, name="annotate")
app.add_typer(citybrain.app, name="citybrain")
app.add_typer(observatory.app, name="observatory")
app.add_typer(ledger.app, name="ledger")
app.command("demo")(demo.demo)
app.add_typer(db_app, name="db")


@app.callback()
def main(
    ctx: typer.Context,
    as_email: Annotated[str | None, typer.Option("--as", envvar="AICOMMONS_AS", help="Act as this user (default: the operator).")] = None,
) -> None:
    state(ctx).as_email = as_email


@app.command()
def init(
    admin_email: Annotated[str, typer.Option(help="E-mail of the platform administrator.")] = DEFAULT_ADMIN_EMAIL,
    demo: Annotated[bool, typer.Option(help="Also seed the demo organisation and demo data.")] = False,
) -> None:
    """Create or upgrade the home (database, blobs, config) and the operator; print an admin token."""
    settings = Settings()
    result = init_home(settings, admin_email=admin_email, demo=demo)
    verb = "Created" if result.created_home else "Upgraded"
    rendering.out.print(f"{verb} aicommons home at [bold]{settings.home}[/]")
    rendering.out.print(f"Administrator: {result.admin.email} (operator)")
    rendering.out.print("Admin API token (shown once; running init again replaces it):")
    print(result.token.token)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default from settings: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings: 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Local job worker processes (0: none).")] = None,
    api_processes: Annotated[int | None, typer.Option(
        help="API server processes on the port (default from settings: 1); one per core scales predict calls.")] = None,
    access_log: Annotated[bool | None, typer.Option("--access-log/--no-access-log", help="Log every request (default from settings: on).")] = None,
) -> None:
    """Start the API and console, with the job executor."""
    from aicommons.api.server import run_server

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers, "api_processes": api_processes, "access_log": access_log}.items() if v is not None}
    settings = Settings(**overrides)
    url = f"http://{settings.host}:{settings.port}"
    rendering.out.print(f"aicommons console: [bold]{url}/[/]   API: {url}/api/v1   docs: {url}/docs")
    rendering.out.print(f"home {settings.home} · {settings.api_processes} API process(es) · {settings.workers} job worker(s) · "
                        f"executor {settings.executor}")
    run_server(settings)


@app.command()
def worker(workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None) -> None:
    """Run only the job executor (no API), until interrupted."""
    import signal
    import threading

    from aicommons.core.jobs import executors
    from aicommons.core.registry import load_plugins
    from aicommons.core.runtime import Runtime

    settings = Settings(**({"workers": workers} if workers is not None else {}))
    runtime = Runtime.from_settings(settings)
    load_plugins(settings.plugins)
    executor = executors.get(settings.executor)(runtime)
    executor.start()
    rendering.out.print(f"Executor {settings.executor} running {settings.workers} worker(s); Ctrl-C stops it.")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        executor.stop()
        runtime.close()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = Settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    db.upgrade(settings.resolved_database_url)
    rendering.out.print(f"Database at revision {', '.join(db.head_revisions())}.")


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the one this version needs."""
    settings = Settings()
    engine = db.create_db_engine(settings.resolved_database_url)
    try:
        current = db.current_revisions(engine)
    finally:
        engine.dispose()
    rendering.out.print(f"current: {', '.join(current) or 'none'}   needed: {', '.join(db.head_revisions())}")
    if set(current) != set(db.head_revisions()):
        raise typer.Exit(1)
