"""session token per account: sessions and remember cookies carry it, logout rotates it

Revision ID: 9e4b7c3a1f20
Revises: 5c1e0a7d2b91
Create Date: 2026-12-02 06:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '9e4b7c3a1f20'
down_revision = '5c1e0a7d2b91'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=32), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('session_token')
