"""citybrain: simulation runs of signal controllers with their results

Revision ID: 0009_citybrain
Revises: 0008_annotation
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db
from sqlalchemy.dialects import postgresql

revision = '0009_citybrain'
down_revision = '0008_annotation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('citybrain_runs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('net_sha256', sa.String(length=64), nullable=False),
    sa.Column('routes_sha256', sa.String(length=64), nullable=False),
    sa.Column('controller', sa.String(length=60), nullable=False),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('timing', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('seeds', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('results', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_citybrain_runs_job_id_jobs')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_citybrain_runs_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citybrain_runs'))
    )
    with op.batch_alter_table('citybrain_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citybrain_runs_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_citybrain_runs_org_id'), ['org_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('citybrain_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citybrain_runs_org_id'))
        batch_op.drop_index(batch_op.f('ix_citybrain_runs_job_id'))

    op.drop_table('citybrain_runs')
