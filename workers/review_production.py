"""The production review job: the automatic checks, run once per application."""

from __future__ import annotations

import logging

from domain.production import review_application
from workers.runner import JobRun, WorkerContext

log = logging.getLogger("teamkeys.production")


def review_production(ctx: WorkerContext, run: JobRun, application_id: str) -> None:
    with ctx.db.unit_of_work() as uow:
        application = review_application(uow.session, application_id, ctx.policies.review_policy)
        run.finish(uow.session)
        uow.commit()
    if application is not None:
        log.info(
            "production application %s of team %s: %s",
            application.id,
            application.team_id,
            application.status,
        )
