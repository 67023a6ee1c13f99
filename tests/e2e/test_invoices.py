"""Monthly invoices: scheduling (catch-up, two schedulers), pricing, idempotence, the PDF,
the CLI, and who may see them — over HTTP with the worker and SMTP."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, func, select, update

from domain.billing import (
    DEFAULT_PRICES,
    Period,
    Price,
    PriceSchedule,
    check_closed,
    due_at,
    start_run,
)
from domain.errors import InvalidInput
from domain.models import Email, Invoice, InvoiceRun, Job, ScheduledRun, UsageRecord
from infra.settings import Settings, get_settings
from teamkeys import cli
from tests.conftest import System, running_system
from tests.e2e.conftest import AddSupportAgent, dead_emails, run_cli, settings_as_environment
from tests.faulty_sink import FaultySink
from tests.support import text_body, to, wait_until
from workers import billing as billing_worker
from workers import send_email
from workers.billing import generate_invoice, generate_invoice_died, schedule_invoices
from workers.runner import JobRun

Person = dict[str, Any]
#: The last day of last month: always within the 35 days a call may be dated back.
LAST_MONTH_DAY = datetime.now(UTC).replace(
    day=1, hour=12, minute=0, second=0, microsecond=0
) - timedelta(days=1)
PERIOD = str(Period.of(LAST_MONTH_DAY))


def use(
    system: System,
    secret: str,
    request_id: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    when: datetime = LAST_MONTH_DAY,
    *,
    late: bool = False,
) -> None:
    """A call dated ``when``, recorded by the gateway then (the gateway reports calls as they
    happen; the test cannot wait for last month, so the record's time is set back), or with
    ``late``, recorded now: late usage."""
    answer = system.http.post(
        "/v1/usage",
        headers={"Authorization": f"Bearer {secret}"},
        json={
            "id": request_id,
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "occurred_at": when.isoformat(),
        },
    )
    assert answer.status_code == 202, answer.text
    if not late:
        recorded_at(system, request_id, when)


def recorded_at(system: System, request_id: str, when: datetime) -> None:
    """Set the time the call ``request_id`` was recorded, as if the gateway had called then."""
    with system.runtime.db.unit_of_work() as uow:
        uow.session.execute(
            update(UsageRecord).where(UsageRecord.request_id == request_id).values(recorded_at=when)
        )
        uow.commit()


@pytest.fixture
def billed(system: System) -> dict[str, Any]:
    """A team with production usage last month on three models, plus trial usage (free)."""
    owner = system.sign_up("Olive")
    user = system.join(owner["team"]["id"], "Uma")
    system.approve_for_production(owner["team"]["id"])
    live = system.key_secret(owner, "production")
    trial = system.key_secret(owner, "trial")
    system.http.post(
        f"/v1/teams/{owner['team']['id']}/custom-models",
        json={"name": "olive-bot", "base_model": "teamkeys-large"},
        headers=owner["headers"],
    )
    use(system, live, "a", "teamkeys-large", 1_000_000, 100_000)  # 300 + 150 = 450 cents
    use(system, live, "b", "teamkeys-large", 500_000, 0)  # + 150 → 600 cents
    use(system, live, "c", "mystery-model", 10_000, 0)  # default 50/M: 0.5 → 1 cent
    use(system, live, "d", "olive-bot", 0, 1_000_000)  # base model's 1500 cents
    use(system, live, "e", "teamkeys-large", 9_000_000, 0, when=datetime.now(UTC))  # this month
    use(system, trial, "t", "teamkeys-large", 50_000_000, 50_000_000)  # trial: never billed
    down_since_last_month(system)
    return {"owner": owner, "user": user, "team_id": owner["team"]["id"]}


def down_since_last_month(system: System) -> None:
    """The embedded scheduler checked for due months when the system started, before the
    test's usage existed: forget those runs, as if the system had first run on the day before
    last month began (so two months are due) and its scheduler had been down since."""
    with system.runtime.db.unit_of_work() as uow:
        uow.session.execute(delete(ScheduledRun))
        uow.session.add(
            ScheduledRun(
                name="scheduler", key="first_run", ran_at=Period.parse(PERIOD).start - timedelta(1)
            )
        )
        uow.commit()


def run_scheduler(system: System, now: datetime | None = None) -> list[str]:
    """The scheduler's monthly check, as it runs every minute."""
    return schedule_invoices(system.runtime.db, "USD", now)


def invoices(system: System, billed: dict[str, Any], who: str = "owner") -> Any:
    return system.http.get(
        f"/v1/teams/{billed['team_id']}/invoices", headers=billed[who]["headers"]
    )


def test_the_monthly_run_issues_priced_invoices_and_emails_owners(
    system: System,
    billed: dict[str, Any],
) -> None:
    scheduled = run_scheduler(system)
    assert PERIOD in scheduled
    [summary] = wait_until(lambda: invoices(system, billed).json()["items"], what="an invoice")
    assert summary == {
        "id": summary["id"],
        "period": PERIOD,
        "status": "issued",
        "currency": "USD",
        "total_cents": 600 + 1 + 1500,
    }

    detail = system.http.get(
        f"/v1/teams/{billed['team_id']}/invoices/{summary['id']}",
        headers=billed["owner"]["headers"],
    ).json()
    assert detail["lines"] == [
        {
            "model": "mystery-model",
            "description": "mystery-model",
            "late_from": None,
            "calls": 1,
            "input_tokens": 10_000,
            "output_tokens": 0,
            "amount_cents": 1,
        },
        {
            "model": "olive-bot",
            "description": "olive-bot",
            "late_from": None,
            "calls": 1,
            "input_tokens": 0,
            "output_tokens": 1_000_000,
            "amount_cents": 1500,
        },
        {
            "model": "teamkeys-large",
            "description": "teamkeys-large",
            "late_from": None,
            "calls": 2,
            "input_tokens": 1_500_000,
            "output_tokens": 100_000,
            "amount_cents": 600,
        },
    ]
    email = system.sink.wait_for(
        lambda m: to(billed["owner"]["account"]["email"])(m) and "Invoice for" in m["Subject"]
    )
    assert "21.01 USD" in email["Subject"] and PERIOD in text_body(email)
    assert (
        system.sink.count(
            lambda m: to(billed["user"]["account"]["email"])(m) and "Invoice for" in m["Subject"]
        )
        == 0
    )


def test_the_pdf_shows_seller_team_period_lines_and_total(
    system: System, billed: dict[str, Any]
) -> None:
    run_scheduler(system)
    [summary] = wait_until(lambda: invoices(system, billed).json()["items"])
    answer = system.http.get(
        f"/v1/teams/{billed['team_id']}/invoices/{summary['id']}/pdf",
        headers=billed["owner"]["headers"],
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)
    for expected in (
        system.runtime.settings.seller_name,
        "Olive's Team",
        PERIOD,
        "teamkeys-large",
        "olive-bot",
        "mystery-model",
        "15.00 USD",
        "21.01 USD",
    ):
        assert expected in text, expected


def test_only_owners_see_invoices(system: System, billed: dict[str, Any]) -> None:
    run_scheduler(system)
    [summary] = wait_until(lambda: invoices(system, billed).json()["items"])
    assert invoices(system, billed, "user").status_code == 403
    outsider = system.sign_up("Xavier")
    for path in ("", f"/{summary['id']}", f"/{summary['id']}/pdf"):
        url = f"/v1/teams/{billed['team_id']}/invoices{path}"
        assert system.http.get(url, headers=billed["user"]["headers"]).status_code == 403
        assert system.http.get(url, headers=outsider["headers"]).status_code == 404


def test_a_restarted_scheduler_catches_up_and_a_month_runs_once(
    system: System,
    billed: dict[str, Any],
) -> None:
    # Nothing ran yet: the scheduler was "down". Two start at once and both catch up.
    results: list[list[str]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.append(run_scheduler(system))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    before_last = str(Period.parse(PERIOD).previous)
    assert sorted(results[0] + results[1]) == [before_last, PERIOD]  # both since its first run
    assert not set(results[0]) & set(results[1])  # no month was run by both
    with system.runtime.db.unit_of_work() as uow:
        jobs = uow.session.scalar(
            select(func.count()).select_from(Job).where(Job.name == "generate_invoice")
        )
        runs = uow.session.scalar(
            select(func.count()).select_from(ScheduledRun).where(ScheduledRun.name == "invoices")
        )
    assert jobs == 1 and runs == 2  # one team had production usage, in one month
    assert run_scheduler(system) == []  # and again: nothing to do
    wait_until(lambda: invoices(system, billed).json()["items"])


def test_a_run_before_its_time_does_nothing(system: System, billed: dict[str, Any]) -> None:
    first_of_month = datetime.now(UTC).replace(day=1, hour=0, minute=4, second=0, microsecond=0)
    scheduled = run_scheduler(system, now=first_of_month)
    assert PERIOD not in scheduled  # 00:04 on the 1st: last month's run is not due yet


def test_generating_again_never_changes_an_issued_invoice(
    system: System,
    billed: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in settings_as_environment(system.runtime.settings).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert cli.main(["invoices", "generate", "--period", PERIOD]) == 0
        first = capsys.readouterr().out
        assert f"{PERIOD}: 1 team(s) with production usage" in first
        assert "1/1 teams: 1 invoice(s) issued" in first and "21.01 USD" in first
        [issued] = invoices(system, billed).json()["items"]

        assert cli.main(["invoices", "generate", "--period", PERIOD]) == 0
        second = capsys.readouterr().out
        assert "0 invoice(s) issued, 1 left as issued before" in second
        assert invoices(system, billed).json()["items"] == [issued]

        this_month = str(Period.of(datetime.now(UTC)))
        assert cli.main(["invoices", "generate", "--period", this_month]) == 1
        assert "not over yet" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
    wait_until(lambda: system.sink.count(lambda m: "Invoice for" in m["Subject"]) == 1)
    with system.runtime.db.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Invoice)) == 1


def test_two_generations_at_once_issue_one_invoice(system: System, billed: dict[str, Any]) -> None:
    from domain.billing import generate_invoices

    barrier = threading.Barrier(2)
    created: list[int] = []

    def generate() -> None:
        with system.runtime.db.unit_of_work() as uow:
            barrier.wait()
            result = generate_invoices(
                uow.session,
                Period.parse(PERIOD),
                system.runtime.settings.prices,
                [billed["team_id"]],
            )
            uow.commit()
            created.append(len(result.created))

    threads = [threading.Thread(target=generate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [0, 1]
    assert len(invoices(system, billed).json()["items"]) == 1


def invoice_email_to(address: str) -> Callable[[EmailMessage], bool]:
    return lambda m: to(address)(m) and "Invoice for" in str(m["Subject"])


def invoice_email(system: System, address: str) -> Email | None:
    with system.runtime.db.unit_of_work() as uow:
        return uow.session.scalar(
            select(Email).where(Email.template == "invoice_ready", Email.to_address == address)
        )


def test_each_owner_gets_one_email_even_when_another_owners_mail_is_refused_a_while(
    system: System, billed: dict[str, Any]
) -> None:
    second = system.join(billed["team_id"], "Otto", role="owner")
    otto = second["account"]["email"]
    olive = billed["owner"]["account"]["email"]
    system.sink.refuse_with, system.sink.refuse_only = (451, "4.2.1 mailbox busy"), {otto}
    run_scheduler(system)
    system.sink.wait_for(invoice_email_to(olive))
    wait_until(
        lambda: (e := invoice_email(system, otto)) is not None and e.attempts >= 2,
        what="Otto's email tried twice",
    )
    system.sink.refuse_with, system.sink.refuse_only = None, None
    system.sink.wait_for(invoice_email_to(otto), timeout=15)
    for owner in (olive, otto):
        assert system.sink.count(invoice_email_to(owner)) == 1
    # The job that queued them ran once; Olive's email went once, at the first try.
    with system.runtime.db.unit_of_work() as uow:
        [job] = uow.session.scalars(select(Job).where(Job.name == "notify_invoice_owners"))
        assert job.status == "done" and job.attempts == 1
    assert (sent := invoice_email(system, olive)) is not None and sent.attempts == 1


def test_an_invoice_email_that_never_gets_through_goes_dead_where_support_sees_it(
    system: System, billed: dict[str, Any], add_support_agent: AddSupportAgent
) -> None:
    olive = billed["owner"]["account"]["email"]
    system.sink.refuse_with, system.sink.refuse_only = (421, "4.7.0 closing"), {olive}
    run_scheduler(system)
    wait_until(
        lambda: (e := invoice_email(system, olive)) is not None and e.status == "dead",
        timeout=30,
        what="the email to go dead",
    )
    [item] = [i for i in dead_emails(system, add_support_agent) if i["template"] == "invoice_ready"]
    assert item["to_address"] == olive and "421" in item["last_error"]


# --- late usage, the first run, and runs anyone can see -----------------------------------------


def dated(system: System, request_id: str, occurred: datetime, recorded: datetime) -> None:
    """Set when the call ``request_id`` happened and when the gateway recorded it: the test
    cannot wait a month between two calls."""
    with system.runtime.db.unit_of_work() as uow:
        uow.session.execute(
            update(UsageRecord)
            .where(UsageRecord.request_id == request_id)
            .values(occurred_at=occurred, occurred_on=occurred.date(), recorded_at=recorded)
        )
        uow.commit()


def generate(system: System, period: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``teamkeys invoices generate --period``, with what it printed."""
    capsys.readouterr()
    assert run_cli(system, ["invoices", "generate", "--period", period]) == 0
    return capsys.readouterr().out


def invoice_of(system: System, owner: Person, period: str) -> dict[str, Any]:
    url = f"/v1/teams/{owner['team']['id']}/invoices"
    [summary] = [
        i
        for i in system.http.get(url, headers=owner["headers"]).json()["items"]
        if i["period"] == period
    ]
    detail: dict[str, Any] = system.http.get(
        f"{url}/{summary['id']}", headers=owner["headers"]
    ).json()
    return detail


@pytest.fixture
def repriced(settings: Settings, sink: FaultySink) -> Iterator[System]:
    """A system whose prices changed at the start of last month: before it, teamkeys-large
    cost a third of what it costs now (100 cents a million input tokens, not 300)."""
    last = Period.parse(PERIOD)
    now = DEFAULT_PRICES.table_for(last)
    then = replace(now, models={**now.models, "teamkeys-large": Price(Decimal(100), Decimal(500))})
    prices = PriceSchedule(((last.previous, then), (last, now)))
    with running_system(settings.model_copy(update={"prices": prices}), sink) as running:
        yield running


def test_usage_dated_into_an_invoiced_month_is_billed_once_on_the_next_invoice(
    repriced: System, capsys: pytest.CaptureFixture[str], add_support_agent: AddSupportAgent
) -> None:
    """At its own month's prices, though that month's prices are no longer in force."""
    system = repriced
    lena = system.sign_up("Lena")
    system.approve_for_production(lena["team"]["id"])
    live = system.key_secret(lena, "production")
    last = Period.parse(PERIOD)
    before = last.previous
    # In time: a call in the month before last, recorded then; that month is invoiced.
    use(system, live, "lena-1", "teamkeys-large", 1_000_000, 0)  # 100 cents, then
    dated(system, "lena-1", before.start + timedelta(days=2), before.start + timedelta(days=2))
    assert "1 invoice(s) issued" in generate(system, str(before), capsys)
    # Then the gateway catches up: a call dated into that month, recorded last month; and a
    # call of last month's own.
    use(system, live, "lena-2", "teamkeys-large", 2_000_000, 0)  # 200 cents, late
    dated(system, "lena-2", before.start + timedelta(days=3), LAST_MONTH_DAY)
    use(system, live, "lena-3", "teamkeys-small", 1_000_000, 0)  # 15 cents, in time
    out = generate(system, PERIOD, capsys)

    assert "1 invoice(s) issued totalling 2.15 USD" in out
    latest = invoice_of(system, lena, PERIOD)
    assert [
        (line["description"], line["late_from"], line["amount_cents"]) for line in latest["lines"]
    ] == [
        ("teamkeys-small", None, 15),
        (f"teamkeys-large, late usage from {before}", str(before), 200),
    ]
    assert latest["total_cents"] == 215
    assert invoice_of(system, lena, str(before))["total_cents"] == 100  # never changed
    pdf = system.http.get(
        f"/v1/teams/{lena['team']['id']}/invoices/{latest['id']}/pdf", headers=lena["headers"]
    )
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert f"late usage from {before}" in text and "2.15 USD" in text

    # Generated again, both months: nothing new, and the late call is billed once in all.
    assert "0 invoice(s) issued" in generate(system, PERIOD, capsys)
    assert "0 invoice(s) issued" in generate(system, str(before), capsys)
    with system.runtime.db.unit_of_work() as uow:
        issued = uow.session.scalars(
            select(Invoice).where(Invoice.team_id == lena["team"]["id"])
        ).all()
    billed_late = [line for i in issued for line in i.line_items if line.late_from]
    assert len(issued) == 2 and [line.input_tokens for line in billed_late] == [2_000_000]

    # The four runs are on record, for support and on the command line, newest first.
    agent = add_support_agent()
    runs = system.http.get("/v1/support/invoice-runs", headers=agent["headers"]).json()
    assert [
        (r["period"], r["source"], r["invoices"], r["total_cents"]) for r in runs["items"][:4]
    ] == [
        (str(before), "command", 0, 0),
        (PERIOD, "command", 0, 0),
        (PERIOD, "command", 1, 215),
        (str(before), "command", 1, 100),
    ]
    assert all(run["finished_at"] for run in runs["items"][:4])
    assert runs["next"]["period"] in (PERIOD, str(Period.of(datetime.now(UTC))))
    capsys.readouterr()
    assert run_cli(system, ["invoices", "runs"]) == 0
    listed = capsys.readouterr().out
    rows = [line.split() for line in listed.splitlines()]
    assert rows[3][:2] == [PERIOD, "command"] and rows[3][-2:] == ["2.15", "USD"], listed
    assert listed.splitlines()[-1].startswith("next: "), listed
    customer = system.http.get("/v1/support/invoice-runs", headers=lena["headers"])
    assert customer.status_code == 403


def test_a_scheduled_run_is_recorded_with_its_teams_invoices_and_total(
    system: System,
    billed: dict[str, Any],
    add_support_agent: AddSupportAgent,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="teamkeys"):
        assert PERIOD in run_scheduler(system)
        wait_until(
            lambda: any("21.01 USD" in r.getMessage() for r in caplog.records),
            what="the invoice's log line",
        )
    said = [r.getMessage() for r in caplog.records]
    before_last = str(Period.parse(PERIOD).previous)
    # As an operator reads them: amounts as money, and a month with nothing to bill said so.
    assert f"invoices for {before_last}: nothing to bill (no production usage recorded)" in said
    assert any(f"for team {billed['team_id']}, {PERIOD}: 21.01 USD" in m for m in said), said
    agent = add_support_agent()

    def finished() -> list[dict[str, Any]]:
        items = system.http.get("/v1/support/invoice-runs", headers=agent["headers"]).json()
        return [r for r in items["items"] if r["period"] == PERIOD and r["finished_at"]]

    [run] = wait_until(finished, what="the run to finish")
    assert (run["source"], run["teams"], run["teams_done"]) == ("scheduler", 1, 1)
    assert (run["invoices"], run["total_cents"], run["currency"]) == (1, 2101, "USD")
    [empty] = [
        r
        for r in system.http.get("/v1/support/invoice-runs", headers=agent["headers"]).json()[
            "items"
        ]
        if r["period"] == before_last
    ]
    assert empty["teams"] == 0 and empty["finished_at"]  # nothing to bill: finished at once


def test_a_first_run_catches_up_nothing_from_before_it(
    system: System, billed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    with system.runtime.db.unit_of_work() as uow:  # a database the scheduler never saw
        uow.session.execute(delete(ScheduledRun))
        uow.commit()

    assert run_scheduler(system) == []  # last month ended before this first run
    assert run_scheduler(system) == []  # and the first run stays the first
    assert invoices(system, billed).json()["items"] == []
    # An operator can still invoice any closed month.
    assert "1 invoice(s) issued" in generate(system, PERIOD, capsys)


def pay_by(system: System, owner: Person, billing_email: str) -> None:
    stored = system.http.put(
        f"/v1/teams/{owner['team']['id']}/payment-method",
        json={
            "billing_email": billing_email,
            "provider_token": "tok_visa",
            "brand": "visa",
            "last4": "4242",
            "exp_month": 12,
            "exp_year": 2099,
        },
        headers=owner["headers"],
    )
    assert stored.status_code == 200, stored.text


def attached_pdf_text(message: EmailMessage) -> str:
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert str(attachment.get_filename()).endswith(".pdf")
    document = PdfReader(io.BytesIO(attachment.get_content()))
    return "".join(page.extract_text() for page in document.pages)


def test_the_invoice_email_reaches_the_owners_and_the_billing_email_with_its_pdf(
    system: System, billed: dict[str, Any]
) -> None:
    pay_by(system, billed["owner"], "books.olive@example.com")
    run_scheduler(system)

    def invoice_email(address: str) -> Callable[[EmailMessage], bool]:
        return lambda m: to(address)(m) and "Invoice for" in str(m["Subject"])

    owner_address = billed["owner"]["account"]["email"]
    for address in (owner_address, "books.olive@example.com"):
        message = system.sink.wait_for(invoice_email(address))
        text = attached_pdf_text(message)
        assert "21.01 USD" in text and PERIOD in text and "Olive's Team" in text
        assert "21.01 USD" in str(message["Subject"]) and "attached" in text_body(message)
    wait_until(lambda: jobs_done(system), what="every invoice email sent")
    assert system.sink.count(invoice_email(owner_address)) == 1
    assert system.sink.count(invoice_email("books.olive@example.com")) == 1
    assert system.sink.count(invoice_email(billed["user"]["account"]["email"])) == 0


def test_an_owner_who_is_also_the_billing_email_gets_one_message(
    system: System, billed: dict[str, Any]
) -> None:
    owner_address = billed["owner"]["account"]["email"]
    pay_by(system, billed["owner"], owner_address.upper())
    run_scheduler(system)

    system.sink.wait_for(lambda m: to(owner_address)(m) and "Invoice for" in str(m["Subject"]))
    wait_until(lambda: jobs_done(system), what="every invoice email sent")
    assert system.sink.count(lambda m: "Invoice for" in str(m["Subject"])) == 1


def jobs_done(system: System) -> bool:
    with system.runtime.db.unit_of_work() as uow:
        return not uow.session.scalars(select(Job.id).where(Job.status == "pending")).first()


def test_a_team_is_counted_once_in_its_run_whoever_runs_its_job(
    system: System, billed: dict[str, Any]
) -> None:
    """A job whose run stopped answering is taken over by a second run; the first may still
    finish. Only the run that ends the job issues and counts the invoice; a job that dies
    counts its team as failed, so the run still finishes."""
    ctx = system.runtime.worker_context
    now = datetime.now(UTC)
    with system.runtime.db.unit_of_work() as uow:
        run_id = start_run(
            uow.session, Period.parse(PERIOD), "scheduler", teams=2, currency="USD"
        ).id
        job = Job(
            name="generate_invoice",
            args={"team_id": billed["team_id"], "period": PERIOD, "run_id": run_id},
            attempts=2,
            started_at=now,  # the second run's claim; the relay and workers leave it alone
            lease_until=now + timedelta(hours=1),
        )
        uow.session.add(job)
        uow.commit()
    stale = JobRun(job.id, 1, now - timedelta(minutes=2))
    current = JobRun(job.id, 2, now)

    generate_invoice(ctx, stale, billed["team_id"], PERIOD, run_id)
    assert invoices(system, billed).json()["items"] == []  # rolled back: not its job any more
    generate_invoice(ctx, current, billed["team_id"], PERIOD, run_id)
    with system.runtime.db.unit_of_work() as uow:
        generate_invoice_died(uow.session, Job(args={"team_id": "team_x", "run_id": run_id}), "x")
        uow.commit()
        counted = uow.session.get_one(InvoiceRun, run_id)
    assert (counted.teams_done, counted.teams_failed, counted.invoices) == (2, 1, 1)
    assert counted.total_cents == 2101 and counted.finished_at is not None
    assert len(invoices(system, billed).json()["items"]) == 1


def test_a_command_run_that_breaks_half_way_finishes_with_the_teams_it_did_not_reach(
    system: System,
    billed: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``teamkeys invoices generate`` whose database refuses a batch: the run on record is
    finished, its unreached teams failed, and the operator sees it in ``invoices runs``."""

    def broken(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("the database refused the batch")

    monkeypatch.setattr(billing_worker, "generate_invoices", broken)
    with pytest.raises(RuntimeError, match="refused the batch"):
        run_cli(system, ["invoices", "generate", "--period", PERIOD])
    with system.runtime.db.unit_of_work() as uow:
        [run] = uow.session.scalars(select(InvoiceRun)).all()
        assert (run.teams, run.teams_done, run.teams_failed, run.invoices) == (1, 1, 1, 0)
        assert run.finished_at is not None
    capsys.readouterr()
    assert run_cli(system, ["invoices", "runs"]) == 0
    assert "1 failed" in capsys.readouterr().out


def test_the_command_refuses_a_month_before_its_due_time_and_records_no_run(
    system: System, billed: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    this_month = str(Period.of(datetime.now(UTC)))
    assert run_cli(system, ["invoices", "generate", "--period", this_month]) == 1
    assert "is not over yet" in capsys.readouterr().err
    with system.runtime.db.unit_of_work() as uow:
        assert uow.session.scalars(select(InvoiceRun)).all() == []
    with pytest.raises(InvalidInput):
        check_closed(Period.parse(PERIOD), now=due_at(Period.parse(PERIOD)) - timedelta(minutes=1))
    check_closed(Period.parse(PERIOD), now=due_at(Period.parse(PERIOD)))


def test_an_invoice_email_whose_pdf_fails_goes_without_it(
    system: System, billed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> list[object]:
        raise RuntimeError("the PDF library broke")

    monkeypatch.setitem(send_email.ATTACHMENTS, "invoice_ready", broken)
    run_scheduler(system)

    message = system.sink.wait_for(
        lambda m: to(billed["owner"]["account"]["email"])(m) and "Invoice for" in m["Subject"]
    )
    assert list(message.iter_attachments()) == []
    assert "/team/billing/invoices/" in text_body(message)
