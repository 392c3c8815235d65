"""observatory: the enterprise registry (培育库)

Revision ID: 0011_enterprises
Revises: 0010_citybrain_kinds
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db
from sqlalchemy.dialects import postgresql

revision = '0011_enterprises'
down_revision = '0010_citybrain_kinds'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('enterprises',
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('city', sa.String(length=20), nullable=False),
    sa.Column('district', sa.String(length=40), nullable=True),
    sa.Column('tiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('ai_fields', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('revenue', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('invention_patents', sa.Integer(), nullable=False),
    sa.Column('standards', sa.Integer(), nullable=False),
    sa.Column('products', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('scenarios', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=True),
    sa.Column('sample', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_enterprises_org_id_orgs')),
    sa.PrimaryKeyConstraint('credit_code', name=op.f('pk_enterprises'))
    )
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enterprises_city'), ['city'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_district'), ['district'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enterprises_sample'), ['sample'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('enterprises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enterprises_sample'))
        batch_op.drop_index(batch_op.f('ix_enterprises_org_id'))
        batch_op.drop_index(batch_op.f('ix_enterprises_name'))
        batch_op.drop_index(batch_op.f('ix_enterprises_district'))
        batch_op.drop_index(batch_op.f('ix_enterprises_city'))

    op.drop_table('enterprises')
