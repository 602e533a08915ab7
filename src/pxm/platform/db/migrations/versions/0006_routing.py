"""routing decisions and live operations (filled in by the routing feature)

Revision ID: 0006_routing
Revises: 0005_people_extras
"""

revision = "0006_routing"
down_revision = "0005_people_extras"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
