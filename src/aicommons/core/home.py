"""Setting up a home: folders, config file, schema, the operator, and (optionally) demo data.

Services add demo data by registering a seeder; the kernel's own seeder creates the demo org.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import db, identity
from aicommons.core.config import DEFAULT_CONFIG_TOML, Settings
from aicommons.core.permissions import Actor
from aicommons.core.registry import Registry, load_plugins
from aicommons.core.runtime import Runtime
from aicommons.core.schemas import OrgCreate, OrgKind, OrgRole, TokenCreated, UserCreate, UserRead, Visibility
from aicommons.core.tables import Org

DemoSeeder = Callable[[Session, Runtime], None]
demo_seeders: Registry[DemoSeeder] = Registry("demo seeder")
# Run by every `init` (idempotent): what a platform ships ready to use, such as public datasets.
SetupStep = Callable[[Session, Runtime, Actor], None]
setup_steps: Registry[SetupStep] = Registry("setup step")

DEFAULT_ADMIN_EMAIL = "admin@aicommons.local"
DEMO_ORG_NAME = "Demo Enterprise"
DEMO_USER_EMAIL = "demo@demo-enterprise.local"


@dataclass(frozen=True)
class InitResult:
    admin: UserRead
    token: TokenCreated
    created_home: bool


def init_home(settings: Settings, *, admin_email: str = DEFAULT_ADMIN_EMAIL, demo: bool = False) -> InitResult:
    """Create or upgrade the home; idempotent. The admin's `init` token is rotated each time."""
    settings.home.mkdir(parents=True, exist_ok=True)
    config_file = settings.home / "config.toml"
    created = not config_file.exists()
    if created:
        config_file.write_text(DEFAULT_CONFIG_TOML)
    db.upgrade(settings.resolved_database_url)
    load_plugins(settings.plugins)
    runtime = Runtime.from_settings(settings)
    try:
        with runtime.session() as session:
            admin, token = identity.bootstrap_operator(session, admin_email)
            operator = identity.actor_for_user_id(session, admin.id)
            for name in setup_steps:
                setup_steps.get(name)(session, runtime, operator)
            if demo:
                for name in demo_seeders:
                    demo_seeders.get(name)(session, runtime)
    finally:
        runtime.close()
    return InitResult(admin=admin, token=token, created_home=created)


@demo_seeders.register("kernel.demo_org")
def seed_demo_org(session: Session, runtime: Runtime) -> None:
    if session.scalar(sa.select(Org.id).where(Org.name == DEMO_ORG_NAME)):
        return
    org = identity.create_org(
        session, None, OrgCreate(name=DEMO_ORG_NAME, kind=OrgKind.enterprise, visibility=Visibility.public)
    )
    identity.create_user(
        session, None,
        UserCreate(email=DEMO_USER_EMAIL, org_id=org.id, org_role=OrgRole.admin, display_name="Demo engineer"),
    )
