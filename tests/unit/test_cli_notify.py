"""`mailmonitor notify add|list|test|remove` (spec §7): channels set up from the command line,
bad input is one line on stderr with exit 3 and changes nothing, secrets only in the keyring."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from mailmonitor.memory_keyring import MemoryKeyring
from tests.servers.webhook_receiver import WebhookReceiver

Cli = Callable[..., tuple[int, str, str]]


def stored_bytes(data_dir: Path) -> bytes:
    """The database as it is on disk, write-ahead log included."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("mailmonitor.sqlite3*")))


def channels_in(data_dir: Path) -> list[tuple[str, ...]]:
    with sqlite3.connect(data_dir / "mailmonitor.sqlite3") as conn:
        return conn.execute("SELECT name, kind, target, events FROM notify_channel").fetchall()


def test_add_list_test_remove_a_signed_webhook(cli: Cli, data_dir: Path,
                                               memory_keyring: MemoryKeyring) -> None:
    with WebhookReceiver() as receiver:
        url = receiver.url("/services/T0/B0/XXXsecretpath")
        code, out, err = cli("notify", "add", "Ops room", "--webhook", url,
                             "--events", "disconnected,leads-stopping", "--secret-stdin",
                             stdin="very-secret\n")
        assert (code, err) == (0, "")
        assert "Added alert channel 'Ops room'" in out
        code, out, _ = cli("notify", "list", "--json")
        [row] = json.loads(out)
        assert (row["kind"], row["events"], row["signed"], row["enabled"]) == (
            "webhook", ["disconnected", "leads_stopping"], True, True)
        code, out, err = cli("notify", "test", "Ops room")
        assert (code, err) == (0, ""), err
        [call] = receiver.requests()
        assert call.signature_ok("very-secret") and call.path == "/services/T0/B0/XXXsecretpath"
        assert call.json()["events"][0]["title"].startswith("Test from mailmonitor")
        code, out, _ = cli("notify", "list")
        assert "1 sent" in out and "ok" in out
    # The secret and the URL (a webhook URL is a credential) are in the keyring only.
    assert sorted(memory_keyring.store.values()) == sorted([url, "very-secret"])
    assert b"XXXsecretpath" not in stored_bytes(data_dir)
    assert b"very-secret" not in stored_bytes(data_dir)
    assert cli("notify", "remove", "Ops room")[0] == 0
    assert channels_in(data_dir) == []
    assert memory_keyring.store == {}  # its secret went with it


def test_a_test_that_cannot_arrive_exits_1_with_the_reason(cli: Cli) -> None:
    with WebhookReceiver([500]) as receiver:
        assert cli("notify", "add", "Hook", "--slack", receiver.url())[0] == 0
        code, _, err = cli("notify", "test", "Hook")
    assert code == 1
    assert err.startswith("mailmonitor: the test to 'Hook' did not arrive: HTTP 500")
    assert err.count("\n") == 1


def test_bad_input_is_one_line_exit_3_and_changes_nothing(cli: Cli, data_dir: Path) -> None:
    assert cli("notify", "add", "Me", "--email", "me@team.test")[0] == 0
    before = channels_in(data_dir)
    for args, words in [
        (("notify", "add", "Me", "--email", "other@team.test"), "exists already"),
        (("notify", "add", "X", "--email", "not-an-address"), "not a valid email"),
        (("notify", "add", "X", "--webhook", "ftp://example.com/x"), "not an http(s) URL"),
        (("notify", "add", "X", "--webhook", "http://example.com/x"), "must use https://"),
        (("notify", "add", "X", "--slack", "https://hooks.example/x", "--events", "nope"),
         "unknown event 'nope'"),
        (("notify", "add", "X", "--email", "a@b.test", "--from", "nobody@ex.test"),
         "no mailbox nobody@ex.test"),
        (("notify", "add", "X", "--email", "a@b.test", "--relay", "smtp.team.test:99999",
          "--relay-from", "a@team.test"), "relay port 99999 is too large (at most 65535)"),
        # Empty values are bad input in one line (they raised StopIteration: issue 22).
        (("notify", "add", "X", "--webhook", ""), "the webhook URL is empty"),
        (("notify", "add", "X", "--slack", ""), "the webhook URL is empty"),
        (("notify", "add", "X", "--email", ""), "the alert address is empty"),
        (("notify", "add", "", "--email", "a@b.test"), "the channel name is empty"),
        (("notify", "add", "X", "--email", "a@b.test", "--from", ""), "the mailbox is empty"),
        (("notify", "add", "X", "--email", "a@b.test", "--relay", "", "--relay-from",
          "a@team.test"), "the relay host is empty"),
        (("notify", "add", "X", "--email", "a@b.test", "--relay", "smtp.team.test",
          "--relay-from", ""), "the relay's sender address (--relay-from) is empty"),
        (("notify", "add", "X", "--email", "a@b.test", "--relay-user", "u"), "need --relay"),
        (("notify", "add", "X", "--email", "a@b.test", "--slack", "https://h.example/x"),
         "not allowed with argument"),
        (("notify", "test", "Nope"), "no alert channel named 'Nope'"),
        (("notify", "remove", "Nope"), "no alert channel named 'Nope'"),
    ]:
        code, out, err = cli(*args)
        assert code == 3, (args, out, err)
        assert words in err and err.count("\n") == 1, (args, err)
    assert cli("notify", "add", "Y", "--webhook", "https://h.example/x", "--secret-stdin",
               stdin="\n")[0] == 3
    assert channels_in(data_dir) == before


def test_an_email_channel_through_a_relay_keeps_its_password_in_the_keyring(
        cli: Cli, data_dir: Path, memory_keyring: MemoryKeyring) -> None:
    code, _out, err = cli("notify", "add", "Relay", "--email", "me@team.test", "--relay",
                         "smtp.team.test:465", "--relay-from", "alerts@team.test",
                         "--relay-user", "alerts", "--password-stdin", stdin="relay-pw\n")
    assert code == 0, err
    [row] = json.loads(cli("notify", "list", "--json")[1])
    assert row["from"] == "relay smtp.team.test:465 as alerts@team.test"
    assert b"relay-pw" not in stored_bytes(data_dir)
    assert list(memory_keyring.store.values()) == ["relay-pw"]
