"""console: failed sign-ins counted for the rate limit, expired sessions found by their expiry

Revision ID: 0016_sign_in_limits
Revises: 0015_console
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db

revision = '0016_sign_in_limits'
down_revision = '0015_console'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sign_in_failures',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('client_hash', sa.String(length=64), nullable=False),
    sa.Column('failed_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failures'))
    )
    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_failures_client_hash'), ['client_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_failures_email_hash'), ['email_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_sign_in_failures_failed_at'), ['failed_at'], unique=False)

    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_sessions_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('console_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_sessions_expires_at'))

    with op.batch_alter_table('sign_in_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_failed_at'))
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_email_hash'))
        batch_op.drop_index(batch_op.f('ix_sign_in_failures_client_hash'))
    op.drop_table('sign_in_failures')
