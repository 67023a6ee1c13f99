"""accounts prove their email; emailed account links; sessions know where they come from

Emails become unique among verified accounts only (a partial unique index), so an address
typed at sign-up never blocks its holder. Accounts that exist already predate the rule and are
verified here. Sign-in throttling moves out of the database (abuse limits are counted by a
rate-limiting library), so ``sign_in_throttles`` goes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import domain.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

VERIFIED = sa.text("email_verified_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_verified_at", domain.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_constraint("uq_accounts_email", type_="unique")
        batch_op.create_index(batch_op.f("ix_accounts_email"), ["email"], unique=False)
    op.execute("UPDATE accounts SET email_verified_at = created_at")
    op.create_index(
        "uq_accounts_verified_email",
        "accounts",
        ["email"],
        unique=True,
        postgresql_where=VERIFIED,
        sqlite_where=VERIFIED,
    )

    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_used_at", domain.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("client", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("ip", sa.String(length=45), nullable=False, server_default="")
        )

    op.create_table(
        "account_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=True),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_links_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_links")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_account_links_token_digest")),
    )
    with op.batch_alter_table("account_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_links_account_id"), ["account_id"], unique=False
        )

    op.drop_table("sign_in_throttles")


def downgrade() -> None:
    shared = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM accounts GROUP BY email HAVING count(*) > 1"))
        .all()
    )
    if shared:
        raise RuntimeError(
            f"cannot downgrade below 0008: {len(shared)} email(s) are shared by unverified "
            "accounts, which the older schema cannot hold; delete those accounts first"
        )
    op.create_table(
        "sign_in_throttles",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_sign_in_throttles")),
    )
    with op.batch_alter_table("account_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_links_account_id"))
    op.drop_table("account_links")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_column("ip")
        batch_op.drop_column("client")
        batch_op.drop_column("last_used_at")
    op.drop_index("uq_accounts_verified_email", table_name="accounts")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_email"))
        batch_op.create_unique_constraint("uq_accounts_email", ["email"])
        batch_op.drop_column("email_verified_at")
