"""The ``teamkeys`` command for people who run it."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import threading

from teamkeys.logs import configure_logging
from teamkeys.settings import Settings, get_settings

log = logging.getLogger("teamkeys")


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app
    from teamkeys.embedded import Embedded

    embedded = Embedded(settings)
    runtime = embedded.start()
    try:
        log.info("teamkeys is running: API on http://%s:%d (docs at /docs)", args.host, args.port)
        uvicorn.run(create_app(runtime), host=args.host, port=args.port, log_level="warning")
    finally:
        embedded.stop()
    return 0


def require_broker(settings: Settings, process: str) -> None:
    """The web, worker and scheduler processes share one Redis; without it each would have a
    private in-process broker nobody consumes, and jobs would never run."""
    if not settings.redis_url:
        raise SystemExit(
            f"teamkeys {process}: TEAMKEYS_REDIS_URL is not set. The web, worker and scheduler "
            "processes need a shared Redis; to run everything in one process without one, use "
            "`teamkeys dev`."
        )


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    require_broker(settings, "web")

    from api.app import create_app
    from teamkeys.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        uvicorn.run(
            create_app(runtime),
            host=args.host,
            port=args.port,
            log_level="info",
            proxy_headers=True,
            access_log=False,  # teamkeys.access logs route templates, never token paths
        )
    finally:
        runtime.close()
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    require_broker(settings, "worker")
    argv = [
        sys.executable,
        "-m",
        "dramatiq",
        "workers.entrypoint",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
    ]
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with Dramatiq's CLI


def cmd_scheduler(_args: argparse.Namespace, settings: Settings) -> int:
    import signal

    require_broker(settings, "scheduler")

    from teamkeys.runtime import build_runtime
    from workers.scheduler import periodic_tasks, run_scheduler

    runtime = build_runtime(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_scheduler(periodic_tasks(runtime), stop)
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
    return 0


def cmd_db_upgrade(_args: argparse.Namespace, settings: Settings) -> int:
    from teamkeys.migrate import upgrade

    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    print("database is up to date")
    return 0


def cmd_add_agent(args: argparse.Namespace, settings: Settings) -> int:
    from domain.accounts import add_support_agent
    from domain.errors import DomainError
    from teamkeys.runtime import build_runtime

    if sys.stdin.isatty():
        password = getpass.getpass("Password for the new support agent: ")
    else:
        password = sys.stdin.readline().rstrip("\n")
    runtime = build_runtime(settings)
    try:
        with runtime.db.unit_of_work() as uow:
            agent = add_support_agent(
                uow.session, runtime.passwords, email=args.email, name=args.name, password=password
            )
            uow.commit()
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    print(f"support agent {agent.email} added ({agent.id})")
    return 0


def cmd_invoices_generate(args: argparse.Namespace, settings: Settings) -> int:
    """The scheduled run, on demand: same function, same rules (idempotent per team and
    period), in batches with progress, emails queued through the outbox."""
    from domain.billing import Period, format_money, generate_invoices, teams_with_production_usage
    from domain.errors import DomainError
    from teamkeys.runtime import build_runtime

    runtime = build_runtime(settings)
    try:
        period = Period.parse(args.period)
        with runtime.db.unit_of_work() as uow:
            teams = teams_with_production_usage(uow.session, period)
        print(f"{period}: {len(teams)} team(s) with production usage")
        created = existing = 0
        totals: dict[str, int] = {}
        for start in range(0, len(teams), args.batch):
            batch = teams[start : start + args.batch]
            with runtime.db.unit_of_work() as uow:
                result = generate_invoices(uow.session, period, settings.prices, batch)
                uow.commit()
            created += len(result.created)
            existing += result.existing
            for invoice in result.created:
                totals[invoice.currency] = totals.get(invoice.currency, 0) + invoice.total_cents
            print(
                f"  {min(start + args.batch, len(teams))}/{len(teams)} teams: "
                f"{created} invoice(s) issued, {existing} already existed",
                flush=True,
            )
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    money = ", ".join(format_money(cents, currency) for currency, cents in totals.items())
    print(
        f"done: {created} invoice(s) issued{f' totalling {money}' if money else ''}, "
        f"{existing} left as issued before; owners are emailed through the outbox"
    )
    return 0


def cmd_new_encryption_key(_args: argparse.Namespace, _settings: Settings) -> int:
    from domain.secrets import SecretBox

    print(SecretBox.new_key())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="teamkeys", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev",
        help="run everything in one process on SQLite, with a "
        "local mail sink (the embedded default)",
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.set_defaults(run=cmd_dev)

    web = commands.add_parser("web", help="run the HTTP API")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    web.set_defaults(run=cmd_web)

    worker = commands.add_parser("worker", help="run Dramatiq workers against Redis")
    worker.add_argument("--processes", type=int, default=2)
    worker.add_argument("--threads", type=int, default=8)
    worker.set_defaults(run=cmd_worker)

    scheduler = commands.add_parser("scheduler", help="run periodic jobs (outbox relay, sweeps)")
    scheduler.set_defaults(run=cmd_scheduler)

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply migrations").set_defaults(run=cmd_db_upgrade)

    support = commands.add_parser("support", help="support agents").add_subparsers(
        dest="support_command", required=True
    )
    add_agent = support.add_parser(
        "add-agent", help="create a support agent (password on standard input)"
    )
    add_agent.add_argument("email")
    add_agent.add_argument("--name", required=True)
    add_agent.set_defaults(run=cmd_add_agent)
    invoices = commands.add_parser("invoices", help="monthly invoices").add_subparsers(
        dest="invoices_command", required=True
    )
    generate = invoices.add_parser(
        "generate",
        help="issue a month's invoices now (the scheduler does this at 00:05 UTC on the 1st)",
    )
    generate.add_argument("--period", required=True, help="the month, YYYY-MM")
    generate.add_argument("--batch", type=int, default=500, help="teams per transaction")
    generate.set_defaults(run=cmd_invoices_generate)

    commands.add_parser(
        "new-encryption-key", help="print a new key for TEAMKEYS_ENCRYPTION_KEY"
    ).set_defaults(run=cmd_new_encryption_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    result: int = args.run(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
