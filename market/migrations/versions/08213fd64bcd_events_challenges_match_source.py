"""hall events (sign-ups, pairs, history), 揭榜挂帅 (calls, applications, scores, objections, history), match.source

Revision ID: 08213fd64bcd
Revises: b7d2e4f1c9a3
Create Date: 2026-12-02 09:17:01

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '08213fd64bcd'
down_revision = 'b7d2e4f1c9a3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hall_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=True),
    sa.Column('online_url', sa.String(length=300), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('achievement_ids', sa.JSON(), nullable=False),
    sa.Column('need_ids', sa.JSON(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('seat_lock', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_hall_event_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_hall_event_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hall_event'))
    )
    with op.batch_alter_table('hall_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hall_event_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_hall_event_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hall_event_station_id'), ['station_id'], unique=False)

    op.create_table('challenge_application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=False),
    sa.Column('team_name', sa.String(length=100), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('solution', sa.Text(), nullable=False),
    sa.Column('team', sa.Text(), nullable=False),
    sa.Column('prior_results', sa.Text(), nullable=False),
    sa.Column('achievement_id', sa.Integer(), nullable=True),
    sa.Column('file_key', sa.String(length=40), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('file_mime', sa.String(length=40), nullable=True),
    sa.Column('stage', sa.String(length=12), nullable=False),
    sa.Column('dropped_at_stage', sa.String(length=12), nullable=True),
    sa.Column('drop_reason', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['achievement_id'], ['achievement.id'], name=op.f('fk_challenge_application_achievement_id_achievement')),
    sa.ForeignKeyConstraint(['applicant_id'], ['user_account.id'], name=op.f('fk_challenge_application_applicant_id_user_account')),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_challenge_application_need_id_need')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_application')),
    sa.UniqueConstraint('need_id', 'applicant_id', name=op.f('uq_challenge_application_need_id'))
    )
    with op.batch_alter_table('challenge_application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_application_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenge_application_need_id'), ['need_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenge_application_stage'), ['stage'], unique=False)

    op.create_table('challenge_objection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('contact', sa.String(length=120), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_challenge_objection_need_id_need')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_challenge_objection_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_objection'))
    )
    with op.batch_alter_table('challenge_objection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_objection_need_id'), ['need_id'], unique=False)

    op.create_table('hall_event_signup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('contact_key', sa.String(length=130), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=True),
    sa.Column('email', sa.String(length=120), nullable=True),
    sa.Column('org_name', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('queued_at', sa.DateTime(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['hall_event.id'], name=op.f('fk_hall_event_signup_event_id_hall_event')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_hall_event_signup_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hall_event_signup')),
    sa.UniqueConstraint('event_id', 'contact_key', name=op.f('uq_hall_event_signup_event_id')),
    sa.UniqueConstraint('token', name=op.f('uq_hall_event_signup_token'))
    )
    with op.batch_alter_table('hall_event_signup', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hall_event_signup_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hall_event_signup_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_hall_event_signup_user_id'), ['user_id'], unique=False)

    op.create_table('challenge',
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('criteria', sa.JSON(), nullable=False),
    sa.Column('expert_ids', sa.JSON(), nullable=False),
    sa.Column('awarded_id', sa.Integer(), nullable=True),
    sa.Column('publicity_from', sa.DateTime(), nullable=True),
    sa.Column('objection_until', sa.DateTime(), nullable=True),
    sa.Column('finalised_at', sa.DateTime(), nullable=True),
    sa.Column('match_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['awarded_id'], ['challenge_application.id'], name=op.f('fk_challenge_awarded_id_challenge_application')),
    sa.ForeignKeyConstraint(['match_id'], ['match.id'], name=op.f('fk_challenge_match_id_match')),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_challenge_need_id_need')),
    sa.PrimaryKeyConstraint('need_id', name=op.f('pk_challenge'))
    )
    op.create_table('challenge_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_stage', sa.String(length=12), nullable=True),
    sa.Column('to_stage', sa.String(length=12), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_challenge_log_actor_id_user_account')),
    sa.ForeignKeyConstraint(['application_id'], ['challenge_application.id'], name=op.f('fk_challenge_log_application_id_challenge_application')),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_challenge_log_need_id_need')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_log'))
    )
    with op.batch_alter_table('challenge_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_challenge_log_need_id'), ['need_id'], unique=False)

    op.create_table('challenge_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('marks', sa.JSON(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['challenge_application.id'], name=op.f('fk_challenge_score_application_id_challenge_application')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user_account.id'], name=op.f('fk_challenge_score_reviewer_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_challenge_score')),
    sa.UniqueConstraint('application_id', 'reviewer_id', name=op.f('uq_challenge_score_application_id'))
    )
    with op.batch_alter_table('challenge_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_challenge_score_application_id'), ['application_id'], unique=False)

    op.create_table('hall_event_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('signup_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_hall_event_log_actor_id_user_account')),
    sa.ForeignKeyConstraint(['event_id'], ['hall_event.id'], name=op.f('fk_hall_event_log_event_id_hall_event')),
    sa.ForeignKeyConstraint(['signup_id'], ['hall_event_signup.id'], name=op.f('fk_hall_event_log_signup_id_hall_event_signup')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hall_event_log'))
    )
    with op.batch_alter_table('hall_event_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hall_event_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_hall_event_log_event_id'), ['event_id'], unique=False)

    op.create_table('hall_event_pair',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('need_id', sa.Integer(), nullable=False),
    sa.Column('achievement_id', sa.Integer(), nullable=False),
    sa.Column('match_id', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['achievement_id'], ['achievement.id'], name=op.f('fk_hall_event_pair_achievement_id_achievement')),
    sa.ForeignKeyConstraint(['event_id'], ['hall_event.id'], name=op.f('fk_hall_event_pair_event_id_hall_event')),
    sa.ForeignKeyConstraint(['match_id'], ['match.id'], name=op.f('fk_hall_event_pair_match_id_match')),
    sa.ForeignKeyConstraint(['need_id'], ['need.id'], name=op.f('fk_hall_event_pair_need_id_need')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user_account.id'], name=op.f('fk_hall_event_pair_recorded_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hall_event_pair')),
    sa.UniqueConstraint('event_id', 'need_id', 'achievement_id', name=op.f('uq_hall_event_pair_event_id'))
    )
    with op.batch_alter_table('hall_event_pair', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hall_event_pair_event_id'), ['event_id'], unique=False)

    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=12), server_default='system', nullable=False))



def downgrade():
    with op.batch_alter_table('match', schema=None) as batch_op:
        batch_op.drop_column('source')

    with op.batch_alter_table('hall_event_pair', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hall_event_pair_event_id'))

    op.drop_table('hall_event_pair')
    with op.batch_alter_table('hall_event_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hall_event_log_event_id'))
        batch_op.drop_index(batch_op.f('ix_hall_event_log_at'))

    op.drop_table('hall_event_log')
    with op.batch_alter_table('challenge_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_score_application_id'))

    op.drop_table('challenge_score')
    with op.batch_alter_table('challenge_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_log_need_id'))
        batch_op.drop_index(batch_op.f('ix_challenge_log_at'))

    op.drop_table('challenge_log')
    op.drop_table('challenge')
    with op.batch_alter_table('hall_event_signup', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hall_event_signup_user_id'))
        batch_op.drop_index(batch_op.f('ix_hall_event_signup_status'))
        batch_op.drop_index(batch_op.f('ix_hall_event_signup_event_id'))

    op.drop_table('hall_event_signup')
    with op.batch_alter_table('challenge_objection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_objection_need_id'))

    op.drop_table('challenge_objection')
    with op.batch_alter_table('challenge_application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_challenge_application_stage'))
        batch_op.drop_index(batch_op.f('ix_challenge_application_need_id'))
        batch_op.drop_index(batch_op.f('ix_challenge_application_applicant_id'))

    op.drop_table('challenge_application')
    with op.batch_alter_table('hall_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hall_event_station_id'))
        batch_op.drop_index(batch_op.f('ix_hall_event_starts_at'))
        batch_op.drop_index(batch_op.f('ix_hall_event_kind'))

    op.drop_table('hall_event')
