"""stored CXM impact studies (filled in by the study feature)

Revision ID: 0004_study
Revises: 0003_feedback
"""

revision = "0004_study"
down_revision = "0003_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
