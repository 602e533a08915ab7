"""routing decisions (with their explanations) and routing settings (one row of defaults)

Revision ID: 0006_routing
Revises: 0005_people_extras
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_routing"
down_revision = "0005_people_extras"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('routing_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('step1_after_seconds', sa.Integer(), nullable=False),
    sa.Column('step2_after_seconds', sa.Integer(), nullable=False),
    sa.Column('sweep_interval_seconds', sa.Integer(), nullable=False),
    sa.Column('sweep_batch', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_settings'))
    )
    op.create_table('routing_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('previous_staff_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('candidates', sa.Integer(), nullable=False),
    sa.Column('basis', sa.String(length=20), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('requirements', sa.JSON(), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_routing_decisions_case_id_cases')),
    sa.ForeignKeyConstraint(['previous_staff_id'], ['staff.id'],
                            name=op.f('fk_routing_decisions_previous_staff_id_staff')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_routing_decisions_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_decisions'))
    )
    op.create_index('ix_routing_decisions_case_at', 'routing_decisions', ['case_id', 'decided_at'], unique=False)
    op.create_index('ix_routing_decisions_staff_at', 'routing_decisions', ['staff_id', 'decided_at'], unique=False)
    settings = sa.table(
        "routing_settings", sa.column("id", sa.Integer), sa.column("step1_after_seconds", sa.Integer),
        sa.column("step2_after_seconds", sa.Integer), sa.column("sweep_interval_seconds", sa.Integer),
        sa.column("sweep_batch", sa.Integer), sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("updated_by", sa.String),
    )
    op.execute(settings.insert().values(
        id=1, step1_after_seconds=120, step2_after_seconds=300, sweep_interval_seconds=30,
        sweep_batch=500, updated_at=sa.func.now(), updated_by="migration",
    ))


def downgrade() -> None:
    op.drop_index('ix_routing_decisions_staff_at', table_name='routing_decisions')
    op.drop_index('ix_routing_decisions_case_at', table_name='routing_decisions')
    op.drop_table('routing_decisions')
    op.drop_table('routing_settings')
