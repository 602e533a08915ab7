"""complaints, reviews, comment analytics and closed-loop links (feedback text feature)

comment_analyses/comment_themes (sentiment, themes, PHI-masked text per response), complaints (+ the one-row
complaint_settings due-date policy), public_reviews (+ reply workflow), recovery_links (response/complaint ->
service-recovery case).

Revision ID: 0007_feedback_text
Revises: 0006_routing
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0007_feedback_text"
down_revision = "0006_routing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('complaint_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('acknowledge_days', sa.Integer(), nullable=False),
    sa.Column('standard_days', sa.Integer(), nullable=False),
    sa.Column('complex_days', sa.Integer(), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_settings'))
    )
    op.create_table('public_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_masked', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('author', sa.String(length=120), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('sentiment_score', sa.Float(), nullable=False),
    sa.Column('sentiment_label', sa.String(length=10), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('reply_status', sa.String(length=12), nullable=False),
    sa.Column('reply_text', sa.Text(), nullable=True),
    sa.Column('reply_drafted_by', sa.String(length=120), nullable=True),
    sa.Column('reply_drafted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_approved_by', sa.String(length=120), nullable=True),
    sa.Column('reply_approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reply_published_by', sa.String(length=120), nullable=True),
    sa.Column('reply_published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['org_units.id'], name=op.f('fk_public_reviews_facility_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_public_reviews')),
    sa.UniqueConstraint('url', name=op.f('uq_public_reviews_url'))
    )
    with op.batch_alter_table('public_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_reviews_facility_id'), ['facility_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_public_reviews_posted_at'), ['posted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_public_reviews_reply_status'), ['reply_status'], unique=False)

    op.create_table('complaints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('complex', sa.Boolean(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=True),
    sa.Column('encounter_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.LargeBinary(), nullable=False),
    sa.Column('description_masked', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledge_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('outcome_letter', sa.LargeBinary(), nullable=True),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_complaints_case_id_cases')),
    sa.ForeignKeyConstraint(['department_id'], ['org_units.id'], name=op.f('fk_complaints_department_id_org_units')),
    sa.ForeignKeyConstraint(['encounter_id'], ['encounters.id'], name=op.f('fk_complaints_encounter_id_encounters')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_complaints_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaints'))
    )
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaints_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaints_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_complaints_status_received', ['status', 'received_at'], unique=False)

    op.create_table('comment_analyses',
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('sentiment_score', sa.Float(), nullable=False),
    sa.Column('sentiment_label', sa.String(length=10), nullable=False),
    sa.Column('strongly_negative', sa.Boolean(), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('masked_text', sa.Text(), nullable=False),
    sa.Column('mask_counts', sa.JSON(), nullable=False),
    sa.Column('model_version', sa.String(length=40), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('instrument_code', sa.String(length=40), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('analyzed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['org_units.id'], name=op.f('fk_comment_analyses_department_id_org_units')),
    sa.ForeignKeyConstraint(['response_id'], ['survey_responses.id'], name=op.f('fk_comment_analyses_response_id_survey_responses')),
    sa.PrimaryKeyConstraint('response_id', name=op.f('pk_comment_analyses'))
    )
    with op.batch_alter_table('comment_analyses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_analyses_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_comment_analyses_label_submitted', ['sentiment_label', 'submitted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_comment_analyses_submitted_at'), ['submitted_at'], unique=False)

    op.create_table('recovery_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('response_id', sa.Integer(), nullable=True),
    sa.Column('complaint_id', sa.Integer(), nullable=True),
    sa.Column('trigger', sa.String(length=24), nullable=False),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_recovery_links_case_id_cases')),
    sa.ForeignKeyConstraint(['complaint_id'], ['complaints.id'], name=op.f('fk_recovery_links_complaint_id_complaints')),
    sa.ForeignKeyConstraint(['department_id'], ['org_units.id'], name=op.f('fk_recovery_links_department_id_org_units')),
    sa.ForeignKeyConstraint(['response_id'], ['survey_responses.id'], name=op.f('fk_recovery_links_response_id_survey_responses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_links')),
    sa.UniqueConstraint('complaint_id', name=op.f('uq_recovery_links_complaint_id')),
    sa.UniqueConstraint('response_id', name=op.f('uq_recovery_links_response_id'))
    )
    with op.batch_alter_table('recovery_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_links_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recovery_links_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recovery_links_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_recovery_links_trigger'), ['trigger'], unique=False)

    op.create_table('comment_themes',
    sa.Column('response_id', sa.Integer(), nullable=False),
    sa.Column('theme', sa.String(length=40), nullable=False),
    sa.Column('sentiment_label', sa.String(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['response_id'], ['comment_analyses.response_id'], name=op.f('fk_comment_themes_response_id_comment_analyses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('response_id', 'theme', name=op.f('pk_comment_themes'))
    )
    with op.batch_alter_table('comment_themes', schema=None) as batch_op:
        batch_op.create_index('ix_comment_themes_theme_label', ['theme', 'sentiment_label'], unique=False)

    op.bulk_insert(sa.table('complaint_settings', sa.column('id', sa.Integer()), sa.column('acknowledge_days', sa.Integer()),
                            sa.column('standard_days', sa.Integer()), sa.column('complex_days', sa.Integer()),
                            sa.column('updated_at', sa.DateTime(timezone=True))),
                   [{'id': 1, 'acknowledge_days': 2, 'standard_days': 7, 'complex_days': 21,
                     'updated_at': dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}])
    # ### end Alembic commands ###

def downgrade() -> None:
    with op.batch_alter_table('comment_themes', schema=None) as batch_op:
        batch_op.drop_index('ix_comment_themes_theme_label')

    op.drop_table('comment_themes')
    with op.batch_alter_table('recovery_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_links_trigger'))
        batch_op.drop_index(batch_op.f('ix_recovery_links_opened_at'))
        batch_op.drop_index(batch_op.f('ix_recovery_links_department_id'))
        batch_op.drop_index(batch_op.f('ix_recovery_links_case_id'))

    op.drop_table('recovery_links')
    with op.batch_alter_table('comment_analyses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_analyses_submitted_at'))
        batch_op.drop_index('ix_comment_analyses_label_submitted')
        batch_op.drop_index(batch_op.f('ix_comment_analyses_department_id'))

    op.drop_table('comment_analyses')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_status_received')
        batch_op.drop_index(batch_op.f('ix_complaints_patient_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_department_id'))
        batch_op.drop_index(batch_op.f('ix_complaints_case_id'))

    op.drop_table('complaints')
    with op.batch_alter_table('public_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_public_reviews_reply_status'))
        batch_op.drop_index(batch_op.f('ix_public_reviews_posted_at'))
        batch_op.drop_index(batch_op.f('ix_public_reviews_facility_id'))

    op.drop_table('public_reviews')
    op.drop_table('complaint_settings')
    # ### end Alembic commands ###
