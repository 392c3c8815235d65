"""data: per-dataset de-identification key

Revision ID: 0003_deid_secret
Revises: 0002_data
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa


revision = '0003_deid_secret'
down_revision = '0002_data'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deid_secret', sa.String(length=64), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_column('deid_secret')

