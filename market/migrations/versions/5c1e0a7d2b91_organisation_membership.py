"""organisation membership: an account's membership is requested and confirmed (org_state,
org_admin); organisations are verified by a platform admin (verified_at). Existing accounts of an
organisation stay confirmed members and existing organisations count as verified.

Revision ID: 5c1e0a7d2b91
Revises: 72d1946fca94
Create Date: 2026-12-02 06:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = '5c1e0a7d2b91'
down_revision = '72d1946fca94'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('org_state', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('org_admin', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('org_requested_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('org_decided_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_user_account_org_state'), ['org_state'], unique=False)
    op.execute("UPDATE organisation SET verified_at = CURRENT_TIMESTAMP")
    op.execute("UPDATE user_account SET org_state = 'confirmed' WHERE org_id IS NOT NULL")
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.alter_column('org_admin', server_default=None)


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_account_org_state'))
        batch_op.drop_column('org_decided_at')
        batch_op.drop_column('org_requested_at')
        batch_op.drop_column('org_admin')
        batch_op.drop_column('org_state')
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_column('verified_at')
