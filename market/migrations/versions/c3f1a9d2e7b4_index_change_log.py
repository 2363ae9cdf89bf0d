"""index change log (index_change): every listing change the matching indexes follow, in order

Revision ID: c3f1a9d2e7b4
Revises: 08213fd64bcd
Create Date: 2026-12-02 12:40:00

Existing listings get their rows from `market setup` / `market index rebuild` (index_log.reconcile),
which can build what the matcher needs of a listing; the migration only creates the table.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c3f1a9d2e7b4'
down_revision = '08213fd64bcd'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('index_change',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('op', sa.String(length=8), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=True),
    sa.Column('doc', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_index_change')),
    sqlite_autoincrement=True,
    )
    op.create_index('ix_index_change_listing', 'index_change', ['kind', 'listing_id', 'seq'], unique=False)


def downgrade():
    op.drop_index('ix_index_change_listing', table_name='index_change')
    op.drop_table('index_change')
