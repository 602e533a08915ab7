"""patient service desk: contacts, cases, SLA, routing (filled in by the service-desk feature)

Revision ID: 0002_resolution
Revises: 0001_platform
"""

revision = "0002_resolution"
down_revision = "0001_platform"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
