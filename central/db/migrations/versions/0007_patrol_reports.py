"""patrol reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Cases grid workers report from their terminal (网格员巡查上报): one
`patrol_reports` row per ticket, with the reporting worker, whether they handled
it themselves, and the key the phone minted for the report, unique per worker,
so that a report sent twice (a retry, an offline queue) opens one ticket.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "patrol_reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("client_key", sa.String(length=64), nullable=False),
        sa.Column("handled_self", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_patrol_reports_ticket_id_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["workers.id"],
            name=op.f("fk_patrol_reports_worker_id_workers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrol_reports")),
        sa.UniqueConstraint(
            "worker_id", "client_key", name=op.f("uq_patrol_reports_worker_id")
        ),
    )
    with op.batch_alter_table("patrol_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_patrol_reports_ticket_id"), ["ticket_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("patrol_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_patrol_reports_ticket_id"))
    op.drop_table("patrol_reports")
