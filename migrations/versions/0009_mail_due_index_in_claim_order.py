"""mail_message: the due index holds the claim's whole order (status, next_attempt_at, id)

The worker claims the mail due longest first, `ORDER BY next_attempt_at, id`. With the index
on (status, next_attempt_at) PostgreSQL sorted every pending mail that shares a due time
(a burst of signatures, a round of reminders) to break the tie by id; with id in the index
the claim reads its rows in order and stops at the batch. (SQLite keeps the rowid in every
index already; the column changes nothing there.)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 20:30:00.000000
"""
from collections.abc import Sequence

from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_message_due')
        batch_op.create_index(
            'ix_mail_message_due', ['status', 'next_attempt_at', 'id'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_message_due')
        batch_op.create_index('ix_mail_message_due', ['status', 'next_attempt_at'], unique=False)
