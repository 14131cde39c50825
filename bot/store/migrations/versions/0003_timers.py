"""Phase timers and several processes: APScheduler's job store, when each clock was set,
phases that may advance by themselves, and outbox items taken by one dispatcher at a time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auto_advance', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('armed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.alter_column('auto_advance', server_default=None)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.alter_column('claimed_by', server_default=None)

    op.create_table('apscheduler_jobs',
    sa.Column('id', sa.String(length=191), nullable=False),
    sa.Column('next_run_time', sa.Float(precision=25), nullable=True),
    sa.Column('job_state', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('apscheduler_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apscheduler_jobs_next_run_time'), ['next_run_time'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('apscheduler_jobs')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.drop_column('armed_at')
        batch_op.drop_column('auto_advance')
