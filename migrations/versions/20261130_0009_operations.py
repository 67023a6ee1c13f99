"""Operations: the scheduler lease (one active scheduler at a time) and the request id a job
carries into its log lines.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

import domain.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("beat_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("request_id")
    op.drop_table("scheduler_lease")
