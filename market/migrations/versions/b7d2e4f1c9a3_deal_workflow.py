"""deal workflow: consent before disclosure, note audience, 核定技术交易额, listing close reason, e-mail setting

Revision ID: b7d2e4f1c9a3
Revises: b7d2e5f10c43
Create Date: 2026-12-02 09:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d2e4f1c9a3'
down_revision = 'b7d2e5f10c43'
branch_labels = None
depends_on = None

LISTINGS = ('achievement', 'need')


def upgrade():
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.add_column(sa.Column('offered_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('consent_due', sa.Date(), nullable=True))
    with op.batch_alter_table('match_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('internal', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approved_tech_amount', sa.Numeric(16, 2), nullable=True))
        batch_op.add_column(sa.Column('approved_note', sa.Text(), nullable=True))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_notices', sa.Boolean(), server_default=sa.true(), nullable=False))
    for table in LISTINGS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('close_reason', sa.String(length=20), nullable=True))
            batch_op.add_column(sa.Column('close_note', sa.Text(), nullable=True))
            batch_op.add_column(sa.Column('closed_at', sa.DateTime(), nullable=True))
    # notes written before notes had an audience stay among brokers and staff
    op.execute("UPDATE match_event SET internal = true WHERE action = 'note'")
    # matches the parties already knew of (introduced, or past it) stay theirs; their release is unchanged
    op.execute("UPDATE match SET offered_at = COALESCE(introduced_at, updated_at) "
               "WHERE status IN ('accepted', 'introduced', 'negotiating', 'contracted') "
               "OR (status = 'closed' AND introduced_at IS NOT NULL)")


def downgrade():
    for table in LISTINGS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('closed_at')
            batch_op.drop_column('close_note')
            batch_op.drop_column('close_reason')
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('email_notices')
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.drop_column('approved_note')
        batch_op.drop_column('approved_tech_amount')
    with op.batch_alter_table('match_event', schema=None) as batch_op:
        batch_op.drop_column('internal')
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.drop_column('consent_due')
        batch_op.drop_column('offered_at')
