"""The ``teamkeys`` command for people who run it."""

from __future__ import annotations

import argparse
import getpass
import importlib.metadata
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from infra.logs import configure_logging
from infra.outages import dependency_down, describe
from infra.settings import InvalidSettings, Settings, get_settings

if TYPE_CHECKING:
    from domain.migration_tickets import TicketView
    from infra.db import Database

log = logging.getLogger("teamkeys")


def exit_zero_on_sigterm() -> None:
    """Make SIGTERM end this command with status 0. While serving, uvicorn takes SIGTERM over
    and stops gracefully (no new connections; in-flight requests finish, up to
    TEAMKEYS_STOP_GRACE_SECONDS), then raises the signal again for the handler it found: this
    one, so a clean stop exits 0 instead of dying of the signal (143). Before serving, SIGTERM
    exits at once."""

    def exit_zero(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, exit_zero)


def grace_seconds(settings: Settings) -> int:
    """The stop grace as uvicorn takes it (whole seconds)."""
    return max(math.ceil(settings.stop_grace_seconds), 1)


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from teamkeys.embedded import Embedded
    from teamkeys.web import build_app

    exit_zero_on_sigterm()
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
            timeout_graceful_shutdown=grace_seconds(settings),
        )
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the stop short
        embedded.stop()  # workers finish their jobs; the scheduler releases its lease
    return 0


def require_production(settings: Settings, process: str) -> None:
    """The web, worker and scheduler processes share one database, broker and encryption key;
    without them each would fall back to the embedded default (its own SQLite file and key, a
    broker nobody consumes) and quietly serve nobody's data. One line per thing missing."""
    problems = settings.production_problems()
    if problems:
        for problem in problems:
            print(f"teamkeys {process}: {problem}", file=sys.stderr, flush=True)
        raise SystemExit(1)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    require_production(settings, "web")
    exit_zero_on_sigterm()
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
    except (InvalidSettings, RuntimeError) as exc:
        raise SystemExit(f"teamkeys web: {exc}") from None
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
        timeout_graceful_shutdown=grace_seconds(settings),
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Dramatiq's CLI, run in this process (its processes fork from it), with our log format
    in every one of them: its own logging setup is skipped (``teamkeys.entrypoint``). On
    SIGTERM each worker process finishes its running jobs (up to TEAMKEYS_STOP_GRACE_SECONDS)
    and gives its prefetched messages back to the broker; ``teamkeys.entrypoint`` makes the
    duplicate SIGTERM of a group kill harmless."""
    require_production(settings, "worker")
    argv = [
        "teamkeys.entrypoint",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
        "--worker-shutdown-timeout",
        str(round(settings.stop_grace_seconds * 1000)),
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
    """The periodic tasks, while this process holds the scheduler lease (one may run on every
    machine; one is active). SIGTERM or Ctrl-C: the task under way finishes, the lease is
    released at once for another scheduler, and the command exits 0."""
    require_production(settings, "scheduler")

    from teamkeys.runtime import build_runtime
    from workers.scheduler import lease_holder, periodic_tasks, run_scheduler

    runtime = build_runtime(settings)
    stop = threading.Event()
    for stopping in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stopping, lambda *_: stop.set())
    try:
        run_scheduler(periodic_tasks(runtime, runtime.relay), stop, lease_holder(runtime))
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


def cmd_invoices_runs(args: argparse.Namespace, settings: Settings) -> int:
    """The latest invoice runs, newest first, and when the next is due (support sees the same
    at ``GET /v1/support/invoice-runs``)."""
    from domain.billing import format_money, latest_invoice_runs, next_run
    from domain.clock import utcnow

    db = _tickets_database(settings)
    try:
        with db.unit_of_work() as uow:
            runs = latest_invoice_runs(uow.session, args.limit)
    finally:
        db.dispose()
    header = ("PERIOD", "SOURCE", "STARTED (UTC)", "FINISHED (UTC)", "TEAMS", "INVOICES", "TOTAL")
    rows = [header] + [
        (
            run.period,
            run.source,
            _when(run.started_at),
            _when(run.finished_at) if run.finished_at else f"running ({run.teams_done} done)",
            f"{run.teams} ({run.teams_failed} failed)" if run.teams_failed else str(run.teams),
            str(run.invoices),
            format_money(run.total_cents, run.currency),
        )
        for run in runs
    ]
    if runs:
        _print_rows(rows)
    else:
        print("no invoice runs yet")
    period, due = next_run(utcnow())
    print(f"next: {period}'s invoices, due {_when(due)} UTC")
    return 0


def _print_rows(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


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
    _print_rows(rows)


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
    tickets.add_argument("--limit", type=positive_int, default=TICKET_PAGE)
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


Number = TypeVar("Number", int, float)


def _number(
    text: str,
    read: Callable[[str], Number],
    fits: Callable[[Number], bool],
    unreadable: str,
    out_of_range: str,
) -> Number:
    """``text`` as ``read`` reads it, if it ``fits``: else argparse's error (``unreadable`` or
    ``out_of_range``, and the text), which argparse says and exits 2 with."""
    try:
        value = read(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{unreadable}: {text!r}") from None
    if not fits(value):
        raise argparse.ArgumentTypeError(f"{out_of_range}: {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse's type for counts: a whole number, 1 or more."""
    return _number(text, int, lambda n: n >= 1, "not a whole number", "must be 1 or more")


def positive_float(text: str) -> float:
    """argparse's type for durations: a number of seconds, more than 0."""
    more_than_0 = "must be a number of seconds more than 0"
    return _number(text, float, lambda n: 0 < n < math.inf, "not a number", more_than_0)


def port(text: str) -> int:
    """argparse's type for TCP ports, 1 to 65535."""
    unreadable = "not a port number"
    return _number(text, int, lambda n: 1 <= n <= 65535, unreadable, f"{unreadable} (1 to 65535)")


def version() -> str:
    try:
        return importlib.metadata.version("teamkeys")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    from domain.billing import INVOICE_BATCH

    parser = argparse.ArgumentParser(prog="teamkeys", description=__doc__)
    parser.add_argument("--version", action="version", version=f"teamkeys {version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev",
        help="run everything in one process on SQLite, with a "
        "local mail sink (the embedded default)",
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=port, default=8000)
    dev.set_defaults(run=cmd_dev)

    web = commands.add_parser("web", help="run the HTTP API")
    web.add_argument("--host", default="127.0.0.1")
    # A string default goes through ``type`` too: PORT=abc is an argparse error, not a traceback.
    web.add_argument("--port", type=port, default=os.environ.get("PORT", "8000"))
    web.add_argument(
        "--workers",
        type=int,
        help="processes serving the API (default: $WEB_CONCURRENCY, else 1); one per core",
    )
    web.set_defaults(run=cmd_web)

    worker = commands.add_parser("worker", help="run Dramatiq workers against the broker")
    worker.add_argument("--processes", type=positive_int, default=2)
    worker.add_argument("--threads", type=positive_int, default=8)
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
    generate.add_argument(
        "--batch", type=positive_int, default=INVOICE_BATCH, help="teams per transaction"
    )
    generate.set_defaults(run=cmd_invoices_generate)
    runs = invoices.add_parser("runs", help="the latest invoice runs, and when the next is due")
    runs.add_argument(
        "--limit", type=positive_int, default=20, help="runs to show (default %(default)s)"
    )
    runs.set_defaults(run=cmd_invoices_runs)

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
        type=positive_float,
        default=30.0,
        help="seconds to wait for each job (default %(default)g)",
    )
    demo.add_argument("--verbose", action="store_true", help="show the system's log lines too")
    demo.set_defaults(run=cmd_demo)

    commands.add_parser(
        "new-encryption-key", help="print a new key for TEAMKEYS_ENCRYPTION_KEY"
    ).set_defaults(run=cmd_new_encryption_key, reads_settings=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not getattr(args, "reads_settings", True):
        # Making a key needs no settings, and must work while the configured one is bad.
        result: int = args.run(args, Settings.model_construct())
        return result
    try:
        settings = get_settings()
    except InvalidSettings as exc:
        for problem in exc.problems:
            print(f"teamkeys: {problem}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level, settings.log_format)
    for warning in settings.warnings():
        log.warning("%s", warning)
    try:
        result = args.run(args, settings)
    except InvalidSettings as exc:  # found as the command went (a key a database needs)
        for problem in exc.problems:
            print(f"teamkeys: {problem}", file=sys.stderr)
        return 1
    except Exception as exc:
        down = dependency_down(exc)
        if down is None:
            raise
        # An operator's command on a database or broker that does not answer: one line.
        if down == "database" and settings.effective_database_url.startswith("sqlite"):
            hint = "is another teamkeys process holding the embedded database?"
        else:
            setting = {"database": "TEAMKEYS_DATABASE_URL", "broker": "TEAMKEYS_BROKER_URL"}[down]
            hint = f"is it running, and is {setting} right?"
        print(f"teamkeys: the {down} does not answer ({describe(exc)}); {hint}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
