"""The plenum board: each workshop's link to its live board, revocable.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.add_column(sa.Column('board_token', sa.String(length=64), nullable=True))
        # A board is found by its token; several workshops without a link may all have NULL.
        batch_op.create_unique_constraint('uq_workshops_board_token', ['board_token'])


def downgrade() -> None:
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        batch_op.drop_constraint('uq_workshops_board_token', type_='unique')
        batch_op.drop_column('board_token')
