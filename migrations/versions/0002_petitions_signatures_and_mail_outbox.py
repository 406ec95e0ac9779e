"""petitions signatures and mail outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:37:48.079555
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('petition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('ask', sa.String(length=1000), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=20000), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('goal', sa.Integer(), nullable=False),
    sa.Column('milestones', sa.JSON(), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petition')),
    sa.UniqueConstraint('slug', name=op.f('uq_petition_slug'))
    )
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_petition_status'), ['status'], unique=False)

    op.create_table('count_shard',
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('shard', sa.Integer(), nullable=False),
    sa.Column('confirmed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['petition_id'], ['petition.id'], name=op.f('fk_count_shard_petition_id_petition'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('petition_id', 'shard', name=op.f('pk_count_shard'))
    )
    op.create_table('petition_version',
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('ask', sa.String(length=1000), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('body', sa.String(length=20000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['petition_id'], ['petition.id'], name=op.f('fk_petition_version_petition_id_petition'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('petition_id', 'number', name=op.f('pk_petition_version'))
    )
    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('petition_id', sa.Integer(), nullable=False),
    sa.Column('petition_version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('email_hash', sa.String(length=64), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('first_name', sa.String(length=100), nullable=True),
    sa.Column('last_name', sa.String(length=100), nullable=True),
    sa.Column('postal_code', sa.String(length=16), nullable=True),
    sa.Column('comment', sa.String(length=500), nullable=True),
    sa.Column('ip_hash', sa.String(length=64), nullable=True),
    sa.Column('county', sa.String(length=80), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=True),
    sa.Column('display_publicly', sa.Boolean(), nullable=False),
    sa.Column('contact_opt_in', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('emails_sent', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['petition_id'], ['petition.id'], name=op.f('fk_signature_petition_id_petition'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature')),
    sa.UniqueConstraint('petition_id', 'email_hash', name=op.f('uq_signature_petition_id_email_hash'))
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index('ix_signature_petition_status_confirmed', ['petition_id', 'status', 'confirmed_at'], unique=False)

    op.create_table('mail_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('template', sa.String(length=40), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('to_address', sa.String(length=320), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('signature_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['signature_id'], ['signature.id'], name=op.f('fk_mail_message_signature_id_signature'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_message'))
    )
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.create_index('ix_mail_message_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_message_signature_id'), ['signature_id'], unique=False)

    op.create_table('signature_token',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('signature_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['signature_id'], ['signature.id'], name=op.f('fk_signature_token_signature_id_signature'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_signature_token'))
    )
    with op.batch_alter_table('signature_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_token_signature_id'), ['signature_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('signature_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_token_signature_id'))

    op.drop_table('signature_token')
    with op.batch_alter_table('mail_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_message_signature_id'))
        batch_op.drop_index('ix_mail_message_due')

    op.drop_table('mail_message')
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index('ix_signature_petition_status_confirmed')

    op.drop_table('signature')
    op.drop_table('petition_version')
    op.drop_table('count_shard')
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_petition_status'))

    op.drop_table('petition')
