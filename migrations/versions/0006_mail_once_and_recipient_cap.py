"""mail: recipient hash for the per-recipient cap; idempotency records tied to a signer

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(
            'ix_mail_message_recipient', ['recipient_hash', 'created_at'], unique=False
        )

    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f('ix_idempotency_record_subject_hash'), ['subject_hash'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_record_subject_hash'))
        batch_op.drop_column('subject_hash')

    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_message_recipient')
        batch_op.drop_column('recipient_hash')
