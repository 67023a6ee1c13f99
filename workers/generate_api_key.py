"""The key-generation job: re-check the requester and the team's approval, make the secret."""

from __future__ import annotations

import logging

from domain.api_keys import generate_api_key as generate
from workers.runner import JobRun, WorkerContext

log = logging.getLogger("teamkeys.api_keys")


def generate_api_key(ctx: WorkerContext, run: JobRun, api_key_id: str) -> None:
    with ctx.db.unit_of_work() as uow:
        key = generate(uow.session, ctx.secret_box, api_key_id)
        run.finish(uow.session)
        uow.commit()
    if key is not None:
        log.info(
            "api key %s (%s) is %s%s",
            key.id,
            key.kind,
            key.status,
            f": {key.failure_reason}" if key.failure_reason else "",
        )
