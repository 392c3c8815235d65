"""filing: filings with their review and certificates, and the per-year number sequences

Revision ID: 0007_filing
Revises: 0006_evaluation
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db
from sqlalchemy.dialects import postgresql

revision = '0007_filing'
down_revision = '0006_evaluation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('filing_sequences',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_filing_sequences'))
    )
    op.create_table('filings',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('model_id', sa.String(length=40), nullable=False),
    sa.Column('version_id', sa.String(length=40), nullable=False),
    sa.Column('change_of', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=200), nullable=False),
    sa.Column('service_form', sa.String(length=20), nullable=False),
    sa.Column('application_field', sa.String(length=200), nullable=False),
    sa.Column('algorithm_type', sa.String(length=30), nullable=False),
    sa.Column('self_assessment', sa.Text(), nullable=False),
    sa.Column('public_content', sa.Text(), nullable=False),
    sa.Column('intended_use', sa.Text(), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('dataset_version_id', sa.String(length=40), nullable=True),
    sa.Column('evaluation_params', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('evaluation_id', sa.String(length=40), nullable=True),
    sa.Column('evaluation_summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('grade', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('risk_level', sa.String(length=10), nullable=True),
    sa.Column('policy_sha256', sa.String(length=64), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('checklist_sha256', sa.String(length=64), nullable=True),
    sa.Column('answers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('judgements', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('review_comment', sa.Text(), nullable=False),
    sa.Column('reviewed_by', sa.String(length=40), nullable=True),
    sa.Column('reviewed_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('number', sa.String(length=100), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=True),
    sa.Column('issued_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('certificate_sha256', sa.String(length=64), nullable=True),
    sa.Column('certificate_pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('report_sha256', sa.String(length=64), nullable=True),
    sa.Column('report_pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('public_report_sha256', sa.String(length=64), nullable=True),
    sa.Column('ended_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', sa.String(length=40), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=False),
    sa.Column('superseded_by', sa.String(length=40), nullable=True),
    sa.Column('submitted_by', sa.String(length=40), nullable=True),
    sa.Column('submitted_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['change_of'], ['filings.id'], name=op.f('fk_filings_change_of_filings')),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_filings_model_id_models')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_filings_org_id_orgs')),
    sa.ForeignKeyConstraint(['version_id'], ['model_versions.id'], name=op.f('fk_filings_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_filings')),
    sa.UniqueConstraint('number', 'revision', name='uq_filings_number_revision')
    )
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filings_evaluation_id'), ['evaluation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filings_model_id'), ['model_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filings_number'), ['number'], unique=False)
        batch_op.create_index(batch_op.f('ix_filings_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filings_risk_level'), ['risk_level'], unique=False)
        batch_op.create_index(batch_op.f('ix_filings_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_filings_version_id'), ['version_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('filings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filings_version_id'))
        batch_op.drop_index(batch_op.f('ix_filings_status'))
        batch_op.drop_index(batch_op.f('ix_filings_risk_level'))
        batch_op.drop_index(batch_op.f('ix_filings_org_id'))
        batch_op.drop_index(batch_op.f('ix_filings_number'))
        batch_op.drop_index(batch_op.f('ix_filings_model_id'))
        batch_op.drop_index(batch_op.f('ix_filings_evaluation_id'))

    op.drop_table('filings')
    op.drop_table('filing_sequences')
