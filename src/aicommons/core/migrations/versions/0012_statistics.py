"""observatory: policy targets, quarterly observations, regional evaluations

Revision ID: 0012_statistics
Revises: 0011_enterprises
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db
from sqlalchemy.dialects import postgresql

revision = '0012_statistics'
down_revision = '0011_enterprises'
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('stat_observations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('indicator', sa.String(length=60), nullable=False),
    sa.Column('region', sa.String(length=6), nullable=False),
    sa.Column('quarter', sa.String(length=6), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('sample', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('recorded_by', sa.String(length=40), nullable=False),
    sa.Column('recorded_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('supersedes', sa.String(length=40), nullable=True),
    sa.Column('superseded_by', sa.String(length=40), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_observations'))
    )
    with op.batch_alter_table('stat_observations', schema=None) as batch_op:
        batch_op.create_index('ix_stat_observations_key', ['indicator', 'region', 'quarter'], unique=False)
        batch_op.create_index(batch_op.f('ix_stat_observations_quarter'), ['quarter'], unique=False)
        batch_op.create_index(batch_op.f('ix_stat_observations_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_stat_observations_sample'), ['sample'], unique=False)
        batch_op.create_index(batch_op.f('ix_stat_observations_superseded_by'), ['superseded_by'], unique=False)

    op.create_table('stat_evaluations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('normalisation', sa.String(length=10), nullable=False),
    sa.Column('weighting', sa.String(length=10), nullable=False),
    sa.Column('indicators', _json(), nullable=False),
    sa.Column('weights', _json(), nullable=False),
    sa.Column('regions', _json(), nullable=False),
    sa.Column('inputs', _json(), nullable=False),
    sa.Column('rows', _json(), nullable=False),
    sa.Column('left_out', _json(), nullable=False),
    sa.Column('arithmetic', _json(), nullable=False),
    sa.Column('sample', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stat_evaluations'))
    )
    with op.batch_alter_table('stat_evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stat_evaluations_year'), ['year'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('stat_evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stat_evaluations_year'))
    op.drop_table('stat_evaluations')

    with op.batch_alter_table('stat_observations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stat_observations_superseded_by'))
        batch_op.drop_index(batch_op.f('ix_stat_observations_sample'))
        batch_op.drop_index(batch_op.f('ix_stat_observations_region'))
        batch_op.drop_index(batch_op.f('ix_stat_observations_quarter'))
        batch_op.drop_index('ix_stat_observations_key')
    op.drop_table('stat_observations')
