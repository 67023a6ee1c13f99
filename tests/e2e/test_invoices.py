"""Monthly invoices: scheduling (catch-up, two schedulers), pricing, idempotence, the PDF,
the CLI, and who may see them — over HTTP with the worker and SMTP."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import delete, func, select

from domain.billing import Period
from domain.models import Email, Invoice, Job, ScheduledRun
from infra.settings import get_settings
from teamkeys import cli
from tests.conftest import System
from tests.e2e.conftest import AddSupportAgent, dead_emails, settings_as_environment
from tests.support import text_body, to, wait_until
from workers.billing import schedule_invoices

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
) -> None:
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
    # The embedded scheduler checked for due months when the system started, before this
    # usage existed; forget that, as if the scheduler had been down until now.
    with system.runtime.db.unit_of_work() as uow:
        uow.session.execute(delete(ScheduledRun))
        uow.commit()
    return {"owner": owner, "user": user, "team_id": owner["team"]["id"]}


def invoices(system: System, billed: dict[str, Any], who: str = "owner") -> Any:
    return system.http.get(
        f"/v1/teams/{billed['team_id']}/invoices", headers=billed[who]["headers"]
    )


def test_the_monthly_run_issues_priced_invoices_and_emails_owners(
    system: System,
    billed: dict[str, Any],
) -> None:
    scheduled = schedule_invoices(system.runtime.db)
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
            "calls": 1,
            "input_tokens": 10_000,
            "output_tokens": 0,
            "amount_cents": 1,
        },
        {
            "model": "olive-bot",
            "calls": 1,
            "input_tokens": 0,
            "output_tokens": 1_000_000,
            "amount_cents": 1500,
        },
        {
            "model": "teamkeys-large",
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
    schedule_invoices(system.runtime.db)
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
    schedule_invoices(system.runtime.db)
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
        results.append(schedule_invoices(system.runtime.db))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert PERIOD in results[0] + results[1]
    assert not set(results[0]) & set(results[1])  # no month was run by both
    assert len(results[0]) + len(results[1]) == 12  # the last twelve months, caught up
    with system.runtime.db.unit_of_work() as uow:
        jobs = uow.session.scalar(
            select(func.count()).select_from(Job).where(Job.name == "generate_invoice")
        )
        runs = uow.session.scalar(select(func.count()).select_from(ScheduledRun))
    assert jobs == 1 and runs == 12  # one team had production usage, in one month
    assert schedule_invoices(system.runtime.db) == []  # and again: nothing to do
    wait_until(lambda: invoices(system, billed).json()["items"])


def test_a_run_before_its_time_does_nothing(system: System, billed: dict[str, Any]) -> None:
    first_of_month = datetime.now(UTC).replace(day=1, hour=0, minute=4, second=0, microsecond=0)
    scheduled = schedule_invoices(system.runtime.db, now=first_of_month)
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
    schedule_invoices(system.runtime.db)
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
    schedule_invoices(system.runtime.db)
    wait_until(
        lambda: (e := invoice_email(system, olive)) is not None and e.status == "dead",
        timeout=30,
        what="the email to go dead",
    )
    [item] = [i for i in dead_emails(system, add_support_agent) if i["template"] == "invoice_ready"]
    assert item["to_address"] == olive and "421" in item["last_error"]
