"""evaluation snapshots

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07

The evaluation of a completed month or quarter by one dimension, stored by the
scheduler (`central/evaluation_snapshots.py`) so that the statistics page reads
one row instead of aggregating the period's tickets on every request.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "evaluation_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("bucket_start", sa.String(length=10), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("row_schema", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_snapshots")),
        sa.UniqueConstraint(
            "period",
            "bucket_start",
            "dimension",
            "timezone",
            name=op.f("uq_evaluation_snapshots_period"),
        ),
    )


def downgrade() -> None:
    op.drop_table("evaluation_snapshots")
