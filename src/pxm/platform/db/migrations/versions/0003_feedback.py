"""patient feedback: surveys, invitations, responses, complaints (filled in by the feedback feature)

Revision ID: 0003_feedback
Revises: 0002_resolution
"""

revision = "0003_feedback"
down_revision = "0002_resolution"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
