"""staff skills (languages, reasons, channels) as jsonb on PostgreSQL

Routing tests every available agent's skills for each new case (``@>``); a ``json`` column is parsed again for
each row each time. SQLite keeps JSON text (nothing to change).

Revision ID: 0008_staff_skills_jsonb
Revises: 0007_feedback_text
"""

from alembic import op

revision = "0008_staff_skills_jsonb"
down_revision = "0007_feedback_text"
branch_labels = None
depends_on = None

_COLUMNS = ("languages", "reasons", "channels")


def _retype(to: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in _COLUMNS:
        op.execute(f"ALTER TABLE staff ALTER COLUMN {column} TYPE {to} USING {column}::{to}")


def upgrade() -> None:
    _retype("jsonb")


def downgrade() -> None:
    _retype("json")
