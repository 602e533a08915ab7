"""patient feedback: survey instruments, invitations, responses, message outbox

Revision ID: 0003_feedback
Revises: 0002_resolution
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_feedback"
down_revision = "0002_resolution"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_instruments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_instruments")),
        sa.UniqueConstraint("code", "version", name="uq_survey_instruments_code_version"),
    )
    with op.batch_alter_table("survey_instruments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_instruments_code"), ["code"], unique=False)

    op.create_table(
        "survey_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("reminder_token_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=200), nullable=True),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("trigger_ref", sa.String(length=80), nullable=True),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("max_reminders", sa.Integer(), nullable=False),
        sa.Column("reminder_after_days", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["org_units.id"], name=op.f("fk_survey_invitations_department_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["encounter_id"], ["encounters.id"], name=op.f("fk_survey_invitations_encounter_id_encounters")
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["survey_instruments.id"],
            name=op.f("fk_survey_invitations_instrument_id_survey_instruments"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_survey_invitations_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["staff.id"], name=op.f("fk_survey_invitations_provider_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitations")),
        sa.UniqueConstraint("reminder_token_hash", name=op.f("uq_survey_invitations_reminder_token_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_survey_invitations_token_hash")),
        sa.UniqueConstraint("trigger_ref", name=op.f("uq_survey_invitations_trigger_ref")),
    )
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_invitations_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_survey_invitations_encounter_id"), ["encounter_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_survey_invitations_instrument_id"), ["instrument_id"], unique=False
        )
        batch_op.create_index(
            "ix_survey_invitations_patient_created", ["patient_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_survey_invitations_status_send_after", ["status", "send_after"], unique=False
        )

    op.create_table(
        "message_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_key", sa.String(length=120), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("to", sa.LargeBinary(), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("sender", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["survey_invitations.id"],
            name=op.f("fk_message_outbox_invitation_id_survey_invitations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_message_outbox_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_outbox")),
        sa.UniqueConstraint("delivery_key", name=op.f("uq_message_outbox_delivery_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_message_outbox_message_id")),
    )
    with op.batch_alter_table("message_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_outbox_invitation_id"), ["invitation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_outbox_patient_id"), ["patient_id"], unique=False)

    op.create_table(
        "survey_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("instrument_version", sa.String(length=40), nullable=False),
        sa.Column("invitation_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("external_id", sa.String(length=120), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("encounter_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("text_answers", sa.LargeBinary(), nullable=True),
        sa.Column("comment", sa.LargeBinary(), nullable=True),
        sa.Column("comment_masked", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["org_units.id"], name=op.f("fk_survey_responses_department_id_org_units")
        ),
        sa.ForeignKeyConstraint(
            ["encounter_id"], ["encounters.id"], name=op.f("fk_survey_responses_encounter_id_encounters")
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["survey_instruments.id"],
            name=op.f("fk_survey_responses_instrument_id_survey_instruments"),
        ),
        sa.ForeignKeyConstraint(
            ["invitation_id"],
            ["survey_invitations.id"],
            name=op.f("fk_survey_responses_invitation_id_survey_invitations"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_survey_responses_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["staff.id"], name=op.f("fk_survey_responses_provider_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("external_id", name=op.f("uq_survey_responses_external_id")),
        sa.UniqueConstraint("invitation_id", name=op.f("uq_survey_responses_invitation_id")),
    )
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_responses_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_survey_responses_department_id"), ["department_id"], unique=False
        )
        batch_op.create_index(
            "ix_survey_responses_instrument_submitted", ["instrument_id", "submitted_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_survey_responses_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_survey_responses_provider_id"), ["provider_id"], unique=False)



def downgrade() -> None:
    with op.batch_alter_table("survey_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_responses_provider_id"))
        batch_op.drop_index(batch_op.f("ix_survey_responses_patient_id"))
        batch_op.drop_index("ix_survey_responses_instrument_submitted")
        batch_op.drop_index(batch_op.f("ix_survey_responses_department_id"))
        batch_op.drop_index(batch_op.f("ix_survey_responses_case_id"))

    op.drop_table("survey_responses")
    with op.batch_alter_table("message_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_outbox_patient_id"))
        batch_op.drop_index(batch_op.f("ix_message_outbox_invitation_id"))

    op.drop_table("message_outbox")
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_invitations_status_send_after")
        batch_op.drop_index("ix_survey_invitations_patient_created")
        batch_op.drop_index(batch_op.f("ix_survey_invitations_instrument_id"))
        batch_op.drop_index(batch_op.f("ix_survey_invitations_encounter_id"))
        batch_op.drop_index(batch_op.f("ix_survey_invitations_case_id"))

    op.drop_table("survey_invitations")
    with op.batch_alter_table("survey_instruments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_instruments_code"))

    op.drop_table("survey_instruments")
