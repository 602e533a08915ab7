"""complaints, reviews, comment analytics (filled in by the feedback text feature)

Revision ID: 0007_feedback_text
Revises: 0006_routing
"""

revision = "0007_feedback_text"
down_revision = "0006_routing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
