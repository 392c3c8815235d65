"""0012_statistics

Revision ID: 0012_statistics
Revises: 0011_enterprises
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = '0012_statistics'
down_revision = '0011_enterprises'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
