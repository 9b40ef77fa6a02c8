"""The command line round-trips (spec §7), in-process against a real SQLite file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from mailmonitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from mailmonitor.memory_keyring import MemoryKeyring

IMAP_SMTP = ["--imap-host", "127.0.0.1", "--imap-port", "1143", "--imap-security", "plain",
             "--smtp-host", "127.0.0.1", "--smtp-port", "1587", "--smtp-security", "starttls"]


def add(cli, email: str, *extra: str, password: str | None = "pw-123456") -> int:
    args = ["accounts", "add", "--email", email, *IMAP_SMTP, *extra]
    if password is not None:
        args.append("--password-stdin")
    return cli(*args, stdin=(password + "\n") if password else None)[0]


def test_add_list_round_trip_keeps_the_password_out_of_the_database(
        cli, data_dir: Path, memory_keyring: MemoryKeyring) -> None:
    assert add(cli, "Rep.One@Example.COM", "--name", "Rep One", "--daily-limit", "40",
               "--min-gap", "300", "--warmup", "5:5", password="s3cret-Pass") == EXIT_OK
    code, out, _ = cli("accounts", "list", "--json")
    assert code == EXIT_OK
    (row,) = json.loads(out)
    assert row["email"] == "Rep.One@example.com"
    assert (row["name"], row["daily_limit"], row["min_gap_seconds"], row["warmup"]) == \
        ("Rep One", 40, 300, "5:5")
    assert row["status"] == "checking" and row["checked_at"] is None
    assert ("mailmonitor", "rep.one@example.com:password") in memory_keyring.store
    blob = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    assert b"s3cret-Pass" not in blob


@pytest.mark.parametrize("args, message", [
    (["--email", "not-an-address"], "not a valid email address"),
    (["--email", "a@b.example", "--imap-port", "99999"], "IMAP port 99999 is too large"),
    (["--email", "a@b.example", "--warmup", "fast"], "START:STEP"),
    (["--email", "a@b.example", "--imap-security", "tls"], "invalid choice"),
    (["--email", "a@b.example", "--ca-file", "/nonexistent.pem"], "does not exist"),
])
def test_bad_account_input_is_one_line_and_changes_nothing(cli, args, message) -> None:
    base = dict(zip(IMAP_SMTP[::2], IMAP_SMTP[1::2], strict=True))
    merged = list(args)
    for key, value in base.items():
        if key not in args:
            merged += [key, value]
    code, _, err = cli("accounts", "add", *merged)
    assert code == EXIT_USAGE
    assert message in err and err.count("\n") == 1
    assert json.loads(cli("accounts", "list", "--json")[1]) == []


def test_unknown_option_and_unreachable_data_dir_fail_clearly(cli, tmp_path: Path) -> None:
    code, _, err = cli("accounts", "list", "--colour")
    assert code == EXIT_USAGE and "unrecognized arguments: --colour" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = cli("--data-dir", str(blocker / "sub"), "accounts", "list")
    assert code == EXIT_USAGE and "cannot use data folder" in err and err.count("\n") == 1


def test_no_keyring_stores_nothing(cli) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    code, _, err = cli("accounts", "add", "--email", "a@b.example", *IMAP_SMTP,
                       "--password-stdin", stdin="pw\n")
    assert code == EXIT_FAILED and "No usable system keyring" in err
    keyring.set_keyring(MemoryKeyring())
    assert json.loads(cli("accounts", "list", "--json")[1]) == []


def test_accounts_import_is_all_or_nothing_with_line_numbers(
        cli, tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    header = ("email,name,imap_host,imap_port,imap_security,smtp_host,smtp_port,smtp_security,"
              "password")
    good = "a@ex.test,A,127.0.0.1,143,plain,127.0.0.1,587,starttls,pa55word"
    bad = "b@ex.test,B,127.0.0.1,notaport,plain,127.0.0.1,587,starttls,pw"
    csv_file = tmp_path / "acc.csv"
    csv_file.write_text("\n".join([header, good, bad]) + "\n")
    code, _, err = cli("accounts", "import", str(csv_file))
    assert code == EXIT_USAGE and "line 3" in err and "nothing imported" in err
    assert memory_keyring.store == {}
    csv_file.write_text("\n".join([header, good, good.replace("a@", "c@")]) + "\n")
    code, out, _ = cli("accounts", "import", str(csv_file))
    assert code == EXIT_OK and "Imported 2 mailboxes" in out
    assert len(memory_keyring.store) == 2


def test_campaign_and_leads_round_trip(cli, tmp_path: Path) -> None:
    assert add(cli, "one@ex.test") == EXIT_OK
    assert add(cli, "two@ex.test") == EXIT_OK
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([
        {"subject": "Hi {{first_name}}", "body": "Hello", "delay_days": 0},
        {"subject": "", "body": "Following up", "delay_days": 2.5},
    ]))
    code, _, err = cli("campaigns", "create", "Q4", "--mailbox", "one@ex.test", "--mailbox",
                       "two@ex.test", "--steps", str(steps), "--window",
                       "mon-fri 09:00-17:00 Europe/Berlin")
    assert code == EXIT_OK, err
    leads = tmp_path / "leads.csv"
    leads.write_text("email,first_name\nann@x.test,Ann\nnope,Bob\nbo@y.test,Bo\n,\nbad@,X\n")
    code, _, err = cli("leads", "import", "Q4", str(leads))
    assert code == EXIT_USAGE
    assert "line 3" in err and "line 6" in err and "nothing imported" in err
    assert json.loads(cli("leads", "list", "Q4", "--json")[1]) == []
    leads.write_text("email,first_name,company\n" + "".join(
        f"lead{i}@x.test,L{i},C{i}\n" for i in range(10)))
    assert cli("leads", "import", "Q4", str(leads))[0] == EXIT_OK
    rows = json.loads(cli("leads", "list", "Q4", "--json")[1])
    assert len(rows) == 10
    assert {r["state"] for r in rows} == {"pending"} and {r["cursor"] for r in rows} == {0}
    per_mailbox = {m: sum(1 for r in rows if r["mailbox"] == m)
                   for m in ("one@ex.test", "two@ex.test")}
    assert per_mailbox == {"one@ex.test": 5, "two@ex.test": 5}
    assert rows[0]["fields"] == {"first_name": "L0", "company": "C0"}
    (campaign,) = json.loads(cli("campaigns", "list", "--json")[1])
    assert campaign["status"] == "active" and campaign["leads"]["pending"] == 10
    assert campaign["mailboxes_total"] == 2 and campaign["steps"] == 2

    assert cli("campaigns", "pause", "Q4")[0] == EXIT_OK
    (campaign,) = json.loads(cli("campaigns", "list", "--json")[1])
    assert (campaign["status"], campaign["pause_reason"]) == ("paused", "user")
    assert cli("campaigns", "resume", "Q4")[0] == EXIT_OK
    code, _, err = cli("campaigns", "reallocate", "Q4")
    assert code == EXIT_FAILED and "add and connect a mailbox first" in err


def test_bad_steps_file_and_window_are_refused(cli, tmp_path: Path) -> None:
    assert add(cli, "one@ex.test") == EXIT_OK
    steps = tmp_path / "steps.json"
    steps.write_text("[{\"subject\": 1}]")
    code, _, err = cli("campaigns", "create", "X", "--mailbox", "one@ex.test", "--steps",
                       str(steps))
    assert code == EXIT_USAGE and "step 1" in err
    steps.write_text(json.dumps([{"subject": "s", "body": "b", "delay_days": 0}]))
    code, _, err = cli("campaigns", "create", "X", "--mailbox", "one@ex.test", "--steps",
                       str(steps), "--window", "mon-fri 9-5 Mars/Olympus")
    assert code == EXIT_USAGE and "09:00-17:00" in err
    assert json.loads(cli("campaigns", "list", "--json")[1]) == []


def test_disconnect_starts_grace_and_remove_keeps_history(
        cli, memory_keyring: MemoryKeyring) -> None:
    assert add(cli, "one@ex.test") == EXIT_OK
    code, out, _ = cli("accounts", "disconnect", "one@ex.test")
    assert code == EXIT_OK and "grace period" in out
    (row,) = json.loads(cli("accounts", "list", "--json")[1])
    assert row["status"] == "stopped" and row["grace_until"] is not None
    assert memory_keyring.store == {}
    assert cli("accounts", "remove", "one@ex.test")[0] == EXIT_OK
    assert json.loads(cli("accounts", "list", "--json")[1]) == []
    code, _, err = cli("accounts", "remove", "one@ex.test")
    assert code == EXIT_USAGE and "no account" in err  # an unknown mailbox is bad input


def test_a_full_disk_is_one_clear_line_and_changes_nothing(
        cli, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring) -> None:
    import peewee

    from mailmonitor.models import Account

    def disk_full(*args: object, **kwargs: object) -> None:
        raise peewee.OperationalError("database or disk is full")

    with monkeypatch.context() as patch:
        patch.setattr(Account, "create", classmethod(disk_full))
        code, _, err = cli("accounts", "add", "--email", "a@ex.test", *IMAP_SMTP,
                           "--password-stdin", stdin="pw-123456\n")
    assert code == EXIT_FAILED
    assert "disk is full" in err and "nothing was changed" in err and err.count("\n") == 1
    assert memory_keyring.store == {}  # the password stored first was taken back
    assert json.loads(cli("accounts", "list", "--json")[1]) == []
    assert add(cli, "a@ex.test") == EXIT_OK  # and it works once there is room again


def test_reimporting_a_fixed_csv_repairs_flagged_leads_in_place(cli, tmp_path: Path) -> None:
    from mailmonitor.clock import utcnow
    from mailmonitor.models import Alert, Lead, close_db, open_db
    from mailmonitor.services.sending.sendlog import flag_lead

    assert add(cli, "one@ex.test") == EXIT_OK
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([{"subject": "Hi {{first_name}}", "body": "b", "delay_days": 0}]))
    assert cli("campaigns", "create", "Q4", "--mailbox", "one@ex.test", "--steps",
               str(steps))[0] == EXIT_OK
    leads = tmp_path / "leads.csv"
    leads.write_text("email,first_name,company\nann@x.test,,Acme\nbo@x.test,Bo,Beta\n")
    assert cli("leads", "import", "Q4", str(leads))[0] == EXIT_OK

    data_dir = Path(os.environ["MAILMONITOR_DATA_DIR"])
    open_db(data_dir / "mailmonitor.sqlite3")
    ann = Lead.get(Lead.email == "ann@x.test")
    Lead.update(cursor=1, messages_sent=1, state="active").where(Lead.id == ann.id).execute()
    flag_lead(ann.id, "missing field first_name", utcnow())
    close_db()

    leads.write_text("email,first_name,company\nann@x.test,Ann,\nnew@x.test,Nu,Gamma\n")
    code, out, _ = cli("leads", "import", "Q4", str(leads))
    assert code == EXIT_OK
    assert "Imported 1 lead into" in out and "1 already there kept their place" in out
    rows = {r["email"]: r for r in json.loads(cli("leads", "list", "Q4", "--json")[1])}
    assert rows["ann@x.test"]["fields"] == {"first_name": "Ann", "company": "Acme"}
    assert rows["ann@x.test"]["flag"] is None
    assert (rows["ann@x.test"]["cursor"], rows["ann@x.test"]["state"]) == (1, "active")
    assert rows["bo@x.test"]["fields"] == {"first_name": "Bo", "company": "Beta"}
    assert len(rows) == 3
    open_db(data_dir / "mailmonitor.sqlite3")
    assert not Alert.select().where(Alert.kind == "leads_flagged",
                                    Alert.resolved_at.is_null()).exists()
    close_db()


def test_json_lists_print_one_item_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    """`--json` lists: one item per line (grep-able, and the C encoder's speed), still one
    JSON document; an empty list and a single object print as before."""
    from mailmonitor.cli.common import print_json

    rows = [{"email": "jürgen@bücher.de", "imap": {"ok": True, "phases": {"tls": 1.5}}},
            {"email": "b@x.test", "imap": None}]
    print_json(rows)
    out = capsys.readouterr().out
    assert out.splitlines() == ["[", '  {"email": "jürgen@bücher.de", "imap": {"ok": true, '
                                '"phases": {"tls": 1.5}}},', '  {"email": "b@x.test", '
                                '"imap": null}', "]"]
    assert json.loads(out) == rows
    print_json([])
    print_json({"a": 1})
    assert capsys.readouterr().out == '[]\n{\n  "a": 1\n}\n'
