"""citybrain: run kinds (signal control, green wave, incidents) with their scenario parameters

Revision ID: 0010_citybrain_kinds
Revises: 0009_citybrain
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0010_citybrain_kinds'
down_revision = '0009_citybrain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('citybrain_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=30), server_default='signal-control', nullable=False))
        batch_op.add_column(sa.Column('scenario', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='{}', nullable=False))
        batch_op.create_index(batch_op.f('ix_citybrain_runs_kind'), ['kind'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('citybrain_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citybrain_runs_kind'))
        batch_op.drop_column('scenario')
        batch_op.drop_column('kind')
