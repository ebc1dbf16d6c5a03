"""camera-verified closure

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Closure the camera confirms (`central/verify/`): when a worker resolves a
ticket a camera raised, central asks the node to look again; `camera_checks`
keeps each request (pending until the node answers or the time-out answers
`cannot_verify`), the verdict, its reason, what it did to the ticket, and the
"before" and "after" snapshots.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "camera_checks",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("camera_id", sa.String(length=64), nullable=False),
        sa.Column("zone_id", sa.String(length=64), nullable=True),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("before_sha256", sa.String(length=64), nullable=True),
        sa.Column("after_sha256", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_camera_checks_ticket_id_tickets"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_camera_checks")),
    )
    with op.batch_alter_table("camera_checks", schema=None) as batch_op:
        for column in ("ticket_id", "state", "deadline_at"):
            batch_op.create_index(
                batch_op.f(f"ix_camera_checks_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("camera_checks", schema=None) as batch_op:
        for column in ("ticket_id", "state", "deadline_at"):
            batch_op.drop_index(batch_op.f(f"ix_camera_checks_{column}"))
    op.drop_table("camera_checks")
