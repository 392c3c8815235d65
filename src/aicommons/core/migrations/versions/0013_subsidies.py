"""0013_subsidies

Revision ID: 0013_subsidies
Revises: 0012_statistics
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa

revision = '0013_subsidies'
down_revision = '0012_statistics'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
