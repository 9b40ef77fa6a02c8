"""A mailbox's own password reminder period (Account.password_rotation_days): set, refused and
cleared back to the team-wide default through the edit service and `accounts edit
--password-rotation-days`, refused for OAuth mailboxes, and preferred over the default by the
attention model on an injected clock — re-evaluated as soon as it (or the password) changes:
the edit announces a change and the next reconcile shows it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.events import bus
from mailmonitor.models import close_db, open_db, set_setting
from mailmonitor.services.accounts.editing import AccountEdit, save_edit, validate_edit
from mailmonitor.services.alerts.reconciler import DIRTY_EVENTS as ATTENTION_EVENTS
from mailmonitor.services.common.validation import InvalidInput
from tests.attention_support import conditions
from tests.factories import make_account, reload

Cli = Callable[..., tuple[int, str, str]]
IMAP_SMTP = ["--imap-host", "127.0.0.1", "--imap-port", "1143", "--imap-security", "plain",
             "--smtp-host", "127.0.0.1", "--smtp-port", "1587", "--smtp-security", "starttls"]


def open_reminders(now: datetime) -> dict[str, str]:
    """Open password reminders as the rep sees them after the background loop reconciled:
    the mailbox's address → the condition's message."""
    return {a.mailboxes[0]: a.message for a in conditions(now, "password_rotation")}


# --- the service ----------------------------------------------------------------------------

def test_the_service_sets_bounds_and_clears_a_mailboxs_own_period(
        db: Path, clock: FakeClock) -> None:
    box = make_account("p@example.com")
    changes = validate_edit(box, AccountEdit(password_rotation_days=60))
    assert changes == {"password_rotation_days": 60}
    result = save_edit(box, changes, None, clock.now())
    assert result.changed == ["password_rotation_days"] and not result.servers_changed
    assert reload(box).password_rotation_days == 60
    # The same value again is no change; the edges are accepted.
    assert validate_edit(reload(box), AccountEdit(password_rotation_days="60")) == {}
    assert validate_edit(box, AccountEdit(password_rotation_days=1)) == \
        {"password_rotation_days": 1}
    assert validate_edit(box, AccountEdit(password_rotation_days=3650)) == \
        {"password_rotation_days": 3650}
    for bad, words in ((0, "0 is too small \\(at least 1 day\\)"),
                       (3651, "3651 is too large \\(at most 3,650 days\\)"),
                       (-5, "-5 is too small"), ("soon", "is not a whole number")):
        with pytest.raises(InvalidInput, match=words):
            validate_edit(box, AccountEdit(password_rotation_days=bad))
    with pytest.raises(InvalidInput, match="both"):
        validate_edit(box, AccountEdit(password_rotation_days=5, password_rotation_default=True))
    assert reload(box).password_rotation_days == 60  # refused values changed nothing

    back = validate_edit(reload(box), AccountEdit(password_rotation_default=True))
    assert back == {"password_rotation_days": None}
    save_edit(reload(box), back, None, clock.now())
    assert reload(box).password_rotation_days is None


def test_an_oauth_mailbox_has_no_password_to_be_reminded_about(db: Path) -> None:
    box = make_account("g@gmail.test", kind="gmail", auth_method="oauth2")
    for edit in (AccountEdit(password_rotation_days=30),
                 AccountEdit(password_rotation_default=True)):
        with pytest.raises(InvalidInput, match="has no password to change"):
            validate_edit(box, edit)
    assert reload(box).password_rotation_days is None
    assert validate_edit(box, AccountEdit(name="Gia")) == {"name": "Gia"}  # the rest still edits


# --- the command line -----------------------------------------------------------------------

@pytest.fixture
def one_account(cli: Cli) -> str:
    code, _, err = cli("accounts", "add", "--email", "rep@example.com", *IMAP_SMTP,
                       "--password-stdin", stdin="pw-123\n")
    assert code == 0, err
    return cli("accounts", "list", "--json")[1]


def test_the_command_line_sets_and_clears_the_period_and_lists_it(
        cli: Cli, one_account: str, capsys: pytest.CaptureFixture[str]) -> None:
    (row,) = json.loads(one_account)
    assert row["password_rotation_days"] is None  # listed, and unset at first
    code, out, err = cli("accounts", "edit", "rep@example.com", "--password-rotation-days", "45")
    assert code == 0, err
    assert out == ("Saved rep@example.com: password_rotation_days changed; password reminder "
                   "every 45 days\n")
    (row,) = json.loads(cli("accounts", "list", "--json")[1])
    assert row["password_rotation_days"] == 45 and row["status"] == "checking"  # no re-check

    code, out, err = cli("accounts", "edit", "rep@example.com",
                         "--password-rotation-days", "Default")
    assert code == 0, err
    assert "the team-wide default (none)" in out
    (row,) = json.loads(cli("accounts", "list", "--json")[1])
    assert row["password_rotation_days"] is None

    with pytest.raises(SystemExit):
        cli("accounts", "edit", "--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--password-rotation-days N|default" in help_text
    assert "'default' follows the team-wide period again" in help_text


@pytest.mark.parametrize(("value", "message"), [
    ("0", "password reminder 0 is too small (at least 1 day)"),
    ("3651", "password reminder 3651 is too large (at most 3,650 days)"),
    ("-1", "password reminder -1 is too small"),
    ("soon", "'soon' is not a whole number"),
    ("", "password reminder is empty"),
])
def test_a_bad_period_is_one_line_exit_3_and_changes_nothing(
        cli: Cli, one_account: str, value: str, message: str) -> None:
    assert cli("accounts", "edit", "rep@example.com", "--password-rotation-days", "30")[0] == 0
    before = cli("accounts", "list", "--json")[1]
    code, out, err = cli("accounts", "edit", "rep@example.com", "--name", "New name",
                         "--password-rotation-days", value)
    assert code == 3 and out == ""
    assert message in err and err.count("\n") == 1
    assert cli("accounts", "list", "--json")[1] == before


def test_the_command_line_refuses_an_oauth_mailbox_in_one_line(cli: Cli, data_dir: Path
                                                               ) -> None:
    open_db(data_dir / "mailmonitor.sqlite3")
    make_account("g@gmail.test", kind="gmail", auth_method="oauth2")
    close_db()
    before = cli("accounts", "list", "--json")[1]
    for value in ("30", "default"):
        code, out, err = cli("accounts", "edit", "g@gmail.test", "--password-rotation-days",
                             value)
        assert code == 3 and out == ""
        assert err.count("\n") == 1
        assert "g@gmail.test signs in through the browser and has no password to change" in err
    assert cli("accounts", "list", "--json")[1] == before


# --- the warning ----------------------------------------------------------------------------

def test_the_mailboxs_own_period_wins_over_the_default_and_applies_at_once(
        db: Path, clock: FakeClock, memory_keyring: object) -> None:
    set_setting("password_rotation_days", 90)
    start = clock.now()
    short = make_account("short@ex.test", password_rotation_days=30, secret_set_at=start)
    usual = make_account("usual@ex.test", secret_set_at=start)
    long = make_account("long@ex.test", password_rotation_days=120, secret_set_at=start)
    make_account("g@gmail.test", kind="gmail", auth_method="oauth2", secret_set_at=start,
                 password_rotation_days=1)  # stray value: an OAuth mailbox is never reminded
    # An edit announces a change the background loop reconciles on (at once, not a minute
    # later); the reminders below are read right after it.
    announced: list[object] = []
    for event in ATTENTION_EVENTS:
        bus.subscribe(event, lambda *args: announced.append(args))

    # Announced 3 days ahead: the own 30 days on day 27, the default 90 on day 87.
    assert open_reminders(clock.advance(days=27) - timedelta(minutes=1)) == {}
    assert list(open_reminders(clock.now())) == ["short@ex.test"]
    assert "every 30 days" in open_reminders(clock.now())["short@ex.test"]
    [card] = conditions(clock.now(), "password_rotation")
    assert (card.severity, card.action) == ("info", "reconnect")

    # Back to the default (90 days) on day 28: its reminder ends at once, no housekeeping run.
    clock.advance(days=1)
    save_edit(reload(short), validate_edit(reload(short), AccountEdit(
        password_rotation_default=True)), None, clock.now())
    assert announced
    assert open_reminders(clock.now()) == {}
    assert reload(short).password_rotation_days is None
    assert open_reminders(clock.advance(days=58)) == {}
    assert sorted(open_reminders(clock.advance(days=1))) == ["short@ex.test", "usual@ex.test"]
    # long's 120 days: not yet
    assert "every 90 days" in open_reminders(clock.now())["usual@ex.test"]

    # An own period shorter than the password's age: the reminder comes at once too.
    announced.clear()
    save_edit(reload(long), validate_edit(reload(long), AccountEdit(
        password_rotation_days=60)), None, clock.now())
    assert announced
    assert sorted(open_reminders(clock.now())) == [
        "long@ex.test", "short@ex.test", "usual@ex.test"]
    assert "every 60 days" in open_reminders(clock.now())["long@ex.test"]

    # A new password (an edit stores one, like a reconnect) starts the period anew, at once.
    announced.clear()
    save_edit(reload(usual), {}, "a-new-password", clock.now())
    assert announced
    assert reload(usual).secret_set_at == clock.now()
    assert sorted(open_reminders(clock.now())) == ["long@ex.test", "short@ex.test"]
    assert sorted(open_reminders(clock.advance(days=86))) == ["long@ex.test", "short@ex.test"]
    assert sorted(open_reminders(clock.advance(days=1, minutes=1))) == [
        "long@ex.test", "short@ex.test", "usual@ex.test"]
