"""compute: the double-entry ledger, vouchers and charges

Revision ID: 0014_ledger
Revises: 0013_subsidies
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db
from sqlalchemy.dialects import postgresql

revision = '0014_ledger'
down_revision = '0013_subsidies'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('ledger_accounts',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('balance_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_ledger_accounts_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_accounts')),
    sa.UniqueConstraint('key', name=op.f('uq_ledger_accounts_key'))
    )
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_accounts_org_id'), ['org_id'], unique=False)

    op.create_table('ledger_transactions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('body_digest', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('memo', sa.String(length=500), nullable=False),
    sa.Column('detail', JSON, nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_ledger_transactions_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_transactions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_ledger_transactions_idempotency_key'))
    )
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_transactions_org_id'), ['org_id'], unique=False)

    op.create_table('ledger_postings',
    sa.Column('transaction_id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_ledger_postings_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_ledger_postings_transaction_id_ledger_transactions')),
    sa.PrimaryKeyConstraint('transaction_id', 'account_id', name=op.f('pk_ledger_postings'))
    )
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_postings_account_id'), ['account_id'], unique=False)

    op.create_table('vouchers',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('issuer_org_id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=40), nullable=False),
    sa.Column('face_value_fen', sa.BigInteger(), nullable=False),
    sa.Column('share_percent', sa.Integer(), nullable=False),
    sa.Column('services', JSON, nullable=False),
    sa.Column('valid_from', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('valid_until', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('memo', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['ledger_accounts.id'], name=op.f('fk_vouchers_account_id_ledger_accounts')),
    sa.ForeignKeyConstraint(['issuer_org_id'], ['orgs.id'], name=op.f('fk_vouchers_issuer_org_id_orgs')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_vouchers_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('account_id', name=op.f('uq_vouchers_account_id'))
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouchers_issuer_org_id'), ['issuer_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_org_id'), ['org_id'], unique=False)

    op.create_table('usage_charges',
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('calls', sa.BigInteger(), nullable=False),
    sa.Column('compute_seconds', sa.Float(), nullable=False),
    sa.Column('billed_fen', sa.BigInteger(), nullable=False),
    sa.Column('transaction_id', sa.String(length=40), nullable=True),
    sa.Column('updated_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_usage_charges_org_id_orgs')),
    sa.ForeignKeyConstraint(['transaction_id'], ['ledger_transactions.id'], name=op.f('fk_usage_charges_transaction_id_ledger_transactions')),
    sa.PrimaryKeyConstraint('source', 'source_key', name=op.f('pk_usage_charges'))
    )
    with op.batch_alter_table('usage_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_charges_org_id'), ['org_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('usage_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_charges_org_id'))
    op.drop_table('usage_charges')
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vouchers_org_id'))
        batch_op.drop_index(batch_op.f('ix_vouchers_issuer_org_id'))
    op.drop_table('vouchers')
    with op.batch_alter_table('ledger_postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_postings_account_id'))
    op.drop_table('ledger_postings')
    with op.batch_alter_table('ledger_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_transactions_org_id'))
    op.drop_table('ledger_transactions')
    with op.batch_alter_table('ledger_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_accounts_org_id'))
    op.drop_table('ledger_accounts')
