"""stations people can reach: station page fields, station admins and brokers' 领域, 申请对接
requests, the hall's service desk, their history, and the history of station page edits

Revision ID: b7d2e5f10c43
Revises: 9e4b7c3a1f20
Create Date: 2026-12-02 09:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b7d2e5f10c43'
down_revision = '9e4b7c3a1f20'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('station', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('hours', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('served_orgs', sa.JSON(), nullable=True))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('station_admin', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('expertise', sa.String(length=100), nullable=True))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.alter_column('station_admin', server_default=None)

    op.create_table(
        'contact_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('listing_kind', sa.String(length=12), nullable=False),
        sa.Column('listing_id', sa.Integer(), nullable=False),
        sa.Column('listing_title', sa.String(length=200), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('org_name', sa.String(length=100), nullable=False),
        sa.Column('phone', sa.String(length=30), nullable=True),
        sa.Column('email', sa.String(length=120), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('reply', sa.Text(), nullable=True),
        sa.Column('replied_by_id', sa.Integer(), nullable=True),
        sa.Column('replied_at', sa.DateTime(), nullable=True),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('reminded_at', sa.DateTime(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['replied_by_id'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'], ),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('contact_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_request_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_request_station_id'), ['station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_request_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_request_user_id'), ['user_id'], unique=False)

    op.create_table(
        'service_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('service', sa.String(length=20), nullable=False),
        sa.Column('description', sa.Text(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=True),
        sa.Column('broker_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['broker_id'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'], ),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('service_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_request_broker_id'), ['broker_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_request_service'), ['service'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_request_station_id'), ['station_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_request_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_request_user_id'), ['user_id'], unique=False)

    op.create_table(
        'desk_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=True),
        sa.Column('service_id', sa.Integer(), nullable=True),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('from_status', sa.String(length=12), nullable=True),
        sa.Column('to_status', sa.String(length=12), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['contact_id'], ['contact_request.id'], ),
        sa.ForeignKeyConstraint(['service_id'], ['service_request.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('desk_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_desk_event_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_desk_event_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_desk_event_service_id'), ['service_id'], unique=False)

    op.create_table(
        'station_edit',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('station_id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], ),
        sa.ForeignKeyConstraint(['station_id'], ['station.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('station_edit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_station_edit_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_station_edit_station_id'), ['station_id'], unique=False)


def downgrade():
    for table, indexes in (('station_edit', ('at', 'station_id')), ('desk_event', ('at', 'contact_id', 'service_id')),
                           ('service_request', ('broker_id', 'service', 'station_id', 'status', 'user_id')),
                           ('contact_request', ('listing_id', 'station_id', 'status', 'user_id'))):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in indexes:
                batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
        op.drop_table(table)
    # plain ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35 too): a batch copy of these two tables, which the
    # others reference, would trip SQLite's foreign-key checks once they hold rows
    for table, columns in (('user_account', ('expertise', 'station_admin')),
                           ('station', ('served_orgs', 'description', 'hours', 'phone', 'address'))):
        for column in columns:
            op.drop_column(table, column)
