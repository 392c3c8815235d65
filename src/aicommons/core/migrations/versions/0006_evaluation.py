"""evaluation: runs and the prediction cache

Revision ID: 0006_evaluation
Revises: 0005_serving
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db
from sqlalchemy.dialects import postgresql

revision = '0006_evaluation'
down_revision = '0005_serving'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('evaluation_predictions',
    sa.Column('model_sha256', sa.String(length=64), nullable=False),
    sa.Column('input_sha256', sa.String(length=64), nullable=False),
    sa.Column('output_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('model_sha256', 'input_sha256', name=op.f('pk_evaluation_predictions'))
    )
    op.create_table('evaluations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('model_id', sa.String(length=40), nullable=False),
    sa.Column('version_id', sa.String(length=40), nullable=False),
    sa.Column('dataset_version_id', sa.String(length=40), nullable=True),
    sa.Column('suite', sa.String(length=60), nullable=True),
    sa.Column('plan', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=False),
    sa.Column('results', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('reproducibility', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_evaluations_job_id_jobs')),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_evaluations_model_id_models')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_evaluations_org_id_orgs')),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_evaluations_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evaluations_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_model_id'), ['model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evaluations_version_id'), ['version_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_evaluations_version_id'))
        batch_op.drop_index(batch_op.f('ix_evaluations_org_id'))
        batch_op.drop_index(batch_op.f('ix_evaluations_model_id'))
        batch_op.drop_index(batch_op.f('ix_evaluations_job_id'))

    op.drop_table('evaluations')
    op.drop_table('evaluation_predictions')
