"""lists at scale: an org's evaluation runs, filings, City Brain runs and ledger transactions, and
filings of one status, walked newest first in index order instead of sorted whole

Revision ID: 0017_list_indexes
Revises: 0016_sign_in_limits
Create Date: 2026-11-25
"""

from alembic import op

revision = '0017_list_indexes'
down_revision = '0016_sign_in_limits'
branch_labels = None
depends_on = None

INDEXES = [
    ('evaluations', 'ix_evaluations_org_id_id', ['org_id', 'id']),
    ('filings', 'ix_filings_org_id_id', ['org_id', 'id']),
    ('filings', 'ix_filings_status_id', ['status', 'id']),
    ('citybrain_runs', 'ix_citybrain_runs_org_id_id', ['org_id', 'id']),
    ('ledger_transactions', 'ix_ledger_transactions_org_id_id', ['org_id', 'id']),
]


def upgrade() -> None:
    for table, name, columns in INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, name, _ in reversed(INDEXES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)
