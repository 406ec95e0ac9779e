"""incident fact base

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 03:17:28.742017
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('discrepancy',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('about', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_discrepancy'))
    )
    with op.batch_alter_table('discrepancy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discrepancy_position'), ['position'], unique=False)

    op.create_table('fact',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('statement', sa.String(length=1000), nullable=False),
    sa.Column('occurred_date', sa.Date(), nullable=True),
    sa.Column('occurred_end', sa.Date(), nullable=True),
    sa.Column('occurred_precision', sa.String(length=8), nullable=True),
    sa.Column('occurred_inferred', sa.Boolean(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fact'))
    )
    with op.batch_alter_table('fact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fact_occurred_date'), ['occurred_date'], unique=False)
        batch_op.create_index('ix_fact_position_id', ['position', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fact_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_fact_topic'), ['topic'], unique=False)

    op.create_table('incident',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('summary', sa.String(length=4000), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident'))
    )
    op.create_table('source',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('publisher', sa.String(length=200), nullable=True),
    sa.Column('published', sa.Date(), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source')),
    sa.UniqueConstraint('content_sha256', name=op.f('uq_source_content_sha256'))
    )
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_position'), ['position'], unique=False)

    op.create_table('citation',
    sa.Column('fact_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=80), nullable=False),
    sa.Column('quote', sa.String(length=2000), nullable=False),
    sa.Column('start', sa.Integer(), nullable=False),
    sa.Column('end', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['fact_id'], ['fact.id'], name=op.f('fk_citation_fact_id_fact'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_citation_source_id_source')),
    sa.PrimaryKeyConstraint('fact_id', 'position', name=op.f('pk_citation'))
    )
    with op.batch_alter_table('citation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citation_source_id'), ['source_id'], unique=False)

    op.create_table('discrepancy_fact',
    sa.Column('discrepancy_id', sa.String(length=80), nullable=False),
    sa.Column('fact_id', sa.String(length=80), nullable=False),
    sa.ForeignKeyConstraint(['discrepancy_id'], ['discrepancy.id'], name=op.f('fk_discrepancy_fact_discrepancy_id_discrepancy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['fact_id'], ['fact.id'], name=op.f('fk_discrepancy_fact_fact_id_fact'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('discrepancy_id', 'fact_id', name=op.f('pk_discrepancy_fact'))
    )
    op.create_table('discrepancy_version',
    sa.Column('discrepancy_id', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.String(length=80), nullable=False),
    sa.Column('quote', sa.String(length=2000), nullable=False),
    sa.Column('start', sa.Integer(), nullable=False),
    sa.Column('end', sa.Integer(), nullable=False),
    sa.Column('says', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['discrepancy_id'], ['discrepancy.id'], name=op.f('fk_discrepancy_version_discrepancy_id_discrepancy'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_discrepancy_version_source_id_source')),
    sa.PrimaryKeyConstraint('discrepancy_id', 'position', name=op.f('pk_discrepancy_version'))
    )
    with op.batch_alter_table('discrepancy_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_discrepancy_version_source_id'), ['source_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('discrepancy_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discrepancy_version_source_id'))

    op.drop_table('discrepancy_version')
    op.drop_table('discrepancy_fact')
    with op.batch_alter_table('citation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citation_source_id'))

    op.drop_table('citation')
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_position'))

    op.drop_table('source')
    op.drop_table('incident')
    with op.batch_alter_table('fact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fact_topic'))
        batch_op.drop_index(batch_op.f('ix_fact_status'))
        batch_op.drop_index('ix_fact_position_id')
        batch_op.drop_index(batch_op.f('ix_fact_occurred_date'))

    op.drop_table('fact')
    with op.batch_alter_table('discrepancy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_discrepancy_position'))

    op.drop_table('discrepancy')
