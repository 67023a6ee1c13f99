"""A real worker process over many jobs: does its memory grow?

    python -m benchmarks.worker_memory [--jobs 100000] [--kind redelivery|email]
        [--processes 1] [--threads 8]

A fresh PostgreSQL database gets N welcome emails and their `send_email` outbox jobs, made in
bulk with generate_series; the N messages go to Redis through the jobs' own actor. One
`teamkeys worker` (Dramatiq's main process and its worker process) consumes them all:

- `--kind email`: the emails are queued, each job does the whole path against an SMTP sink
  in a process of its own: claim, render, send, record, done (about 50 jobs/s on 2 cores);
- `--kind redelivery` (the default, so that 100,000 jobs take minutes, not half an hour):
  the jobs are done already, and each message is an at-least-once redelivery that the runner
  claims in a locking transaction and drops: Dramatiq, the actor and one unit of work per job.

Its RSS (VmRSS from /proc of the worker's main process and every descendant) is sampled after
warm-up (10 % of the jobs done) and at the end. Printed: RSS at both points, the growth in %
(target < 10 %), the peak, and jobs/s.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
from sqlalchemy import create_engine, text

from benchmarks._harness import (
    KEY,
    REDIS_URL,
    Sink,
    flush_namespace,
    fresh_database,
    spawn,
    stop,
    teamkeys_env,
    workers,
)
from benchmarks._proc import rss_kib

SEED = """
INSERT INTO emails (id, template, cause, team_id, to_address, to_name, context, status,
                    attempts, created_at)
SELECT 'eml_bench_' || n, 'welcome', 'bench:' || n, NULL, 'person' || n || '@example.com',
       'Person ' || n,
       json_build_object('team_name', 'Team ' || n, 'account_name', 'Person ' || n,
                         'reason', 'you signed up for teamkeys with this address.',
                         'recipient_name', 'Person ' || n),
       :email_status, 0, now()
FROM generate_series(1, :n) n;
INSERT INTO jobs (id, name, args, status, attempts, available_at, created_at)
SELECT 'job_bench_' || n, 'send_email', json_build_object('email_id', 'eml_bench_' || n),
       :job_status, 0, now(), now()
FROM generate_series(1, :n) n;
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--kind", choices=("redelivery", "email"), default="redelivery")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    n: int = args.jobs
    logs = Path(tempfile.mkdtemp(prefix="teamkeys-bench-memory-"))
    print(
        f"{n} send_email jobs ({args.kind}), one worker --processes {args.processes} --threads "
        f"{args.threads}; logs in {logs}"
    )

    from infra.settings import Settings
    from teamkeys.migrate import upgrade
    from teamkeys.runtime import build_runtime

    sink = Sink()
    namespace = f"teamkeys-bench-{uuid.uuid4().hex[:8]}"
    try:
        with fresh_database() as url:
            upgrade(url)
            engine = create_engine(url)
            started = time.perf_counter()
            email = args.kind == "email"
            params = {
                "n": n,
                "email_status": "queued" if email else "sent",
                "job_status": "pending" if email else "done",
            }
            with engine.begin() as conn:
                for statement in SEED.split(";"):
                    if statement.strip():
                        conn.execute(text(statement), params)
            print(f"seeded {n} emails and jobs in {time.perf_counter() - started:.1f} s")

            env = teamkeys_env(url, namespace, sink.port)
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                database_url=url,
                broker_url=REDIS_URL,
                redis_namespace=namespace,
                encryption_key=KEY,
            )
            runtime = build_runtime(settings)
            backlog = redis.Redis.from_url(REDIS_URL)
            worker = spawn(
                workers(["teamkeys.cli", "worker"], args.processes, args.threads),
                env,
                logs / "worker.log",
            )
            try:
                actor = runtime.actors["send_email"]
                started = time.perf_counter()
                with engine.connect() as conn:
                    ids = conn.execute(text("SELECT id FROM jobs ORDER BY id")).scalars().all()

                sent = [0]

                def enqueue() -> None:
                    for job_id in ids:
                        actor.send(job_id)
                        sent[0] += 1
                    print(f"enqueued {n} messages in {time.perf_counter() - started:.1f} s")

                # Enqueue alongside the worker, so the warm-up sample is taken on time.
                enqueuing = threading.Thread(target=enqueue, daemon=True)
                enqueuing.start()

                def consumer_backlog() -> int:
                    """Messages not yet acknowledged: Dramatiq deletes one from the queue's
                    ``.msgs`` hash only on ack, after the actor ran."""
                    return int(backlog.hlen(f"{namespace}:email.msgs"))

                def done() -> int:
                    if email:
                        with engine.connect() as conn:
                            return int(
                                conn.execute(
                                    text("SELECT count(*) FROM jobs WHERE status = 'done'")
                                ).scalar_one()
                            )
                    enqueued = sent[0]
                    return enqueued - consumer_backlog()

                warm_at = max(n // 10, 1)
                warm_rss = peak = 0
                warm_time = 0.0
                warm_done = 0
                while (finished := done()) < n:
                    if worker.poll() is not None:
                        raise RuntimeError(f"the worker exited; see {logs / 'worker.log'}")
                    rss = rss_kib(worker.pid)
                    peak = max(peak, rss)
                    if not warm_rss and finished >= warm_at:
                        warm_rss, warm_time, warm_done = rss, time.perf_counter(), finished
                        print(f"after warm-up ({finished} jobs done): RSS {rss / 1024:.1f} MiB")
                    time.sleep(1.0)
                end_time = time.perf_counter()
                end_rss = rss_kib(worker.pid)
                peak = max(peak, end_rss)
                total = end_time - started
            finally:
                stop(worker)
                backlog.close()
                runtime.broker.flush_all()
                runtime.close()
                engine.dispose()
                flush_namespace(namespace)
        delivered = sink.count()
    finally:
        sink.stop()
    growth = (end_rss - warm_rss) / warm_rss * 100 if warm_rss else float("nan")
    rate_after_warmup = (n - warm_done) / (end_time - warm_time) if warm_time else float("nan")
    print(f"at the end ({n} jobs done)     : RSS {end_rss / 1024:.1f} MiB")
    print(f"growth after warm-up          : {growth:+.1f} % (target < 10 %)")
    print(f"peak RSS                      : {peak / 1024:.1f} MiB")
    print(
        f"throughput                    : {n / total:.1f} jobs/s overall, "
        f"{rate_after_warmup:.1f} jobs/s after warm-up; {delivered} emails in the sink"
    )


if __name__ == "__main__":
    main()
