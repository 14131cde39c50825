"""A workshop can be closed for follow-up: no more reminders after that.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followup_closed', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.alter_column('followup_closed', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.drop_column('followup_closed')
