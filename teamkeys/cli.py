"""The ``teamkeys`` command for people who run it."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from infra.logs import configure_logging
from infra.settings import Settings, get_settings

if TYPE_CHECKING:
    from domain.migration_tickets import TicketView
    from infra.db import Database

log = logging.getLogger("teamkeys")


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from teamkeys.embedded import Embedded
    from teamkeys.web import build_app

    embedded = Embedded(settings)
    runtime = embedded.start()
    try:
        log.info(
            "teamkeys is running: http://%s:%d (the web console; the API under /v1, docs at /docs)",
            args.host,
            args.port,
        )
        uvicorn.run(
            build_app(runtime),
            host=args.host,
            port=args.port,
            log_level="warning",
            log_config=None,  # uvicorn's lines in our format (infra.logs)
            proxy_headers=False,  # TEAMKEYS_TRUSTED_PROXIES decides (api.app)
        )
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
    asked = (
        str(args.workers) if args.workers is not None else os.environ.get("WEB_CONCURRENCY", "1")
    )
    try:
        workers = int(asked)
    except ValueError:
        workers = 0
    if workers < 1:
        raise SystemExit(
            "teamkeys web: --workers (or WEB_CONCURRENCY) must be a whole number, 1 or more; "
            f"got {asked!r}"
        )
    if workers > 1:
        # A scrape of /metrics reaches one server process; each counts into this directory,
        # and the one scraped adds them all up (infra.metrics).
        from infra.metrics_directory import use_multiprocess_directory

        use_multiprocess_directory(f"web-{args.port}")
    from teamkeys.runtime import build_runtime

    # Each server process makes its own runtime (teamkeys.web.create_served_app); one made
    # here first stops a bad configuration with its message at once, where uvicorn's
    # supervisor would restart processes that cannot start, forever.
    try:
        build_runtime(settings).close()
    except RuntimeError as exc:
        raise SystemExit(f"teamkeys web: {exc}") from exc
    uvicorn.run(
        "teamkeys.web:create_served_app",
        factory=True,
        workers=workers,
        host=args.host,
        port=args.port,
        log_level="info",
        log_config=None,  # uvicorn's lines in our format (infra.logs)
        proxy_headers=False,  # TEAMKEYS_TRUSTED_PROXIES decides (api.app)
        access_log=False,  # teamkeys.access logs route templates, never token paths
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Dramatiq's CLI, run in this process (its processes fork from it), with our log format
    in every one of them: its own logging setup is skipped (``teamkeys.entrypoint``)."""
    require_broker(settings, "worker")
    argv = [
        "teamkeys.entrypoint",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
        "--skip-logging",
    ]
    if settings.worker_metrics_port:
        # Each worker process counts its jobs into this directory; one more process serves
        # them all, added up, on the metrics port.
        from infra.metrics_directory import use_multiprocess_directory

        use_multiprocess_directory(f"worker-{settings.worker_metrics_port}")
        argv += ["--fork-function", "teamkeys.worker_metrics:serve_worker_metrics"]
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    parsed = make_argument_parser().parse_args(argv)  # type: ignore[no-untyped-call]
    code: int = dramatiq_main(parsed)  # type: ignore[no-untyped-call]
    return code


def cmd_scheduler(_args: argparse.Namespace, settings: Settings) -> int:
    import signal

    require_broker(settings, "scheduler")

    from teamkeys.runtime import build_runtime
    from workers.scheduler import periodic_tasks, run_scheduler

    runtime = build_runtime(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        run_scheduler(periodic_tasks(runtime, runtime.relay), stop)
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
    from domain.billing import Period, format_money
    from domain.errors import DomainError
    from teamkeys.runtime import build_runtime
    from workers.billing import issue_invoices

    runtime = build_runtime(settings)
    try:
        issued = issue_invoices(
            runtime.db,
            settings.prices,
            Period.parse(args.period),
            batch=args.batch,
            progress=lambda line: print(line, flush=True),
        )
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        runtime.close()
    totals: dict[str, int] = {}
    for invoice in issued.created:
        totals[invoice.currency] = totals.get(invoice.currency, 0) + invoice.total_cents
    money = ", ".join(format_money(cents, currency) for currency, cents in totals.items())
    print(
        f"done: {len(issued.created)} invoice(s) issued{f' totalling {money}' if money else ''}, "
        f"{issued.existing} left as issued before; owners are emailed through the outbox"
    )
    return 0


def _tickets_database(settings: Settings) -> Database:
    """The database alone: a job written here is left to the relay (in the scheduler
    process), which hands it to the broker the workers read; this command runs no broker."""
    from infra.db import Database, make_engine

    return Database(make_engine(settings.effective_database_url))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _print_table(views: list[TicketView]) -> None:
    header = ("ID", "STATUS", "OPENED (UTC)", "ACCOUNT", "NOW IN", "INTO", "ROLE", "REQUESTER")
    rows = [header]
    for view in views:
        current = view.current_team
        now_in = "-"
        if current is not None:
            now_in = f"{current.team.name} ({current.member_count} members"
            now_in += ", sole owner)" if current.account_is_sole_owner else ")"
        rows.append(
            (
                view.ticket.id,
                view.ticket.status,
                _when(view.ticket.created_at),
                view.account.email,
                now_in,
                view.target_team.name,
                view.ticket.role,
                view.requester.email,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _print_ticket(view: TicketView) -> None:
    ticket, current = view.ticket, view.current_team
    print(f"ticket      {ticket.id}")
    print(f"status      {ticket.status}")
    if ticket.failure_reason:
        print(f"reason      {ticket.failure_reason}")
    print(f"account     {view.account.name} <{view.account.email}> ({view.account.id})")
    if current is not None:
        print(
            f"now in      {current.team.name} ({current.team.id}): {current.member_count} "
            f"member(s), {current.owner_count} owner(s), account is {current.account_role}"
            + (", the sole owner" if current.account_is_sole_owner else "")
        )
    print(f"into        {view.target_team.name} ({view.target_team.id}) as {ticket.role}")
    print(f"requester   {view.requester.name} <{view.requester.email}>")
    print(f"note        {ticket.note or '-'}")
    print(
        f"opened      {_when(ticket.created_at)} UTC; consent link until {_when(ticket.expires_at)}"
    )
    print("history")
    for entry in view.history:
        change = entry.change
        who = entry.actor_email or "system"
        line = f"  {_when(change.at)}  {change.from_status or '(new)'} -> {change.to_status}  {who}"
        print(line + (f"  {change.note}" if change.note else ""))


def cmd_tickets(args: argparse.Namespace, settings: Settings) -> int:
    from domain import migration_tickets as tickets
    from domain.errors import DomainError
    from domain.models import TicketStatus
    from domain.teams import support_agent_by_email

    db = _tickets_database(settings)
    try:
        with db.unit_of_work() as uow:
            action = args.tickets_command
            if action is None:
                status = TicketStatus(args.status) if args.status else None
                views = tickets.ticket_views(uow.session, status=status, limit=args.limit)
                if views:
                    _print_table(views)
                else:
                    print("no tickets" + (f" {args.status}" if args.status else ""))
                return 0
            if action == "show":
                _print_ticket(tickets.ticket_view(uow.session, args.ticket_id))
                return 0
            agent = support_agent_by_email(uow.session, args.agent)
            if action == "approve":
                view = tickets.approve_ticket(uow.session, agent, args.ticket_id, note=args.note)
            else:
                view = tickets.reject_ticket(uow.session, agent, args.ticket_id, reason=args.reason)
            uow.commit()
            done = (
                "approved: the migration job will move the account"
                if action == "approve"
                else "rejected"
            )
            print(f"ticket {view.ticket.id} {done}")
            return 0
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    finally:
        db.dispose()


def _add_tickets_parser(support: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from domain.migration_tickets import TICKET_PAGE
    from domain.models import TicketStatus

    tickets = support.add_parser(
        "tickets",
        help="list and settle account migration tickets",
        description="Without a subcommand: list tickets, oldest first.",
    )
    tickets.add_argument(
        "--status", choices=[str(s) for s in TicketStatus], help="only tickets in this status"
    )
    tickets.add_argument("--limit", type=int, default=TICKET_PAGE)
    tickets.set_defaults(run=cmd_tickets, tickets_command=None)
    actions = tickets.add_subparsers(dest="tickets_command")
    show = actions.add_parser("show", help="one ticket with its history")
    show.add_argument("ticket_id")
    approve = actions.add_parser("approve", help="approve a ticket awaiting review")
    approve.add_argument("ticket_id")
    approve.add_argument("--agent", required=True, help="your support agent email")
    approve.add_argument("--note", default="")
    reject = actions.add_parser("reject", help="reject a ticket awaiting review")
    reject.add_argument("ticket_id")
    reject.add_argument("--agent", required=True, help="your support agent email")
    reject.add_argument("--reason", required=True)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from teamkeys.demo import run_demo

    return run_demo(settings, args.data_dir, timeout=args.timeout, verbose=args.verbose)


def cmd_new_encryption_key(_args: argparse.Namespace, _settings: Settings) -> int:
    from domain.secrets import SecretBox

    print(SecretBox.new_key())
    return 0


def build_parser() -> argparse.ArgumentParser:
    from domain.billing import INVOICE_BATCH

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
    web.add_argument(
        "--workers",
        type=int,
        help="processes serving the API (default: $WEB_CONCURRENCY, else 1); one per core",
    )
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
    _add_tickets_parser(support)
    invoices = commands.add_parser("invoices", help="monthly invoices").add_subparsers(
        dest="invoices_command", required=True
    )
    generate = invoices.add_parser(
        "generate",
        help="issue a month's invoices now (the scheduler does this at 00:05 UTC on the 1st)",
    )
    generate.add_argument("--period", required=True, help="the month, YYYY-MM")
    generate.add_argument("--batch", type=int, default=INVOICE_BATCH, help="teams per transaction")
    generate.set_defaults(run=cmd_invoices_generate)

    demo = commands.add_parser(
        "demo",
        help="walk the whole story over HTTP on the embedded default, printing each step "
        "and the email files it made",
        description="Sign-up, invitation, trial key, Go to Production, production key, "
        "migration ticket settled by support, usage and last month's invoice, in a fresh data "
        "folder (never ./var), on SQLite with the local mail sink.",
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="a new or empty folder for the database, emails and invoice PDF "
        "(default: a new temporary folder)",
    )
    demo.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for each job (default %(default)g)",
    )
    demo.add_argument("--verbose", action="store_true", help="show the system's log lines too")
    demo.set_defaults(run=cmd_demo)

    commands.add_parser(
        "new-encryption-key", help="print a new key for TEAMKEYS_ENCRYPTION_KEY"
    ).set_defaults(run=cmd_new_encryption_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    result: int = args.run(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
