"""observatory: subsidy applications and their decisions

Revision ID: 0013_subsidies
Revises: 0012_statistics
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db
from sqlalchemy.dialects import postgresql

revision = '0013_subsidies'
down_revision = '0012_statistics'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('subsidy_applications',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=False),
    sa.Column('item', sa.String(length=60), nullable=False),
    sa.Column('level', sa.String(length=60), nullable=True),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('project_key', sa.String(length=100), nullable=False),
    sa.Column('bases', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('quoted_fen', sa.BigInteger(), nullable=False),
    sa.Column('quote', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('decision', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('decided_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_subsidy_applications_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subsidy_applications'))
    )
    with op.batch_alter_table('subsidy_applications', schema=None) as batch_op:
        batch_op.create_index('ix_subsidy_applications_org_project', ['org_id', 'project_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_subsidy_applications_item'), ['item'], unique=False)
        batch_op.create_index(batch_op.f('ix_subsidy_applications_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subsidy_applications_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_subsidy_applications_year'), ['year'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('subsidy_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subsidy_applications_year'))
        batch_op.drop_index(batch_op.f('ix_subsidy_applications_status'))
        batch_op.drop_index(batch_op.f('ix_subsidy_applications_org_id'))
        batch_op.drop_index(batch_op.f('ix_subsidy_applications_item'))
        batch_op.drop_index('ix_subsidy_applications_org_project')

    op.drop_table('subsidy_applications')
