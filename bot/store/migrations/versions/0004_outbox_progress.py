"""What a failed delivery already did on the platform (a channel it made, the parts of a long
message it posted), so that its retry goes on from there instead of doing it twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress', sa.String(length=2000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('progress')
