"""How many follow-up reminders a goal's owner has left unanswered (two: the facilitator hears).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('smart_goals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unanswered', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('smart_goals', schema=None) as batch_op:
        batch_op.alter_column('unanswered', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('smart_goals', schema=None) as batch_op:
        batch_op.drop_column('unanswered')
