"""The schema, as of release 0.1 (revision 0008), in one migration.

Revisions 0001 to 0008 were folded into this one before the first release: they built the
schema step by step during development, and each step repeated the shape of the last. The
revision keeps the id 0008, so a database already at 0008 is at this revision as it is. A
database at an older revision must be upgraded to 0008 with an earlier build first.

Revision ID: 0008
Revises:
"""

import sqlalchemy as sa
from alembic import op

import domain.models

revision = "0008"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("is_support", sa.Boolean(), nullable=False),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("email_verified_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_email"), ["email"], unique=False)
        batch_op.create_index(
            "uq_accounts_verified_email",
            ["email"],
            unique=True,
            postgresql_where=sa.text("email_verified_at IS NOT NULL"),
            sqlite_where=sa.text("email_verified_at IS NOT NULL"),
        )

    op.create_table(
        "emails",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("template", sa.String(length=60), nullable=False),
        sa.Column("cause", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("to_name", sa.String(length=200), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emails")),
        sa.UniqueConstraint("cause", name=op.f("uq_emails_cause")),
    )
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_emails_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_emails_team_id"), ["team_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_due", ["status", "available_at"], unique=False)

    op.create_table(
        "scheduled_runs",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("ran_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "key", name=op.f("pk_scheduled_runs")),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("production_status", sa.String(length=20), nullable=False),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
    )
    op.create_table(
        "usage_counters",
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("key_kind", sa.String(length=12), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "month", "key_kind", name=op.f("pk_usage_counters")),
    )
    op.create_table(
        "usage_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("api_key_id", sa.String(length=40), nullable=False),
        sa.Column("key_kind", sa.String(length=12), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
        sa.UniqueConstraint("team_id", "request_id", name=op.f("uq_usage_records_team_id")),
    )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index("ix_usage_team_day", ["team_id", "occurred_on"], unique=False)

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

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("secret_digest", sa.String(length=64), nullable=True),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("revealed_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_api_keys_created_by_accounts")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_api_keys_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_digest", name=op.f("uq_api_keys_secret_digest")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_team_id"), ["team_id"], unique=False)

    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=False, server_default=""),
        sa.Column("ip", sa.String(length=45), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_auth_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_auth_sessions_token_digest")),
    )
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_auth_sessions_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_auth_sessions_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "custom_models",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_model", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_custom_models_created_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_custom_models_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_models")),
        sa.UniqueConstraint("team_id", "name", name=op.f("uq_custom_models_team_id")),
    )
    with op.batch_alter_table("custom_models", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custom_models_team_id"), ["team_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=True),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=80), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_events_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_team_at", ["team_id", "at"], unique=False)

    op.create_table(
        "invitations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("inviter_id", sa.String(length=40), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=True),
        sa.Column("rotation", sa.Integer(), nullable=False),
        sa.Column("expires_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("account_id", sa.String(length=40), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inviter_id"], ["accounts.id"], name=op.f("fk_invitations_inviter_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_invitations_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("team_id", "email", name=op.f("uq_invitations_team_id")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_invitations_token_digest")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_team_id"), ["team_id"], unique=False)

    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_cents", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"], name=op.f("fk_invoices_team_id_teams")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("team_id", "period", name=op.f("uq_invoices_team_id")),
    )
    op.create_table(
        "memberships",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("joined_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_memberships_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_memberships_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_team_id"), ["team_id"], unique=False)

    op.create_table(
        "migration_tickets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("requester_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("open_account_id", sa.String(length=40), nullable=True),
        sa.Column("token_digest", sa.String(length=64), nullable=True),
        sa.Column("expires_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consent_sent_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source_team_id", sa.String(length=40), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_migration_tickets_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["accounts.id"],
            name=op.f("fk_migration_tickets_requester_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_migration_tickets_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_tickets")),
        sa.UniqueConstraint("open_account_id", name=op.f("uq_migration_tickets_open_account_id")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_migration_tickets_token_digest")),
    )
    with op.batch_alter_table("migration_tickets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_migration_tickets_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_migration_tickets_team_id"), ["team_id"], unique=False)

    op.create_table(
        "payment_methods",
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("billing_email", sa.String(length=320), nullable=False),
        sa.Column("provider_token", sa.String(length=200), nullable=False),
        sa.Column("brand", sa.String(length=20), nullable=False),
        sa.Column("last4", sa.String(length=4), nullable=False),
        sa.Column("exp_month", sa.Integer(), nullable=False),
        sa.Column("exp_year", sa.Integer(), nullable=False),
        sa.Column("updated_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_payment_methods_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_payment_methods")),
    )
    op.create_table(
        "production_applications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("company_name", sa.String(length=200), nullable=False),
        sa.Column("website", sa.String(length=500), nullable=False),
        sa.Column("use_case", sa.Text(), nullable=False),
        sa.Column("expected_monthly_requests", sa.BigInteger(), nullable=False),
        sa.Column("contact_email", sa.String(length=320), nullable=False),
        sa.Column("submitted_by", sa.String(length=40), nullable=False),
        sa.Column("submitted_at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", domain.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=40), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["submitted_by"],
            ["accounts.id"],
            name=op.f("fk_production_applications_submitted_by_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_production_applications_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_production_applications")),
    )
    with op.batch_alter_table("production_applications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_production_applications_status", ["status", "submitted_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_production_applications_team_id"), ["team_id"], unique=False
        )

    op.create_table(
        "migration_ticket_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ticket_id", sa.String(length=40), nullable=False),
        sa.Column("at", domain.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["migration_tickets.id"],
            name=op.f("fk_migration_ticket_changes_ticket_id_migration_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_migration_ticket_changes")),
    )
    with op.batch_alter_table("migration_ticket_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_migration_ticket_changes_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("migration_ticket_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_migration_ticket_changes_ticket_id"))

    op.drop_table("migration_ticket_changes")
    with op.batch_alter_table("production_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_production_applications_team_id"))
        batch_op.drop_index("ix_production_applications_status")

    op.drop_table("production_applications")
    op.drop_table("payment_methods")
    with op.batch_alter_table("migration_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_migration_tickets_team_id"))
        batch_op.drop_index(batch_op.f("ix_migration_tickets_account_id"))

    op.drop_table("migration_tickets")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_team_id"))

    op.drop_table("memberships")
    op.drop_table("invoices")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_team_id"))

    op.drop_table("invitations")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_team_at")

    op.drop_table("events")
    with op.batch_alter_table("custom_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custom_models_team_id"))

    op.drop_table("custom_models")
    with op.batch_alter_table("auth_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_auth_sessions_account_id"))

    op.drop_table("auth_sessions")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_team_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("account_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_links_account_id"))

    op.drop_table("account_links")
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_team_day")

    op.drop_table("usage_records")
    op.drop_table("usage_counters")
    op.drop_table("teams")
    op.drop_table("scheduled_runs")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_due")

    op.drop_table("jobs")
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_emails_team_id"))
        batch_op.drop_index(batch_op.f("ix_emails_status"))

    op.drop_table("emails")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_accounts_verified_email",
            postgresql_where=sa.text("email_verified_at IS NOT NULL"),
            sqlite_where=sa.text("email_verified_at IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_accounts_email"))

    op.drop_table("accounts")
