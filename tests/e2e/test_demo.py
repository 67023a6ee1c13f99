"""The README's tour, as a newcomer runs it: ``teamkeys demo`` in a fresh folder. The demo always
runs on the embedded default, whatever backend the rest of the suite uses."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from pypdf import PdfReader

STAGES = [
    "Sign-up",
    "Verification",
    "Invitation",
    "Acceptance",
    "Trial key",
    "Trial usage",
    "Payment method",
    "Go to Production",
    "Production key",
    "Second person",
    "Migration ticket",
    "Consent",
    "Support agent",
    "Migration settled",
    "Production usage",
    "Invoice",
]


def environment() -> dict[str, str]:
    """The caller's environment without any teamkeys setting, and cheap password hashing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEAMKEYS_")}
    return env | {"TEAMKEYS_ARGON2_MEMORY_KIB": "1024", "TEAMKEYS_ARGON2_TIME_COST": "1"}


def demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "teamkeys.cli", "demo", *args],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_demo_walks_every_step_and_keeps_the_emails_and_the_invoice(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    started = time.monotonic()
    result = demo(tmp_path, "--data-dir", str(data_dir))
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    print(f"teamkeys demo took {took:.1f} s")

    # One numbered line per stage, in order.
    steps = re.findall(r"^ ?(\d+)\. ([^:]+):", out, flags=re.MULTILINE)
    assert steps == [(str(n), stage) for n, stage in enumerate(STAGES, 1)], out
    assert "second reveal answered 410 already_revealed" in out
    assert "Carol (owner), Bob (user), Dave (user)" in out

    # Every email file is named under the step that made it, and exists.
    mail = sorted((data_dir / "mail").glob("*.eml"))
    printed = [Path(p) for p in re.findall(r"^\s+email: (.+\.eml)$", out, flags=re.MULTILINE)]
    assert sorted(printed) == mail and len(mail) == 13, out
    subjects = []
    for path in mail:
        with path.open("rb") as file:
            subjects.append(
                str(email.message_from_binary_file(file, policy=email.policy.default)["Subject"])
            )
    for words in (
        "Welcome to teamkeys: Carol's Team",
        "Carol invited you to join Carol's Team",
        "Bob joined Carol's Team",
        "approved for production",
        'New production key "gateway"',
        "Welcome to teamkeys: Dave's Team",
        "asked to move your account",
        "Invoice for Carol's Team",
    ):
        assert any(words in subject for subject in subjects), (words, subjects)
    assert sum("Dave moved to Carol's Team" in subject for subject in subjects) == 1  # Carol's
    assert sum("Your account moved to Carol's Team" in subject for subject in subjects) == 1
    assert sum("Confirm your email address" in subject for subject in subjects) == 2
    assert sum("Invoice for Carol's Team" in subject for subject in subjects) == 2  # + billing

    # The invoice PDF was downloaded over HTTP and saved in the data folder.
    [pdf] = list(data_dir.glob("invoice-*.pdf"))
    assert str(pdf) in out
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Carol's Team" in text and "teamkeys-large" in text

    # A fresh folder only: nothing written where the command ran, everything stopped.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
    assert "Done in" in out
    assert "Traceback" not in result.stderr and "FAILED" not in result.stderr, result.stderr


def test_the_demo_refuses_a_folder_that_is_not_fresh(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    (used / "teamkeys.db").write_text("")
    result = demo(tmp_path, "--data-dir", str(used))
    assert result.returncode == 1
    assert "is not a new or empty folder" in result.stderr
    assert sorted(p.name for p in used.iterdir()) == ["teamkeys.db"]
