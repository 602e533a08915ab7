"""people extras (filled in by the people feature if it needs columns)

Revision ID: 0005_people_extras
Revises: 0004_study
"""

revision = "0005_people_extras"
down_revision = "0004_study"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
