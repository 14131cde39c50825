"""Each workshop's follow-up reminder settings: how often, and between which hours.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = (("reminder_cadence", sa.String(20), "monthly"), ("work_start", sa.Integer(), "8"),
           ("work_end", sa.Integer(), "16"))


def upgrade() -> None:
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        for name, kind, default in COLUMNS:
            batch_op.add_column(sa.Column(name, kind, nullable=False, server_default=default))
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        for name, _, _ in COLUMNS:
            batch_op.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('workshops', schema=None) as batch_op:
        for name, _, _ in COLUMNS:
            batch_op.drop_column(name)
