"""0011_enterprises

Revision ID: 0011_enterprises
Revises: 0010_citybrain_kinds
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = '0011_enterprises'
down_revision = '0010_citybrain_kinds'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
