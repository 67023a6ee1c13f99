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
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from infra.settings import Settings

T = TypeVar("T")

PASSWORD = "correct horse battery"  # noqa: S105 - the demo's made-up people
AGENT_PASSWORD = "a long support password"  # noqa: S105
INVITATION_TOKEN = re.compile(r"/invitations/(inv_[A-Za-z0-9_\-]+)")
VERIFICATION_TOKEN = re.compile(r"/verify-email/(vfy_[A-Za-z0-9_\-]+)")
CONSENT_TOKEN = re.compile(r"/migration-consents/(mct_[A-Za-z0-9_\-]+)")
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
            "redis_url": "",
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


class Server:
    """The real API under uvicorn, on a loopback port the OS chose, in a thread."""

    def __init__(self, app: Any) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port: int = self.socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="demo-api", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise DemoFailed("the API did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def last_month_moment(now: datetime) -> datetime:
    """Noon UTC on the last day of last month: always within the 35 days a call may be dated
    back."""
    return now.astimezone(UTC).replace(
        day=1, hour=12, minute=0, second=0, microsecond=0
    ) - timedelta(days=1)


class Story:
    """The steps, each driven over HTTP, each printed as one line with its new email files."""

    def __init__(
        self,
        http: httpx.Client,
        mailbox: Mailbox,
        embedded: Any,
        data_dir: Path,
        timeout: float,
        out: Callable[[str], None],
    ) -> None:
        self.http = http
        self.mail = mailbox
        self.embedded = embedded
        self.data_dir = data_dir
        self.timeout = timeout
        self.out = out
        self.number = 0
        self.stage = "start"

    # --- plumbing --------------------------------------------------------------------------

    def begin(self, stage: str) -> None:
        self.number += 1
        self.stage = stage

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

    def settled_key(self, team_id: str, key_id: str, token: str) -> dict[str, Any]:
        """Wait for the key job; a failed key is an error with the job's reason."""

        def read() -> dict[str, Any] | None:
            key: dict[str, Any] = self.json(
                "GET", f"/v1/teams/{team_id}/api-keys/{key_id}", 200, token
            )
            if key["status"] == "failed":
                raise DemoFailed(f"the key job failed key {key_id}: {key['failure_reason']}")
            return key if key["status"] == "active" else None

        return self.wait(f"the key job to generate key {key_id}", read)

    # --- the story -------------------------------------------------------------------------

    def run(self) -> None:
        carol = "carol@example.com"
        bob = "bob@example.com"
        dave = "dave@example.com"
        sam = "sam@support.example.com"

        self.begin("Sign-up")
        signup = self.json(
            "POST",
            "/v1/signup",
            201,
            json={"email": carol, "name": "Carol", "password": PASSWORD},
        )
        owner, team_id, team_name = signup["token"], signup["team"]["id"], signup["team"]["name"]
        path, message = self.mail.wait_for(carol, "Confirm your email")
        self.done(
            f'Carol <{carol}> signed up and owns "{team_name}" '
            f"(account {signup['account']['id']}, team {team_id}); until she confirms her email "
            f"her session may do nothing else, and a verification link is on its way"
        )

        self.begin("Verification")
        refused = self.json("GET", f"/v1/teams/{team_id}", 403, owner)
        self.verify(carol, message)
        self.mail.wait_for(carol, "Welcome")
        self.done(
            f"before confirming, her team's page answered 403 {refused['error']['code']}; she "
            f"opened the link from {path.name}, her email is verified and the welcome email "
            "followed"
        )

        self.begin("Invitation")
        invitation = self.json(
            "POST",
            f"/v1/teams/{team_id}/invitations",
            202,
            owner,
            json={"email": bob, "role": "user"},
        )
        path, message = self.mail.wait_for(bob, "invited you")
        invitation_token = link_token(message, INVITATION_TOKEN)
        preview = self.json("GET", f"/v1/invitations/{invitation_token}", 200)
        self.done(
            f"Carol invited {bob} as {invitation['role']} (invitation {invitation['id']}); "
            f"the link's token, read out of {path.name}, opens "
            f'"{preview["inviter_name"]} invites you to {preview["team_name"]}"'
        )

        self.begin("Acceptance")
        accepted = self.json(
            "POST",
            "/v1/invitations/accept",
            201,
            json={"token": invitation_token, "name": "Bob", "password": PASSWORD},
        )
        user = accepted["token"]
        self.call(
            "POST",
            "/v1/invitations/accept",
            410,
            json={"token": invitation_token, "name": "Bob", "password": PASSWORD},
        )
        self.mail.wait_for(carol, "joined")
        self.done(
            f"Bob accepted and joined {accepted['team']['name']} as {accepted['role']} "
            f"(account {accepted['account']['id']}); the link now answers 410; Carol is told"
        )

        self.begin("Trial key")
        requested = self.json(
            "POST",
            f"/v1/teams/{team_id}/api-keys",
            202,
            user,
            json={"name": "bob's laptop", "kind": "trial"},
        )
        trial_key = self.settled_key(team_id, requested["id"], user)
        trial_secret = self.json(
            "POST", f"/v1/teams/{team_id}/api-keys/{trial_key['id']}/reveal", 200, user
        )["secret"]
        self.done(
            f"Bob asked for a trial key (202, pending); the key job made {trial_key['masked']} "
            f"(key {trial_key['id']}), which any member may copy at any time"
        )

        self.begin("Trial usage")
        for n in (1, 2):
            answer = self.json(
                "POST",
                "/v1/usage",
                202,
                trial_secret,
                json={
                    "id": f"demo-trial-{n}",
                    "model": "teamkeys-small",
                    "input_tokens": 1200,
                    "output_tokens": 300,
                },
            )
            if answer["status"] != "recorded":
                raise DemoFailed(f"trial call {n} was not recorded: {answer}")
        rows = self.json("GET", f"/v1/teams/{team_id}/usage", 200, user)["items"]
        calls = sum(row["calls"] for row in rows if row["key_kind"] == "trial")
        self.done(
            f"the gateway recorded 2 calls made with the trial key (free, capped per month); "
            f"Bob's usage history shows {calls} trial call(s) today"
        )

        self.begin("Payment method")
        card = self.json("PUT", f"/v1/teams/{team_id}/payment-method", 200, owner, json=CARD)
        self.done(
            f"Carol stored a payment-method reference ({card['brand']} ending {card['last4']}, "
            f"expires {card['exp_month']:02d}/{card['exp_year']}); no card number is ever sent"
        )

        self.begin("Go to Production")
        self.call("PUT", f"/v1/teams/{team_id}/production-application", 202, owner, json=FORM)

        def decided() -> dict[str, Any] | None:
            body: dict[str, Any] = self.json(
                "GET", f"/v1/teams/{team_id}/production-application", 200, owner
            )
            return body if body["status"] in ("approved", "rejected", "manual_review") else None

        decision = self.wait("the production review job", decided)
        if decision["status"] != "approved":
            raise DemoFailed(
                f"the application was {decision['status']}, not approved: {decision['reasons']}"
            )
        self.mail.wait_for(carol, "approved for production")
        self.done(
            "Carol submitted the form (202); the review job approved it automatically: "
            + "; ".join(decision["reasons"])
        )

        self.begin("Production key")
        requested = self.json(
            "POST",
            f"/v1/teams/{team_id}/api-keys",
            202,
            owner,
            json={"name": "gateway", "kind": "production"},
        )
        live_key = self.settled_key(team_id, requested["id"], owner)
        reveal = f"/v1/teams/{team_id}/api-keys/{live_key['id']}/reveal"
        live_secret = self.json("POST", reveal, 200, owner)["secret"]
        again = self.json("POST", reveal, 410, owner)
        self.mail.wait_for(carol, "New production key")
        self.done(
            f"Carol made production key {live_key['masked']} (key {live_key['id']}); its secret "
            f"was revealed once, and the second reveal answered 410 {again['error']['code']}"
        )

        self.begin("Second person")
        second = self.json(
            "POST",
            "/v1/signup",
            201,
            json={"email": dave, "name": "Dave", "password": PASSWORD},
        )
        _, message = self.mail.wait_for(dave, "Confirm your email")
        self.verify(dave, message)
        self.mail.wait_for(dave, "Welcome")
        self.done(
            f"Dave <{dave}> signed up on his own, confirmed his email from the link, and owns "
            f'"{second["team"]["name"]}" (account {second["account"]["id"]}, team '
            f"{second['team']['id']})"
        )

        self.begin("Migration ticket")
        refused = self.json(
            "POST",
            f"/v1/teams/{team_id}/invitations",
            409,
            owner,
            json={"email": dave, "role": "user"},
        )
        ticket = self.json(
            "POST",
            f"/v1/teams/{team_id}/migration-tickets",
            202,
            owner,
            json={"email": dave, "role": "user", "note": "Dave is joining us from his own team"},
        )
        ticket_id = ticket["id"]
        path, message = self.mail.wait_for(dave, "asked to move your account")
        consent_token = link_token(message, CONSENT_TOKEN)
        self.done(
            f"inviting Dave answered 409 {refused['error']['code']}, so Carol opened migration "
            f"ticket {ticket_id} ({ticket['status']}); Dave is emailed a consent link"
        )

        self.begin("Consent")
        asked = self.json("GET", f"/v1/migration-consents/{consent_token}", 200)
        consent = self.json(
            "POST",
            "/v1/migration-consents",
            200,
            json={"token": consent_token, "decision": "accept"},
        )
        self.done(
            f'Dave opened the link from {path.name} ("{asked["requester_name"]} asks to move '
            f'you to {asked["team_name"]} as {asked["role"]}") and accepted; ticket '
            f"{ticket_id} is {consent['status']}"
        )

        self.begin("Support agent")
        agent_id = self.add_support_agent(sam, "Sam")
        agent = self.json(
            "POST", "/v1/sessions", 201, json={"email": sam, "password": AGENT_PASSWORD}
        )["token"]
        queue = self.json(
            "GET", "/v1/support/migration-tickets", 200, agent, params={"status": "awaiting_review"}
        )["items"]
        if ticket_id not in [item["id"] for item in queue]:
            raise DemoFailed(f"ticket {ticket_id} is not in the support queue: {queue}")
        self.done(
            f"Sam <{sam}> (account {agent_id}) was made as `teamkeys support add-agent` makes "
            f"one, signed in, and finds ticket {ticket_id} awaiting review"
        )

        self.begin("Migration settled")
        self.call(
            "POST",
            f"/v1/support/migration-tickets/{ticket_id}/approve",
            202,
            agent,
            json={"note": "Dave confirmed by email; his team has no other members"},
        )

        def settled() -> dict[str, Any] | None:
            body: dict[str, Any] = self.json(
                "GET", f"/v1/support/migration-tickets/{ticket_id}", 200, agent
            )
            if body["status"] == "failed":
                raise DemoFailed(f"the migration failed: {body.get('failure_reason')}")
            return body if body["status"] == "completed" else None

        self.wait(f"the migration job to complete ticket {ticket_id}", settled)
        self.mail.wait_for(carol, "moved to")
        self.mail.wait_for(dave, "moved to")
        members = self.json("GET", f"/v1/teams/{team_id}/members", 200, owner)["items"]
        roster = ", ".join(f"{m['name']} ({m['role']})" for m in members)
        self.done(
            f"Sam approved; the migration job moved Dave and closed his old team; "
            f"{team_name} now has {roster}"
        )

        self.begin("Production usage")
        when = last_month_moment(datetime.now(UTC))
        for n, (model, tokens_in, tokens_out) in enumerate(
            [("teamkeys-large", 1_000_000, 100_000), ("teamkeys-small", 2_000_000, 500_000)], 1
        ):
            answer = self.json(
                "POST",
                "/v1/usage",
                202,
                live_secret,
                json={
                    "id": f"demo-live-{n}",
                    "model": model,
                    "input_tokens": tokens_in,
                    "output_tokens": tokens_out,
                    "occurred_at": when.isoformat(),
                },
            )
            if answer["status"] != "recorded":
                raise DemoFailed(f"production call {n} was not recorded: {answer}")
        self.done(
            f"the gateway recorded 2 calls with the production key, dated {when:%Y-%m-%d} "
            "(last month; calls may be dated up to 35 days back)"
        )

        self.begin("Invoice")
        period, issued = self.issue_invoices(when)
        listed = self.json("GET", f"/v1/teams/{team_id}/invoices", 200, owner)["items"]
        mine = [item for item in listed if item["period"] == period]
        if not mine:
            raise DemoFailed(f"no {period} invoice in Carol's list: {listed}")
        invoice = self.json("GET", f"/v1/teams/{team_id}/invoices/{mine[0]['id']}", 200, owner)
        pdf = self.call("GET", f"/v1/teams/{team_id}/invoices/{invoice['id']}/pdf", 200, owner)
        if not pdf.content.startswith(b"%PDF"):
            raise DemoFailed("the invoice download is not a PDF")
        pdf_path = self.data_dir / f"invoice-{period}.pdf"
        pdf_path.write_bytes(pdf.content)
        self.mail.wait_for(carol, f"Invoice for {team_name}")
        lines = ", ".join(
            f"{line['model']} {_money(line['amount_cents'], invoice['currency'])}"
            for line in invoice["lines"]
        )
        self.done(
            f"issued {period}'s invoices as `teamkeys invoices generate --period {period}` "
            f"does ({issued} new); Carol's invoice {invoice['id']} totals "
            f"{_money(invoice['total_cents'], invoice['currency'])} ({lines}); PDF saved as "
            f"{pdf_path}"
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
        from domain.accounts import add_support_agent

        runtime = self.embedded.runtime
        with runtime.db.unit_of_work() as uow:
            agent = add_support_agent(
                uow.session, runtime.passwords, email=address, name=name, password=AGENT_PASSWORD
            )
            agent_id = str(agent.id)
            uow.commit()
        return agent_id

    def issue_invoices(self, moment: datetime) -> tuple[str, int]:
        from domain.billing import Period
        from workers.billing import issue_invoices

        runtime = self.embedded.runtime
        period = Period.of(moment)
        issued = issue_invoices(runtime.db, runtime.settings.prices, period)
        return str(period), len(issued.created)


def _money(cents: int, currency: str) -> str:
    from domain.billing import format_money

    return format_money(cents, currency)


def run_demo(
    settings: Settings,
    data_dir: Path | None = None,
    *,
    timeout: float = 30.0,
    verbose: bool = False,
    out: Callable[[str], None] = print,
    err: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> int:
    """Walk the story; 0 when every step happened, 1 (with the reason) when one did not."""
    from api.app import create_app
    from teamkeys.embedded import Embedded

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
    server: Server | None = None
    story: Story | None = None
    failure: str | None = None
    started = time.monotonic()
    try:
        runtime = embedded.start()
        assert embedded.sink is not None  # no SMTP host: the embedded sink keeps the mail
        sink = embedded.sink
        server = Server(create_app(runtime))
        server.start()
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
