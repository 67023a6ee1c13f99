"""Account migration as rules: approval, and the migration job's re-checks when things changed
between approval and the job. Over HTTP, with the consent link read out of its email and the
workers running the jobs, in tests/e2e/test_migrations.py."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from domain import migration_tickets, teams
from domain.errors import Conflict
from domain.jobs import JobName
from domain.models import (
    Account,
    Email,
    Event,
    Job,
    Membership,
    MigrationTicket,
    Role,
    TicketStatus,
)
from infra.services import Services
from tests.rules.conftest import People, refused


@pytest.fixture
def sam(session: Session, people: People) -> Account:
    """A support agent: a verified account in no team."""
    agent = people.sign_up("Sam")
    session.delete(people.membership(agent))
    agent.is_support = True
    session.commit()
    return agent


def consented_ticket(
    session: Session, services: Services, owner: Account, person: Account
) -> MigrationTicket:
    """A ticket ``owner`` opened for ``person``, who accepted it (the consent link itself is
    tested over HTTP)."""
    ticket = migration_tickets.open_ticket(
        session,
        owner,
        session.get_one(Membership, owner.id).team_id,
        email=person.email,
        role=Role.USER,
        note="our new lead",
        policy=services.migration_policy,
        limits=services.limiter,
    )
    ticket.status = TicketStatus.AWAITING_REVIEW
    session.commit()
    return ticket


def approved(session: Session, sam: Account, ticket: MigrationTicket) -> None:
    migration_tickets.approve_ticket(session, sam, ticket.id, note="ok")
    session.commit()


def migrated(session: Session, ticket: MigrationTicket) -> MigrationTicket | None:
    """The migration job's run on ``ticket``."""
    done = migration_tickets.migrate_account(session, ticket.id)
    session.commit()
    return done


def count(session: Session, model: type[Event | Job], *where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_approving_twice_runs_one_migration_and_a_second_job_run_changes_nothing(
    session: Session, services: Services, people: People, sam: Account
) -> None:
    carol = people.sign_up("Carol")
    eve = people.sign_up("Eve")
    dave = people.join(people.team_of(eve), "Dave")
    ticket = consented_ticket(session, services, carol, dave)

    approved(session, sam, ticket)
    with refused(session, Conflict, "ticket_not_awaiting_review"):
        migration_tickets.approve_ticket(session, sam, ticket.id, note="again")
    done = migrated(session, ticket)
    assert done is not None and done.status == TicketStatus.COMPLETED
    assert migrated(session, ticket) is None  # the job delivered again

    assert count(session, Event, Event.action == "member.migrated_in") == 1
    assert count(session, Job, Job.name == JobName.MIGRATE_ACCOUNT) == 1  # one approval's
    # Carol asked, Dave moved, Eve owns the team he left: one outcome email each.
    outcomes = select(Email.to_address).where(Email.template == "migration_outcome")
    assert sorted(session.scalars(outcomes)) == sorted([carol.email, dave.email, eve.email])
    assert people.team_of(dave) == people.team_of(carol)


def test_the_job_fails_when_the_account_joined_the_team_meanwhile(
    session: Session, services: Services, people: People, sam: Account
) -> None:
    carol = people.sign_up("Carol")
    dave = people.sign_up("Dave")
    ticket = consented_ticket(session, services, carol, dave)
    approved(session, sam, ticket)
    session.get_one(Membership, dave.id).team_id = people.team_of(carol)
    session.commit()

    failed = migrated(session, ticket)

    assert failed is not None and failed.status == TicketStatus.FAILED
    assert failed.failure_reason is not None and "already a member" in failed.failure_reason


def test_the_job_fails_when_the_requester_is_no_longer_an_owner(
    session: Session, services: Services, people: People, sam: Account
) -> None:
    carol = people.sign_up("Carol")
    team_id = people.team_of(carol)
    olga = people.join(team_id, "Olga", role=Role.OWNER)
    dave = people.sign_up("Dave")
    daves_team = people.team_of(dave)
    ticket = consented_ticket(session, services, carol, dave)
    teams.change_role(session, olga, team_id, carol.id, Role.USER)
    session.commit()
    approved(session, sam, ticket)

    failed = migrated(session, ticket)

    assert failed is not None and failed.status == TicketStatus.FAILED
    assert failed.failure_reason is not None and "no longer an owner" in failed.failure_reason
    assert people.team_of(dave) == daves_team
