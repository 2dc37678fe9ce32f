"""Initial schema: sessions, STM blobs and versions, the interaction log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=16)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("tenant", sa.String(length=128), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("head_version", sa.Integer(), nullable=False),
        sa.Column("last_version", sa.Integer(), nullable=False),
        sa.Column("next_turn", sa.Integer(), nullable=False),
        sa.Column("forked_from_session_id", sa.String(length=128), nullable=True),
        sa.Column("forked_from_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
    )
    op.create_index(op.f("ix_sessions_tenant"), "sessions", ["tenant"])
    op.create_index(op.f("ix_sessions_updated_at"), "sessions", ["updated_at"])
    op.create_index(op.f("ix_sessions_forked_from_session_id"), "sessions", ["forked_from_session_id"])

    op.create_table(
        "stm_blobs",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("shape", sa.JSON(), nullable=False),
        sa.Column("dtype", sa.String(length=16), nullable=False),
        sa.Column("nbytes", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(length=80), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stm_blobs")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Float tensors do not compress: skip TOAST's pglz attempt (a 3 MiB insert 3x faster).
        op.execute("ALTER TABLE stm_blobs ALTER COLUMN data SET STORAGE EXTERNAL")

    op.create_table(
        "stm_versions",
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("parent_version", sa.Integer(), nullable=True),
        sa.Column("kind", _enum("version_kind", "create", "update", "fork", "rollback"), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=True),
        sa.Column("blob_id", AutoId, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["blob_id"],
            ["stm_blobs.id"],
            name=op.f("fk_stm_versions_blob_id_stm_blobs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_stm_versions_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "version", name=op.f("pk_stm_versions")),
    )
    op.create_index(op.f("ix_stm_versions_blob_id"), "stm_versions", ["blob_id"])

    op.create_table(
        "interactions",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=128), nullable=False),
        sa.Column("turn", sa.Integer(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("applied_version", sa.Integer(), nullable=True),
        sa.Column("status", _enum("interaction_status", "pending", "applied", "failed"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_interactions_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
        sa.UniqueConstraint("session_id", "turn", name="uq_interactions_session_turn"),
    )
    op.create_index("ix_interactions_status_session", "interactions", ["status", "session_id"])


def downgrade() -> None:
    op.drop_table("interactions")
    op.drop_table("stm_versions")
    op.drop_table("stm_blobs")
    op.drop_table("sessions")
