"""patient service desk: contact reasons, business calendars, SLA policies, cases, contacts, case events,
escalations (seeds the reason list, a default calendar and default SLA policies)

Revision ID: 0002_resolution
Revises: 0001_platform
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_resolution"
down_revision = "0001_platform"
branch_labels = None
depends_on = None

REASONS = [
    ("appointment_scheduling", "Appointment scheduling"),
    ("billing", "Billing"),
    ("prescription_refill", "Prescription refill"),
    ("test_results", "Test results"),
    ("referral", "Referral"),
    ("records_request", "Records request"),
    ("medical_advice", "Medical advice"),
    ("complaint", "Complaint"),
    ("other", "Other"),
]

# (reason, priority, first response minutes, resolution minutes, business hours only)
SLA_POLICIES = [
    (None, None, 240, 1200, True),            # default: 4 business hours / 2 business days
    (None, "low", 480, 3000, True),
    (None, "high", 60, 480, True),
    (None, "urgent", 30, 240, False),          # around the clock
    ("medical_advice", None, 60, 480, True),
    ("prescription_refill", None, 120, 1200, True),
    ("test_results", None, 240, 960, True),
    ("complaint", None, 240, 3000, True),
    ("records_request", None, 480, 3000, True),
]

WEEKDAY_HOURS = {str(d): ["08:00", "18:00"] for d in range(1, 6)}


def upgrade() -> None:
    op.create_table('contact_reasons',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_contact_reasons'))
    )
    op.create_table('business_calendars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['facility_id'], ['org_units.id'], name=op.f('fk_business_calendars_facility_id_org_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_calendars')),
    sa.UniqueConstraint('facility_id', name=op.f('uq_business_calendars_facility_id'))
    )
    op.create_table('sla_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=True),
    sa.Column('priority', sa.String(length=10), nullable=True),
    sa.Column('first_response_minutes', sa.Integer(), nullable=False),
    sa.Column('resolution_minutes', sa.Integer(), nullable=False),
    sa.Column('business_hours', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['reason'], ['contact_reasons.code'], name=op.f('fk_sla_policies_reason_contact_reasons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('reason', 'priority', name='uq_sla_policies_reason_priority')
    )
    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_ref', sa.String(length=80), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=True),
    sa.Column('source', sa.String(length=12), nullable=False),
    sa.Column('team', sa.String(length=80), nullable=True),
    sa.Column('facility_id', sa.Integer(), nullable=True),
    sa.Column('assigned_staff_id', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reopened_count', sa.Integer(), nullable=False),
    sa.Column('resolution_code', sa.String(length=40), nullable=True),
    sa.Column('first_response_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_breached', sa.Boolean(), nullable=False),
    sa.Column('resolution_breached', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_staff_id'], ['staff.id'], name=op.f('fk_cases_assigned_staff_id_staff')),
    sa.ForeignKeyConstraint(['facility_id'], ['org_units.id'], name=op.f('fk_cases_facility_id_org_units')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_cases_patient_id_patients')),
    sa.ForeignKeyConstraint(['reason'], ['contact_reasons.code'], name=op.f('fk_cases_reason_contact_reasons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_cases_external_ref'))
    )
    op.create_index('ix_cases_assigned_status', 'cases', ['assigned_staff_id', 'status'], unique=False)
    op.create_index(op.f('ix_cases_facility_id'), 'cases', ['facility_id'], unique=False)
    op.create_index(op.f('ix_cases_opened_at'), 'cases', ['opened_at'], unique=False)
    op.create_index('ix_cases_patient_reason', 'cases', ['patient_id', 'reason'], unique=False)
    op.create_index(op.f('ix_cases_status'), 'cases', ['status'], unique=False)
    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    op.create_index('ix_case_events_case_at', 'case_events', ['case_id', 'at'], unique=False)
    op.create_table('contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=80), nullable=True),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('abandoned', sa.Boolean(), nullable=False),
    sa.Column('resolved', sa.Boolean(), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['staff.id'], name=op.f('fk_contacts_agent_id_staff')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_contacts_case_id_cases')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_contacts_patient_id_patients')),
    sa.ForeignKeyConstraint(['reason'], ['contact_reasons.code'], name=op.f('fk_contacts_reason_contact_reasons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('external_id', name=op.f('uq_contacts_external_id'))
    )
    op.create_index(op.f('ix_contacts_agent_id'), 'contacts', ['agent_id'], unique=False)
    op.create_index('ix_contacts_case_started', 'contacts', ['case_id', 'started_at'], unique=False)
    op.create_index('ix_contacts_patient_started', 'contacts', ['patient_id', 'started_at'], unique=False)
    op.create_index(op.f('ix_contacts_started_at'), 'contacts', ['started_at'], unique=False)
    op.create_table('escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('target', sa.String(length=20), nullable=False),
    sa.Column('cycle', sa.Integer(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('previous_priority', sa.String(length=10), nullable=False),
    sa.Column('new_priority', sa.String(length=10), nullable=False),
    sa.Column('supervisor_staff_id', sa.Integer(), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_escalations_case_id_cases')),
    sa.ForeignKeyConstraint(['supervisor_staff_id'], ['staff.id'], name=op.f('fk_escalations_supervisor_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations')),
    sa.UniqueConstraint('case_id', 'target', 'cycle', name='uq_escalations_case_target_cycle')
    )
    op.create_index(op.f('ix_escalations_case_id'), 'escalations', ['case_id'], unique=False)

    reasons = sa.table("contact_reasons", sa.column("code", sa.String), sa.column("label", sa.String),
                       sa.column("active", sa.Boolean), sa.column("sort_order", sa.Integer))
    op.bulk_insert(reasons, [{"code": c, "label": lbl, "active": True, "sort_order": i}
                             for i, (c, lbl) in enumerate(REASONS)])
    calendars = sa.table("business_calendars", sa.column("facility_id", sa.Integer), sa.column("name", sa.String),
                         sa.column("timezone", sa.String), sa.column("hours", sa.JSON),
                         sa.column("holidays", sa.JSON))
    op.bulk_insert(calendars, [{"facility_id": None, "name": "Default (Mon-Fri 08:00-18:00)",
                                "timezone": "America/New_York", "hours": WEEKDAY_HOURS, "holidays": []}])
    policies = sa.table("sla_policies", sa.column("reason", sa.String), sa.column("priority", sa.String),
                        sa.column("first_response_minutes", sa.Integer), sa.column("resolution_minutes", sa.Integer),
                        sa.column("business_hours", sa.Boolean), sa.column("active", sa.Boolean))
    op.bulk_insert(policies, [{"reason": r, "priority": p, "first_response_minutes": fr, "resolution_minutes": rs,
                               "business_hours": bh, "active": True} for r, p, fr, rs, bh in SLA_POLICIES])


def downgrade() -> None:
    op.drop_index(op.f('ix_escalations_case_id'), table_name='escalations')
    op.drop_table('escalations')
    op.drop_index(op.f('ix_contacts_started_at'), table_name='contacts')
    op.drop_index('ix_contacts_patient_started', table_name='contacts')
    op.drop_index('ix_contacts_case_started', table_name='contacts')
    op.drop_index(op.f('ix_contacts_agent_id'), table_name='contacts')
    op.drop_table('contacts')
    op.drop_index('ix_case_events_case_at', table_name='case_events')
    op.drop_table('case_events')
    op.drop_index(op.f('ix_cases_status'), table_name='cases')
    op.drop_index('ix_cases_patient_reason', table_name='cases')
    op.drop_index(op.f('ix_cases_opened_at'), table_name='cases')
    op.drop_index(op.f('ix_cases_facility_id'), table_name='cases')
    op.drop_index('ix_cases_assigned_status', table_name='cases')
    op.drop_table('cases')
    op.drop_table('sla_policies')
    op.drop_table('business_calendars')
    op.drop_table('contact_reasons')
