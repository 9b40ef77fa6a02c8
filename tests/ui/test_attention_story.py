"""What the rep is told, end to end (issue 25): a real Dovecot on loopback, the command line as a
rep runs it, the window (pytest-qt) on the same database, and a local webhook receiver as an
alert channel. At every step `alerts --json`, the window's alerts list and banner, and the
channel agree with the state, and every change of a condition is one message, once.

The story: a wrong password; two more mailboxes of the same server failing the same way (one
card, not three); a two-step disconnect with its grace deadline (first in the list); a
re-allocation (the card stops saying leads wait); a reconnect; a maintenance window (no alert
sound, no message); the rest reconnected (nothing left)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.cli.common import EXIT_CRITICAL, EXIT_OK
from mailmonitor.clock import SystemClock
from mailmonitor.models import close_db, open_db, set_setting
from mailmonitor.services.alerts import digest, outbox
from mailmonitor.ui.main_window import MainWindow
from tests.servers.certs import TestPKI
from tests.servers.dovecot import Dovecot, MailUser
from tests.servers.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.integration, pytest.mark.ui]

Cli = Callable[..., tuple[int, str, str]]


def add_args(user: MailUser, dovecot: Dovecot, pki: TestPKI) -> list[str]:
    return ["accounts", "add", "--email", user.email, "--imap-host", "127.0.0.1",
            "--imap-port", str(dovecot.imap_port), "--imap-security", "starttls",
            "--smtp-host", "127.0.0.1", "--smtp-port", str(dovecot.submission_port),
            "--smtp-security", "starttls", "--ca-file", str(pki.ca_cert), "--password-stdin"]


class Channel:
    """The webhook channel as the app's alert loop runs it: one digest per round, delivered."""

    def __init__(self, data_dir: Path, receiver: WebhookReceiver) -> None:
        self.data_dir, self.receiver = data_dir, receiver

    def round(self) -> list[dict[str, Any]]:
        """Run one round; the items the receiver got from it."""
        before = len(self.receiver.accepted())
        open_db(self.data_dir / "mailmonitor.sqlite3")
        try:
            digest.collect_round(SystemClock().now())
            outbox.deliver_due(SystemClock(), timeout=5)
        finally:
            close_db()
        return [item for request in self.receiver.accepted()[before:]
                for item in request.json()["events"]]


class Window:
    """The rep's window on the same database (each command closes the database it opened)."""

    def __init__(self, make_window: Callable[..., MainWindow], database: Path) -> None:
        self.database = database
        open_db(database)
        self.window = make_window()
        self.window.show()
        close_db()

    def agrees_with(self, listed: list[dict[str, Any]]) -> None:
        """The alerts list shows the same cards in the same order; the one banner shows the
        most urgent audible one (or nothing); the tray's tooltip leads with it."""
        open_db(self.database)
        dialog = self.window.open_alerts()
        assert [c.key for c in dialog.cards] == [c["key"] for c in listed]
        assert [c.card.title for c in dialog.cards] == [c["title"] for c in listed]
        dialog.close()
        loud = [c for c in listed if not c["muted"]]
        if loud:
            assert self.window.attention.isVisible()
            assert self.window.attention.text.text().startswith(f"<b>{loud[0]['title']}</b>")
            assert loud[0]["title"][:40] in self.window.tray.tooltip
        else:
            assert not self.window.attention.isVisible()
        close_db()


def alerts(cli: Cli, window: Window | None = None) -> list[dict[str, Any]]:
    code, out, err = cli("alerts", "--json")
    assert code == EXIT_OK, err
    found: list[dict[str, Any]] = json.loads(out)
    if window is not None:
        window.agrees_with(found)
    return found


def test_one_model_behind_the_list_the_window_and_the_channel_through_a_disconnection_story(
        cli: Cli, dovecot: Dovecot, test_pki: TestPKI, db: Path, data_dir: Path, tmp_path: Path,
        make_window: Callable[..., MainWindow]) -> None:
    close_db()  # the commands open it themselves
    users = {name: dovecot.new_user() for name in ("ava", "ben", "cleo", "dan", "finn")}
    for user in users.values():
        assert cli(*add_args(user, dovecot, test_pki), stdin=user.password + "\n")[0] == EXIT_OK
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([{"subject": "Hi", "body": "Hello", "delay_days": 0},
                                 {"subject": "Again", "body": "Hi", "delay_days": 2}]))
    mailboxes = [arg for u in users.values() for arg in ("--mailbox", u.email)]
    assert cli("campaigns", "create", "Q4", *mailboxes, "--steps", str(steps))[0] == EXIT_OK
    leads = tmp_path / "leads.csv"
    leads.write_text("email\n" + "".join(f"lead{i}@leads.test\n" for i in range(20)))
    assert cli("leads", "import", "Q4", str(leads))[0] == EXIT_OK
    # The story is about what the rep is told: the login budget, which would hold back most of
    # these checks of one server (a dozen refused sign-ins within seconds), is proven in
    # test_login_budget_dovecot.py.
    open_db(data_dir / "mailmonitor.sqlite3")
    set_setting("login_budget_server", 100)
    set_setting("login_budget_mailbox", 100)
    close_db()
    view = Window(make_window, db)  # the rep's window, open from here on
    with WebhookReceiver() as receiver:
        assert cli("notify", "add", "Hooks", "--webhook", receiver.url())[0] == EXIT_OK
        channel = Channel(data_dir, receiver)
        assert cli("check", "--json")[0] == EXIT_OK
        assert alerts(cli, view) == [] and channel.round() == []

        # 1. A wrong password: one card, critical, with its action; one message.
        ben, cleo, dan = users["ben"], users["cleo"], users["dan"]
        dovecot.set_password(ben.email, "changed-on-server")
        assert cli("check", "--json")[0] == EXIT_CRITICAL
        [card] = alerts(cli, view)
        assert (card["kind"], card["severity"], card["action"], card["mailboxes"]) == \
            ("mailbox_broken", "critical", "reconnect", [ben.email])
        assert card["title"] == f"{ben.email} is disconnected: Invalid Credentials"
        assert card["campaigns"] == ["Q4"] and card["muted"] is False
        assert card["since"].endswith("+00:00") and card["deadline"] is None
        [item] = channel.round()
        assert (item["event"], item["change"], item["key"]) == ("disconnected", "opened",
                                                               card["key"])

        # 2. Two more mailboxes of the same server, the same way: still one card, naming
        #    three; the channel hears of the change once; a repeat is counted, not told.
        for user in (cleo, dan):
            dovecot.set_password(user.email, "changed-too")
        assert cli("check", "--json")[0] == EXIT_CRITICAL
        [card] = alerts(cli, view)
        assert card["mailboxes"] == sorted([ben.email, cleo.email, dan.email])
        assert card["title"] == \
            "3 mailboxes on 127.0.0.1 are disconnected: Invalid Credentials"
        [item] = channel.round()
        assert (item["change"], item["title"]) == ("changed", card["title"])
        count = card["count"]
        assert cli("check", "--json")[0] == EXIT_CRITICAL
        [again] = alerts(cli, view)
        assert again["key"] == card["key"] and again["count"] > count
        assert channel.round() == []

        # 3. A two-step disconnect: its grace deadline comes first.
        finn = users["finn"]
        assert cli("accounts", "disconnect", finn.email)[0] == EXIT_OK
        first, second = alerts(cli, view)
        assert (first["kind"], first["mailboxes"], first["action"]) == \
            ("grace_ending", [finn.email], "reconnect")
        assert first["deadline"] is not None and first["deadline"].endswith("+00:00")
        assert second["key"] == card["key"]
        [item] = channel.round()
        assert (item["kind"], item["change"], item["event"]) == ("grace_ending", "opened",
                                                                 "reminder")
        assert item["deadline"] is not None

        # 4. Re-allocating the waiting leads: the card stops saying that they wait (no message:
        #    the condition is the same), and Finn has nothing left to keep (told once).
        waiting = next(c for c in alerts(cli, view) if c["kind"] == "mailbox_broken")
        assert "wait at their step" in waiting["message"]
        assert cli("campaigns", "reallocate", "Q4")[0] == EXIT_OK
        [moved] = alerts(cli, view)
        assert moved["key"] == card["key"] and "wait at" not in moved["message"]
        assert "No lead waits for them" in moved["message"]
        [item] = channel.round()
        assert (item["change"], item["kind"], item["title"]) == \
            ("resolved", "grace_ending", f"Nothing waits for {finn.email} any more")

        # 5. Ben reconnects: the card names the two others; told once.
        assert cli("accounts", "reconnect", ben.email, "--password-stdin",
                   stdin="changed-on-server\n")[0] == EXIT_OK
        [card] = alerts(cli, view)
        assert card["mailboxes"] == sorted([cleo.email, dan.email])
        [item] = channel.round()
        assert (item["change"], item["kind"]) == ("changed", "mailbox_broken")

        # 6. A maintenance window over their domain: the card is kept, muted; no message.
        domain = cleo.email.rpartition("@")[2]
        assert cli("maintenance", "add", "--domain", domain, "--until", "2h",
                   "--note", "provider migration")[0] == EXIT_OK
        [card] = alerts(cli, view)
        assert card["muted"] is True and card["mailboxes"] == sorted([cleo.email, dan.email])
        assert cli("check", "--json")[0] == EXIT_CRITICAL
        assert channel.round() == []

        # 7. The window ends early: the card sounds again, once.
        [window] = json.loads(cli("maintenance", "list", "--json")[1])
        assert (window["scope"], window["target"], window["active"]) == ("domain", domain, True)
        assert cli("maintenance", "remove", str(window["id"]))[0] == EXIT_OK
        [card] = alerts(cli, view)
        assert card["muted"] is False
        [item] = channel.round()
        assert (item["change"], item["kind"]) == ("changed", "mailbox_broken")

        # 8. Both reconnect, then Finn: nothing needs the rep; each change told once.
        for user in (cleo, dan):
            assert cli("accounts", "reconnect", user.email, "--password-stdin",
                       stdin="changed-too\n")[0] == EXIT_OK
        assert cli("accounts", "reconnect", finn.email, "--password-stdin",
                   stdin=finn.password + "\n")[0] == EXIT_OK
        assert alerts(cli, view) == []
        items = channel.round()
        assert [(i["change"], i["event"]) for i in items] == [("changed", "disconnected"),
                                                            ("resolved", "reconnected")]
        assert items[1]["title"] == f"{dan.email} is connected again"

        # Exactly once: every message the receiver got, in order.
        told = [(i["change"], i["kind"]) for r in receiver.accepted()
                for i in r.json()["events"]]
        assert told == [("opened", "mailbox_broken"), ("changed", "mailbox_broken"),
                        ("opened", "grace_ending"), ("resolved", "grace_ending"),
                        ("changed", "mailbox_broken"), ("changed", "mailbox_broken"),
                        ("changed", "mailbox_broken"), ("resolved", "mailbox_broken")]
