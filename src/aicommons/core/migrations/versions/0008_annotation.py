"""annotation: projects, their workers, items, tasks, answers and aggregated results

Revision ID: 0008_annotation
Revises: 0007_filing
Create Date: 2026-11-23
"""

from alembic import op
import sqlalchemy as sa
import aicommons.core.db
from sqlalchemy.dialects import postgresql

revision = '0008_annotation'
down_revision = '0007_filing'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('annotation_projects',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('visibility', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('dataset_id', sa.String(length=40), nullable=False),
    sa.Column('dataset_version_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('guidelines', sa.Text(), nullable=False),
    sa.Column('overlap', sa.Integer(), nullable=False),
    sa.Column('max_overlap', sa.Integer(), nullable=False),
    sa.Column('adaptive', sa.Boolean(), nullable=False),
    sa.Column('confidence_threshold', sa.Float(), nullable=False),
    sa.Column('gold_rate', sa.Float(), nullable=False),
    sa.Column('qualification_pass_rate', sa.Float(), nullable=False),
    sa.Column('min_seconds', sa.Float(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('reward_points', sa.Float(), nullable=False),
    sa.Column('deadline', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('prelabeller', sa.String(length=100), nullable=True),
    sa.Column('aggregation_job_id', sa.String(length=40), nullable=True),
    sa.Column('aggregated_method', sa.String(length=10), nullable=True),
    sa.Column('aggregated_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('agreement', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('published_version_id', sa.String(length=40), nullable=True),
    sa.Column('created_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_annotation_projects_dataset_id_datasets')),
    sa.ForeignKeyConstraint(['dataset_version_id'], ['dataset_versions.id'], name=op.f('fk_annotation_projects_dataset_version_id_dataset_versions')),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], name=op.f('fk_annotation_projects_org_id_orgs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation_projects')),
    sa.UniqueConstraint('org_id', 'name', name='uq_annotation_projects_org_id_name')
    )
    with op.batch_alter_table('annotation_projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_projects_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annotation_projects_org_id'), ['org_id'], unique=False)

    op.create_table('annotation_items',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('is_gold', sa.Boolean(), nullable=False),
    sa.Column('is_qualification', sa.Boolean(), nullable=False),
    sa.Column('gold_value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('posterior', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('suggested', sa.Boolean(), nullable=False),
    sa.Column('suggestion', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['annotation_projects.id'], name=op.f('fk_annotation_items_project_id_annotation_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation_items')),
    sa.UniqueConstraint('project_id', 'record_id', name='uq_annotation_items_project_id_record_id')
    )
    with op.batch_alter_table('annotation_items', schema=None) as batch_op:
        batch_op.create_index('ix_annotation_items_project_id_state_answers', ['project_id', 'state', 'answers'], unique=False)

    op.create_table('annotation_workers',
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('skill_correct', sa.Float(), nullable=False),
    sa.Column('skill_wrong', sa.Float(), nullable=False),
    sa.Column('qualification', sa.String(length=10), nullable=False),
    sa.Column('qualification_reason', sa.String(length=300), nullable=False),
    sa.Column('tasks', sa.Integer(), nullable=False),
    sa.Column('answers', sa.Integer(), nullable=False),
    sa.Column('gold_answers', sa.Integer(), nullable=False),
    sa.Column('gold_correct', sa.Integer(), nullable=False),
    sa.Column('flags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('weight', sa.Float(), nullable=False),
    sa.Column('points', sa.Float(), nullable=False),
    sa.Column('joined_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_answer_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['annotation_projects.id'], name=op.f('fk_annotation_workers_project_id_annotation_projects')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_annotation_workers_user_id_users')),
    sa.PrimaryKeyConstraint('project_id', 'user_id', name=op.f('pk_annotation_workers'))
    )
    op.create_table('annotation_results',
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('support', sa.Integer(), nullable=False),
    sa.Column('posteriors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('job_id', sa.String(length=40), nullable=True),
    sa.Column('aggregated_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('review', sa.String(length=10), nullable=True),
    sa.Column('reviewed_value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('review_comment', sa.Text(), nullable=False),
    sa.Column('reviewed_by', sa.String(length=40), nullable=True),
    sa.Column('reviewed_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('review_feedback', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['annotation_items.id'], name=op.f('fk_annotation_results_item_id_annotation_items')),
    sa.ForeignKeyConstraint(['project_id'], ['annotation_projects.id'], name=op.f('fk_annotation_results_project_id_annotation_projects')),
    sa.PrimaryKeyConstraint('item_id', name=op.f('pk_annotation_results'))
    )
    with op.batch_alter_table('annotation_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_results_project_id'), ['project_id'], unique=False)

    op.create_table('annotation_tasks',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('assigned_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('answered_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['annotation_items.id'], name=op.f('fk_annotation_tasks_item_id_annotation_items')),
    sa.ForeignKeyConstraint(['project_id'], ['annotation_projects.id'], name=op.f('fk_annotation_tasks_project_id_annotation_projects')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_annotation_tasks_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation_tasks')),
    sa.UniqueConstraint('item_id', 'user_id', name='uq_annotation_tasks_item_id_user_id')
    )
    with op.batch_alter_table('annotation_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_tasks_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_annotation_tasks_project_id_user_id', ['project_id', 'user_id'], unique=False)

    op.create_table('annotation_answers',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('task_id', sa.String(length=40), nullable=False),
    sa.Column('project_id', sa.String(length=40), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('value', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=True),
    sa.Column('elapsed', sa.Float(), nullable=False),
    sa.Column('gold_correct', sa.Boolean(), nullable=True),
    sa.Column('created_at', aicommons.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['item_id'], ['annotation_items.id'], name=op.f('fk_annotation_answers_item_id_annotation_items')),
    sa.ForeignKeyConstraint(['project_id'], ['annotation_projects.id'], name=op.f('fk_annotation_answers_project_id_annotation_projects')),
    sa.ForeignKeyConstraint(['task_id'], ['annotation_tasks.id'], name=op.f('fk_annotation_answers_task_id_annotation_tasks')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_annotation_answers_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation_answers')),
    sa.UniqueConstraint('task_id', name=op.f('uq_annotation_answers_task_id'))
    )
    with op.batch_alter_table('annotation_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_answers_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_annotation_answers_project_id_user_id', ['project_id', 'user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('annotation_answers', schema=None) as batch_op:
        batch_op.drop_index('ix_annotation_answers_project_id_user_id')
        batch_op.drop_index(batch_op.f('ix_annotation_answers_item_id'))

    op.drop_table('annotation_answers')
    with op.batch_alter_table('annotation_tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_annotation_tasks_project_id_user_id')
        batch_op.drop_index(batch_op.f('ix_annotation_tasks_item_id'))

    op.drop_table('annotation_tasks')
    with op.batch_alter_table('annotation_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotation_results_project_id'))

    op.drop_table('annotation_results')
    op.drop_table('annotation_workers')
    with op.batch_alter_table('annotation_items', schema=None) as batch_op:
        batch_op.drop_index('ix_annotation_items_project_id_state_answers')

    op.drop_table('annotation_items')
    with op.batch_alter_table('annotation_projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotation_projects_org_id'))
        batch_op.drop_index(batch_op.f('ix_annotation_projects_dataset_id'))

    op.drop_table('annotation_projects')
