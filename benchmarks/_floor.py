"""The floor for benchmarks.invitation_pipeline: the same path (HTTP -> database -> Redis ->
worker -> render -> SMTP -> recorded) on the same stack with next to nothing on it, to tell
what the path itself costs from what teamkeys adds to it.

An HTTP route (FastAPI under the same uvicorn) that validates the same body, inserts one row
with one SQLAlchemy Core statement and, after commit, hands its id to a Dramatiq actor; the
actor sends the same email as ``benchmarks._bare_actor`` and marks the row sent with one UPDATE.
No authentication, no permission check, no outbox, no audit, no retries: not a design, a
measure. The benchmark makes its table: ``floor_invitations (id, email, status)``.

    uvicorn --factory benchmarks._floor:create_app  (BENCH_DATABASE_URL, ...)
    dramatiq benchmarks._floor                       (BENCH_DATABASE_URL, BENCH_REDIS_URL, ...)
"""

from __future__ import annotations

import functools
import os
import uuid

import dramatiq
from fastapi import FastAPI
from pydantic import BaseModel, EmailStr
from sqlalchemy import Engine, create_engine, text

from benchmarks._bare_actor import broker, send_email


@functools.cache
def engine() -> Engine:
    return create_engine(os.environ["BENCH_DATABASE_URL"], pool_size=10)


@dramatiq.actor(queue_name="floor_invitations", max_retries=0, broker=broker)
async def send_and_record(invitation_id: str, to_address: str) -> None:
    await send_email(to_address)
    with engine().begin() as conn:
        conn.execute(
            text("UPDATE floor_invitations SET status = 'sent' WHERE id = :id"),
            {"id": invitation_id},
        )


class InvitationIn(BaseModel):
    email: EmailStr
    role: str


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/teams/{team_id}/invitations", status_code=202)
    def invite(team_id: str, body: InvitationIn) -> dict[str, str]:
        invitation_id = uuid.uuid4().hex
        with engine().begin() as conn:
            conn.execute(
                text("INSERT INTO floor_invitations VALUES (:id, :email, 'queued')"),
                {"id": invitation_id, "email": body.email},
            )
        send_and_record.send(invitation_id, body.email)
        return {"id": invitation_id, "status": "queued"}

    return app
