"""held signatures' reminders, petition text per language

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 08:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The petition's text in other languages than English: {"es": {"title", "ask", "target",
    # "body"}}. Versions keep theirs, as signers saw them.
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('translations', sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table('petition_version', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('translations', sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    # When the one reminder to confirm was sent (the worker claims it by setting this).
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_signature_status_created_at', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index('ix_signature_status_created_at')
        batch_op.drop_column('reminded_at')
    with op.batch_alter_table('petition_version', schema=None) as batch_op:
        batch_op.drop_column('translations')
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.drop_column('translations')
