"""``teamkeys demo``: the whole story, driven over HTTP as a front end would, on the embedded
default in a fresh data folder, printing one line per step and the email files each made.

The system (SQLite, in-process broker and workers, scheduler, local mail sink) is
:class:`teamkeys.embedded.Embedded`; the API is the real one, served by uvicorn on a free
loopback port. Only two things are not HTTP, because they are not HTTP in production either:
the support agent is made as `teamkeys support add-agent` makes one, and last month's invoices
are issued by the function `teamkeys invoices generate` runs.
"""

from __future__ import annotations

import email
import email.policy
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import update

from domain import accounts
from domain.billing import Period, format_money
from domain.models import UsageRecord
from infra.settings import Settings
from teamkeys.embedded import Embedded
from teamkeys.loopback import LoopbackServer
from teamkeys.web import build_app
from workers.billing import issue_invoices

T = TypeVar("T")

PASSWORD = "correct horse battery"  # noqa: S105 - the demo's made-up people
AGENT_PASSWORD = "a long support password"  # noqa: S105
INVITATION_TOKEN = re.compile(r"/invitations/(inv_[A-Za-z0-9_\-]+)")
VERIFICATION_TOKEN = re.compile(r"/verify-email/(vfy_[A-Za-z0-9_\-]+)")
CONSENT_TOKEN = re.compile(r"/migration-consents/(mct_[A-Za-z0-9_\-]+)")
CAROL = "carol@example.com"
BOB = "bob@example.com"
DAVE = "dave@example.com"
SAM = "sam@support.example.com"
FORM = {
    "company_name": "Carol's Robots Ltd",
    "website": "https://robots.example.com",
    "use_case": "Summarising customer support tickets for our service team, about 2k a day.",
    "expected_monthly_requests": 60_000,
    "contact_email": "carol@example.com",
    "accept_terms": True,
}
CARD = {
    "billing_email": "billing@example.com",
    "provider_token": "pm_demo_visa",
    "brand": "visa",
    "last4": "4242",
    "exp_month": 12,
    "exp_year": 2030,
}


class DemoFailed(Exception):
    """A step did not happen as it should; the message says what was expected."""


def demo_settings(settings: Settings, data_dir: Path) -> Settings:
    """The embedded default in ``data_dir``, whatever the environment says about databases,
    brokers and mail servers: the demo never touches a real deployment, nor ./var."""
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "database_url": "",
            "broker_url": "",
            "redis_url": "",
            "limits_url": "",
            "smtp_host": "",
            "encryption_key": "",
        }
    )


def fresh_data_dir(requested: Path | None) -> Path:
    if requested is None:
        return Path(tempfile.mkdtemp(prefix="teamkeys-demo-")).resolve()
    data_dir = requested.resolve()
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise DemoFailed(f"{data_dir} is not a new or empty folder; the demo needs a fresh one")
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


class Mailbox:
    """The .eml files the local mail sink writes, read back as a person would open them."""

    def __init__(self, directory: Path, sent_count: Callable[[], int], timeout: float) -> None:
        self.directory = directory
        self.sent_count = sent_count
        self.timeout = timeout
        self._claimed: set[Path] = set()
        self._shown: set[Path] = set()

    def files(self) -> list[Path]:
        """Every complete email file, oldest first. The sink writes files one at a time (one
        event-loop thread) and counts a message only once its file is written, so when there
        are no more files than counted messages, every file is whole."""
        deadline = time.monotonic() + self.timeout
        while True:
            counted = self.sent_count()
            found = sorted(self.directory.glob("*.eml"), key=_file_number)
            if len(found) <= counted or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def wait_for(self, to: str, subject: str) -> tuple[Path, EmailMessage]:
        """The first not yet claimed email to ``to`` whose subject contains ``subject``."""
        deadline = time.monotonic() + self.timeout
        while True:
            for path in self.files():
                if path in self._claimed:
                    continue
                message = read_email(path)
                if to.lower() in str(message["To"]).lower() and subject in str(message["Subject"]):
                    self._claimed.add(path)
                    return path, message
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f'no email to {to} with "{subject}" in its subject within '
                    f"{self.timeout:g} s (is the email worker running?)"
                )
            time.sleep(0.05)

    def new_files(self) -> list[Path]:
        """Files not shown before, marked shown."""
        fresh = [path for path in self.files() if path not in self._shown]
        self._shown.update(fresh)
        return fresh


def _file_number(path: Path) -> tuple[int, str]:
    """Files are named ``<date>-<time>-<n>-<subject>.eml``; ``n`` counts from 1."""
    parts = path.name.split("-")
    return (int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0, path.name)


def read_email(path: Path) -> EmailMessage:
    with path.open("rb") as file:
        message = email.message_from_binary_file(file, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def link_token(message: EmailMessage, pattern: re.Pattern[str]) -> str:
    """The token in the email's link, from the text part (quoted-printable, so decoded by the
    email package rather than searched in the raw file)."""
    part = message.get_body(preferencelist=("plain",))
    found = pattern.search(str(part.get_content())) if part is not None else None
    if not found:
        raise DemoFailed(f'no link in the email "{message["Subject"]}"')
    return found.group(1)


def last_month_moment(now: datetime) -> datetime:
    """Noon UTC on the last day of last month: always within the 35 days a call may be dated
    back."""
    return now.astimezone(UTC).replace(
        day=1, hour=12, minute=0, second=0, microsecond=0
    ) - timedelta(days=1)


@dataclass
class Story:
    """The steps, each driven over HTTP, each printed as one line with its new email files."""

    http: httpx.Client
    mail: Mailbox
    embedded: Embedded
    data_dir: Path
    timeout: float
    out: Callable[[str], None]
    #: The step under way, for a failure to name.
    number: int = 0
    stage: str = "start"

    def __post_init__(self) -> None:
        # What one step leaves for a later one: sessions, ids, secrets, an email to open.
        self.owner = self.user = self.agent = ""
        self.team_id = self.team_name = ""
        self.verification_email = (Path(), EmailMessage())
        self.invitation_token = self.trial_secret = self.live_secret = ""
        self.ticket_id = self.consent_token = ""
        self.consent_email = Path()
        self.when = datetime.now(UTC)

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        """The story in order: each step's name, and the step, which says what happened."""
        return [
            ("Sign-up", self.sign_up),
            ("Verification", self.verification),
            ("Invitation", self.invitation),
            ("Acceptance", self.acceptance),
            ("Trial key", self.trial_key),
            ("Trial usage", self.trial_usage),
            ("Payment method", self.payment_method),
            ("Go to Production", self.go_to_production),
            ("Production key", self.production_key),
            ("Second person", self.second_person),
            ("Migration ticket", self.migration_ticket),
            ("Consent", self.consent),
            ("Support agent", self.support_agent),
            ("Migration settled", self.migration_settled),
            ("Production usage", self.production_usage),
            ("Invoice", self.invoice),
        ]

    def run(self) -> None:
        """Every step, one after the other; a step that does not happen raises DemoFailed."""
        for stage, step in self.steps():
            self.number += 1
            self.stage = stage
            self.done(step())

    # --- plumbing --------------------------------------------------------------------------

    def done(self, detail: str) -> None:
        self.out(f"{self.number:2d}. {self.stage}: {detail}")
        for path in self.mail.new_files():
            self.out(f"      email: {path}")

    def call(
        self,
        method: str,
        path: str,
        expect: int,
        token: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(method, path, headers=headers, **kwargs)
        if response.status_code != expect:
            raise DemoFailed(
                f"{method} {path} answered {response.status_code}, expected {expect}: "
                f"{response.text[:500]}"
            )
        return response

    def json(self, method: str, path: str, expect: int, token: str | None = None, **kw: Any) -> Any:
        return self.call(method, path, expect, token, **kw).json()

    def wait(self, what: str, check: Callable[[], T | None]) -> T:
        deadline = time.monotonic() + self.timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise DemoFailed(f"timed out after {self.timeout:g} s waiting for {what}")
            time.sleep(0.05)

    def settled_key(self, key_id: str, token: str) -> dict[str, Any]:
        """Wait for the key job; a failed key is an error with the job's reason."""

        def read() -> dict[str, Any] | None:
            key: dict[str, Any] = self.json(
                "GET", f"/v1/teams/{self.team_id}/api-keys/{key_id}", 200, token
            )
            if key["status"] == "failed":
                raise DemoFailed(f"the key job failed key {key_id}: {key['failure_reason']}")
            return key if key["status"] == "active" else None

        return self.wait(f"the key job to generate key {key_id}", read)

    def request_key(self, name: str, kind: str, token: str) -> dict[str, Any]:
        """Ask for a key (202, pending) and wait until its job made it."""
        path = f"/v1/teams/{self.team_id}/api-keys"
        requested = self.json("POST", path, 202, token, json={"name": name, "kind": kind})
        return self.settled_key(requested["id"], token)

    def record_calls(
        self,
        kind: str,
        secret: str,
        calls: list[tuple[str, int, int]],
        *,
        ids: str,
        occurred_at: datetime | None = None,
    ) -> None:
        """The gateway's usage calls with a ``kind`` key's ``secret``, (model, input tokens,
        output tokens) each, with the ids ``<ids>-1``, ``<ids>-2``...; each must be recorded."""
        for n, (model, tokens_in, tokens_out) in enumerate(calls, 1):
            call: dict[str, Any] = {
                "id": f"{ids}-{n}",
                "model": model,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
            }
            if occurred_at is not None:
                call["occurred_at"] = occurred_at.isoformat()
            answer = self.json("POST", "/v1/usage", 202, secret, json=call)
            if answer["status"] != "recorded":
                raise DemoFailed(f"{kind} call {n} was not recorded: {answer}")

    def new_account(self, address: str, name: str) -> dict[str, Any]:
        """A new account and team; the verification email is on its way."""
        body = {"email": address, "name": name, "password": PASSWORD}
        signup: dict[str, Any] = self.json("POST", "/v1/signup", 201, json=body)
        return signup

    # --- the story -------------------------------------------------------------------------

    def sign_up(self) -> str:
        signup = self.new_account(CAROL, "Carol")
        self.owner, self.team_id = signup["token"], signup["team"]["id"]
        self.team_name = signup["team"]["name"]
        self.verification_email = self.mail.wait_for(CAROL, "Confirm your email")
        return (
            f'Carol <{CAROL}> signed up and owns "{self.team_name}" '
            f"(account {signup['account']['id']}, team {self.team_id}); until she confirms her "
            f"email her session may do nothing else, and a verification link is on its way"
        )

    def verification(self) -> str:
        refused = self.json("GET", f"/v1/teams/{self.team_id}", 403, self.owner)
        path, message = self.verification_email
        self.verify(CAROL, message)
        self.mail.wait_for(CAROL, "Welcome")
        return (
            f"before confirming, her team's page answered 403 {refused['error']['code']}; she "
            f"opened the link from {path.name}, her email is verified and the welcome email "
            "followed"
        )

    def invitation(self) -> str:
        invitation = self.json(
            "POST",
            f"/v1/teams/{self.team_id}/invitations",
            202,
            self.owner,
            json={"email": BOB, "role": "user"},
        )
        path, message = self.mail.wait_for(BOB, "invited you")
        self.invitation_token = link_token(message, INVITATION_TOKEN)
        preview = self.json("GET", f"/v1/invitations/{self.invitation_token}", 200)
        return (
            f"Carol invited {BOB} as {invitation['role']} (invitation {invitation['id']}); "
            f"the link's token, read out of {path.name}, opens "
            f'"{preview["inviter_name"]} invites you to {preview["team_name"]}"'
        )

    def acceptance(self) -> str:
        body = {"token": self.invitation_token, "name": "Bob", "password": PASSWORD}
        accepted = self.json("POST", "/v1/invitations/accept", 201, json=body)
        self.user = accepted["token"]
        self.call("POST", "/v1/invitations/accept", 410, json=body)
        self.mail.wait_for(CAROL, "joined")
        return (
            f"Bob accepted and joined {accepted['team']['name']} as {accepted['role']} "
            f"(account {accepted['account']['id']}); the link now answers 410; Carol is told"
        )

    def trial_key(self) -> str:
        key = self.request_key("bob's laptop", "trial", self.user)
        reveal = f"/v1/teams/{self.team_id}/api-keys/{key['id']}/reveal"
        self.trial_secret = self.json("POST", reveal, 200, self.user)["secret"]
        return (
            f"Bob asked for a trial key (202, pending); the key job made {key['masked']} "
            f"(key {key['id']}), which any member may copy at any time"
        )

    def trial_usage(self) -> str:
        calls = [("teamkeys-small", 1200, 300)] * 2
        self.record_calls("trial", self.trial_secret, calls, ids="demo-trial")
        rows = self.json("GET", f"/v1/teams/{self.team_id}/usage", 200, self.user)["items"]
        counted = sum(row["calls"] for row in rows if row["key_kind"] == "trial")
        return (
            f"the gateway recorded 2 calls made with the trial key (free, capped per month); "
            f"Bob's usage history shows {counted} trial call(s) today"
        )

    def payment_method(self) -> str:
        path = f"/v1/teams/{self.team_id}/payment-method"
        card = self.json("PUT", path, 200, self.owner, json=CARD)
        return (
            f"Carol stored a payment-method reference ({card['brand']} ending {card['last4']}, "
            f"expires {card['exp_month']:02d}/{card['exp_year']}); no card number is ever sent"
        )

    def go_to_production(self) -> str:
        path = f"/v1/teams/{self.team_id}/production-application"
        self.call("PUT", path, 202, self.owner, json=FORM)

        def decided() -> dict[str, Any] | None:
            body: dict[str, Any] = self.json("GET", path, 200, self.owner)
            return body if body["status"] in ("approved", "rejected", "manual_review") else None

        decision = self.wait("the production review job", decided)
        if decision["status"] != "approved":
            raise DemoFailed(
                f"the application was {decision['status']}, not approved: {decision['reasons']}"
            )
        self.mail.wait_for(CAROL, "approved for production")
        return "Carol submitted the form (202); the review job approved it automatically: " + (
            "; ".join(decision["reasons"])
        )

    def production_key(self) -> str:
        key = self.request_key("gateway", "production", self.owner)
        reveal = f"/v1/teams/{self.team_id}/api-keys/{key['id']}/reveal"
        self.live_secret = self.json("POST", reveal, 200, self.owner)["secret"]
        again = self.json("POST", reveal, 410, self.owner)
        self.mail.wait_for(CAROL, "New production key")
        return (
            f"Carol made production key {key['masked']} (key {key['id']}); its secret "
            f"was revealed once, and the second reveal answered 410 {again['error']['code']}"
        )

    def second_person(self) -> str:
        second = self.new_account(DAVE, "Dave")
        _, message = self.mail.wait_for(DAVE, "Confirm your email")
        self.verify(DAVE, message)
        self.mail.wait_for(DAVE, "Welcome")
        return (
            f"Dave <{DAVE}> signed up on his own, confirmed his email from the link, and owns "
            f'"{second["team"]["name"]}" (account {second["account"]["id"]}, team '
            f"{second['team']['id']})"
        )

    def migration_ticket(self) -> str:
        invite = {"email": DAVE, "role": "user"}
        path = f"/v1/teams/{self.team_id}/invitations"
        refused = self.json("POST", path, 409, self.owner, json=invite)
        note = {"note": "Dave is joining us from his own team"}
        path = f"/v1/teams/{self.team_id}/migration-tickets"
        ticket = self.json("POST", path, 202, self.owner, json=invite | note)
        self.ticket_id = ticket["id"]
        self.consent_email, message = self.mail.wait_for(DAVE, "asked to move your account")
        self.consent_token = link_token(message, CONSENT_TOKEN)
        return (
            f"inviting Dave answered 409 {refused['error']['code']}, so Carol opened migration "
            f"ticket {self.ticket_id} ({ticket['status']}); Dave is emailed a consent link"
        )

    def consent(self) -> str:
        asked = self.json("GET", f"/v1/migration-consents/{self.consent_token}", 200)
        decision = {"token": self.consent_token, "decision": "accept"}
        consent = self.json("POST", "/v1/migration-consents", 200, json=decision)
        return (
            f'Dave opened the link from {self.consent_email.name} ("{asked["requester_name"]} '
            f'asks to move you to {asked["team_name"]} as {asked["role"]}") and accepted; '
            f"ticket {self.ticket_id} is {consent['status']}"
        )

    def support_agent(self) -> str:
        agent_id = self.add_support_agent(SAM, "Sam")
        credentials = {"email": SAM, "password": AGENT_PASSWORD}
        self.agent = self.json("POST", "/v1/sessions", 201, json=credentials)["token"]
        waiting = {"status": "awaiting_review"}
        queue = self.json("GET", "/v1/support/migration-tickets", 200, self.agent, params=waiting)[
            "items"
        ]
        if self.ticket_id not in [item["id"] for item in queue]:
            raise DemoFailed(f"ticket {self.ticket_id} is not in the support queue: {queue}")
        return (
            f"Sam <{SAM}> (account {agent_id}) was made as `teamkeys support add-agent` makes "
            f"one, signed in, and finds ticket {self.ticket_id} awaiting review"
        )

    def migration_settled(self) -> str:
        path = f"/v1/support/migration-tickets/{self.ticket_id}"
        note = {"note": "Dave confirmed by email; his team has no other members"}
        self.call("POST", f"{path}/approve", 202, self.agent, json=note)

        def settled() -> dict[str, Any] | None:
            body: dict[str, Any] = self.json("GET", path, 200, self.agent)
            if body["status"] == "failed":
                raise DemoFailed(f"the migration failed: {body.get('failure_reason')}")
            return body if body["status"] == "completed" else None

        self.wait(f"the migration job to complete ticket {self.ticket_id}", settled)
        self.mail.wait_for(CAROL, "moved to")
        self.mail.wait_for(DAVE, "moved to")
        members = self.json("GET", f"/v1/teams/{self.team_id}/members", 200, self.owner)
        roster = ", ".join(f"{m['name']} ({m['role']})" for m in members["items"])
        return (
            f"Sam approved; the migration job moved Dave and closed his old team; "
            f"{self.team_name} now has {roster}"
        )

    def production_usage(self) -> str:
        self.when = last_month_moment(datetime.now(UTC))
        calls = [("teamkeys-large", 1_000_000, 100_000), ("teamkeys-small", 2_000_000, 500_000)]
        self.record_calls(
            "production", self.live_secret, calls, ids="demo-live", occurred_at=self.when
        )
        self.recorded_back_then("demo-live-")
        return (
            f"the gateway recorded 2 calls with the production key, dated {self.when:%Y-%m-%d} "
            "(last month; set down as recorded then, since an invoice bills what was recorded "
            "in its month and the demo cannot wait for last month)"
        )

    def invoice(self) -> str:
        period, issued = self.issue_month(self.when)
        invoices = f"/v1/teams/{self.team_id}/invoices"
        listed = self.json("GET", invoices, 200, self.owner)["items"]
        mine = [item for item in listed if item["period"] == period]
        if not mine:
            raise DemoFailed(f"no {period} invoice in Carol's list: {listed}")
        invoice = self.json("GET", f"{invoices}/{mine[0]['id']}", 200, self.owner)
        pdf = self.call("GET", f"{invoices}/{invoice['id']}/pdf", 200, self.owner)
        if not pdf.content.startswith(b"%PDF"):
            raise DemoFailed("the invoice download is not a PDF")
        pdf_path = self.data_dir / f"invoice-{period}.pdf"
        pdf_path.write_bytes(pdf.content)
        self.mail.wait_for(CAROL, f"Invoice for {self.team_name}")
        self.mail.wait_for(str(CARD["billing_email"]), f"Invoice for {self.team_name}")
        lines = ", ".join(
            f"{line['model']} {format_money(line['amount_cents'], invoice['currency'])}"
            for line in invoice["lines"]
        )
        return (
            f"issued {period}'s invoices as `teamkeys invoices generate --period {period}` "
            f"does ({issued} new); Carol's invoice {invoice['id']} totals "
            f"{format_money(invoice['total_cents'], invoice['currency'])} ({lines}), emailed to "
            f"Carol and the billing email with its PDF attached; PDF saved as {pdf_path}"
        )

    def verify(self, address: str, message: EmailMessage) -> None:
        """Open the verification link in ``message``, as its reader would."""
        confirmed = self.json(
            "POST",
            "/v1/email-verifications/confirm",
            200,
            json={"token": link_token(message, VERIFICATION_TOKEN)},
        )
        if not confirmed["account"]["email_verified"]:
            raise DemoFailed(f"{address} is not verified after opening the link")

    # --- the two steps that are not HTTP in production either -------------------------------

    def add_support_agent(self, address: str, name: str) -> str:
        runtime = self.embedded.runtime
        assert runtime is not None
        with runtime.db.unit_of_work() as uow:
            agent = accounts.add_support_agent(
                uow.session, runtime.passwords, email=address, name=name, password=AGENT_PASSWORD
            )
            agent_id = str(agent.id)
            uow.commit()
        return agent_id

    def recorded_back_then(self, ids: str) -> None:
        """Mark the calls whose ids start with ``ids`` as recorded when they happened, as the
        gateway would have reported them; recorded now, they would be late usage, billed on
        this month's invoice instead."""
        runtime = self.embedded.runtime
        assert runtime is not None
        with runtime.db.unit_of_work() as uow:
            uow.session.execute(
                update(UsageRecord)
                .where(UsageRecord.request_id.startswith(ids, autoescape=True))
                .values(recorded_at=UsageRecord.occurred_at)
            )
            uow.commit()

    def issue_month(self, moment: datetime) -> tuple[str, int]:
        """The invoices of ``moment``'s month, as `teamkeys invoices generate` issues them."""
        runtime = self.embedded.runtime
        assert runtime is not None
        period = Period.of(moment)
        issued = issue_invoices(runtime.db, runtime.settings.prices, period)
        return str(period), len(issued.created)


def run_demo(
    settings: Settings,
    data_dir: Path | None = None,
    *,
    timeout: float,
    verbose: bool = False,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """Walk the story; 0 when every step happened, 1 (with the reason) when one did not."""
    if not verbose:
        logging.getLogger().setLevel(logging.WARNING)
    try:
        folder = fresh_data_dir(data_dir)
    except DemoFailed as exc:
        err(f"teamkeys demo: {exc}")
        return 1
    settings = demo_settings(settings, folder)
    out("teamkeys demo: the whole story over HTTP, on the embedded default")
    out(f"  data folder: {folder} (database, encryption key, emails, invoice PDF)")

    embedded = Embedded(settings)
    server: LoopbackServer | None = None
    story: Story | None = None
    failure: str | None = None
    started = time.monotonic()
    try:
        runtime = embedded.start()
        assert embedded.sink is not None  # no SMTP host: the embedded sink keeps the mail
        sink = embedded.sink
        server = LoopbackServer(build_app(runtime), what="the API", thread_name="demo-api")
        try:
            server.start()
        except RuntimeError as exc:
            raise DemoFailed(str(exc)) from None
        out(f"  API:         {server.url} (docs at /docs), until the demo ends")
        out(f"  emails:      {settings.mail_dir.resolve()}")
        out("")
        mailbox = Mailbox(settings.mail_dir.resolve(), lambda: len(sink.messages), timeout)
        with httpx.Client(base_url=server.url, timeout=timeout) as http:
            story = Story(http, mailbox, embedded, folder, timeout, out)
            story.run()
    except DemoFailed as exc:
        failure = str(exc)
    except (httpx.HTTPError, OSError) as exc:
        failure = f"{type(exc).__name__}: {exc}"
    except KeyboardInterrupt:
        failure = "interrupted"
    finally:
        if server is not None:
            server.stop()
        embedded.stop()
    if failure is not None:
        where = f" at step {story.number} ({story.stage})" if story and story.number else ""
        err(f"\nteamkeys demo FAILED{where}: {failure}")
        err(f"  everything is stopped; what happened so far is in {folder}")
        return 1
    out("")
    out(
        f"Done in {time.monotonic() - started:.1f} s; everything is stopped. Open the emails with "
        f"any mail program, and the invoice PDF, in {folder}"
    )
    return 0
