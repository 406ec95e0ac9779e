"""discrepancy kind (substantive or wording), source label

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows that exist keep the meaning they had: every discrepancy disputed its facts.
    with op.batch_alter_table('discrepancy', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'kind', sa.String(length=12), nullable=False, server_default='substantive'
            )
        )
        batch_op.create_index(batch_op.f('ix_discrepancy_kind'), ['kind'], unique=False)

    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.add_column(sa.Column('label', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_column('label')

    with op.batch_alter_table('discrepancy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discrepancy_kind'))
        batch_op.drop_column('kind')
