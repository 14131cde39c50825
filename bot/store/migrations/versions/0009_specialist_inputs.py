"""Specialists (fagpersoner) asked for their input on a målepunkt before the workshop.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('specialist_inputs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('measure_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('reminded', sa.Boolean(), nullable=False),
    sa.Column('situation', sa.Text(), nullable=False),
    sa.Column('realistic', sa.Text(), nullable=False),
    sa.Column('pitfalls', sa.Text(), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('workshop_id', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workshop_id'], ['workshops.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('workshop_id', 'id')
    )


def downgrade() -> None:
    op.drop_table('specialist_inputs')
