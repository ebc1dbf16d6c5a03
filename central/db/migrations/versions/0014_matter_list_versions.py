"""matter list versions

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

The matter list becomes data an admin edits from the console
(`central/matter_store.py`): every version's YAML text, its SHA-256, who made it,
when and why. The newest row is the list in force; the first is seeded from the
configured (or shipped) file at the next start.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "matter_list_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_list_versions")),
        sa.UniqueConstraint("version", name=op.f("uq_matter_list_versions_version")),
    )


def downgrade() -> None:
    op.drop_table("matter_list_versions")
