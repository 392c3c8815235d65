"""serving: endpoints and usage

Revision ID: 0005_serving
Revises: 0004_models
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db


revision = '0005_serving'
down_revision = '0004_models'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('endpoints',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('visibility', sa.String(length=10), nullable=False),
    sa.Column('model_id', sa.String(length=40), nullable=False),
    sa.Column('version_ref', sa.String(length=40), nullable=False),
    sa.Column('workers', sa.Integer(), nullable=False),
    sa.Column('max_batch_size', sa.Integer(), nullable=False),
    sa.Column('max_wait_ms', sa.Float(), nullable=False),
    sa.Column('latency_cap_ms', sa.Float(), nullable=False),
    sa.Column('rate_limit_per_minute', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_endpoints_model_id_models')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_endpoints_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_endpoints')),
    sa.UniqueConstraint('name', name=op.f('uq_endpoints_name'))
    )
    with op.batch_alter_table('endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endpoints_model_id'), ['model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_endpoints_org_id'), ['org_id'], unique=False)

    op.create_table('endpoint_usage',
    sa.Column('endpoint_id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('minute', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('errors', sa.BigInteger(), nullable=False),
    sa.Column('compute_seconds', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['endpoints.id'], name=op.f('fk_endpoint_usage_endpoint_id_endpoints')),
    sa.PrimaryKeyConstraint('endpoint_id', 'org_id', 'minute', name=op.f('pk_endpoint_usage'))
    )


def downgrade() -> None:
    op.drop_table('endpoint_usage')
    with op.batch_alter_table('endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endpoints_org_id'))
        batch_op.drop_index(batch_op.f('ix_endpoints_model_id'))

    op.drop_table('endpoints')
