"""Bad input at the command line (issue 12 part 2, spec §7): every number bounded, every field
checked, one clear line on stderr, exit 3, nothing changed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest

from mailmonitor.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from mailmonitor.memory_keyring import MemoryKeyring
from tests.factories import make_account
from tests.unit.test_cli import IMAP_SMTP, add

ROOT = Path(__file__).resolve().parents[2]


def accounts(cli) -> list[dict]:
    return json.loads(cli("accounts", "list", "--json")[1])


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("extra, message", [
    (["--daily-limit", "99999999999999999999999"], "daily limit 99999999999999999999999 is too "
                                                   "large (at most 100,000"),
    (["--daily-limit", "100001"], "at most 100,000"),
    (["--min-gap", "1000000000000"], "minimum gap 1000000000000 is too large"),
    (["--warmup", "5:99999999999999999999"], "warm-up step 99999999999999999999 is too large "
                                             "(at most 100,000 more emails each day)"),
    (["--imap-host", "127.0.0.1:993"], "give the port with its own option"),
    (["--smtp-host", "http://evil/"], "SMTP host 'http://evil/' is not a host name"),
    (["--imap-host", "mail..example.com"], "is not a host name"),
])
def test_numbers_and_hosts_are_bounded_at_input(cli, extra, message) -> None:
    base = dict(zip(IMAP_SMTP[::2], IMAP_SMTP[1::2], strict=True))
    args = list(extra) + [x for k, v in base.items() if k not in extra for x in (k, v)]
    code, _, err = cli("accounts", "add", "--email", "a@ex.test", *args)
    assert code == EXIT_USAGE, err
    assert message in err and one_line(err)
    assert accounts(cli) == []


def test_the_largest_allowed_numbers_are_accepted(cli) -> None:
    assert add(cli, "a@ex.test", "--daily-limit", "100000", "--min-gap", "86400") == EXIT_OK
    (row,) = accounts(cli)
    assert (row["daily_limit"], row["min_gap_seconds"]) == (100000, 86400)


def write_steps(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("delay, message", [
    ("1e7", "step 1 delay_days 10000000.0 is too large (at most 3,650 days)"),
    ("Infinity", "step 1 delay_days inf is too large"),
    ("NaN", "step 1 delay_days nan is not a number"),
    ("-1", "step 1 delay_days -1 is too small (at least 0 days)"),
    ('"3"', "must be a number of days ≥ 0, not '3'"),
])
def test_a_delay_no_calendar_can_hold_is_refused(cli, tmp_path: Path, delay, message) -> None:
    assert add(cli, "a@ex.test") == EXIT_OK
    steps = write_steps(tmp_path / "s.json",
                        f'[{{"subject": "Hi", "body": "b", "delay_days": {delay}}}]')
    code, _, err = cli("campaigns", "create", "C", "--mailbox", "a@ex.test", "--steps",
                       str(steps))
    assert code == EXIT_USAGE, err
    assert message in err and one_line(err)
    assert json.loads(cli("campaigns", "list", "--json")[1]) == []


def test_fractional_and_ten_year_delays_are_fine(cli, tmp_path: Path) -> None:
    assert add(cli, "a@ex.test") == EXIT_OK
    steps = write_steps(tmp_path / "s.json", '[{"subject": "Hi", "body": "b", "delay_days": 0},'
                        ' {"subject": "", "body": "b", "delay_days": 3650},'
                        ' {"subject": "", "body": "b", "delay_days": 0.25}]')
    assert cli("campaigns", "create", "C", "--mailbox", "a@ex.test", "--steps", str(steps)
               )[0] == EXIT_OK


def test_steps_nested_100000_deep_is_one_line(cli, tmp_path: Path) -> None:
    assert add(cli, "a@ex.test") == EXIT_OK
    steps = write_steps(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    code, _, err = cli("campaigns", "create", "C", "--mailbox", "a@ex.test", "--steps",
                       str(steps))
    assert code == EXIT_USAGE
    assert "nested too deeply to be a steps file" in err and one_line(err)


def test_too_many_steps_are_refused(cli, tmp_path: Path) -> None:
    assert add(cli, "a@ex.test") == EXIT_OK
    steps = write_steps(tmp_path / "many.json", json.dumps(
        [{"subject": "Hi", "body": "b", "delay_days": 1}] * 101))
    code, _, err = cli("campaigns", "create", "C", "--mailbox", "a@ex.test", "--steps",
                       str(steps))
    assert code == EXIT_USAGE and "101 steps is too many (at most 100)" in err


@pytest.mark.parametrize("window, message", [
    ("mon-fri 09:00-24:30", "sending hours '09:00-24:30' are not valid times"),
    ("mon-fri 25:00-26:00", "are not valid times"),
    ("mon-fri 09:60-17:00", "are not valid times"),
])
def test_impossible_sending_hours_are_refused(cli, tmp_path: Path, window, message) -> None:
    assert add(cli, "a@ex.test") == EXIT_OK
    steps = write_steps(tmp_path / "s.json", '[{"subject": "Hi", "body": "b"}]')
    code, _, err = cli("campaigns", "create", "C", "--mailbox", "a@ex.test", "--steps",
                       str(steps), "--window", window)
    assert code == EXIT_USAGE and message in err and one_line(err)
    assert json.loads(cli("campaigns", "list", "--json")[1]) == []


def test_until_midnight_is_still_24_00(cli, tmp_path: Path) -> None:
    assert add(cli, "a@ex.test") == EXIT_OK
    steps = write_steps(tmp_path / "s.json", '[{"subject": "Hi", "body": "b"}]')
    assert cli("campaigns", "create", "C", "--mailbox", "a@ex.test", "--steps", str(steps),
               "--window", "mon-fri 18:00-24:00 Europe/Berlin")[0] == EXIT_OK
    from mailmonitor.services.common.validation import parse_window

    assert parse_window("mon-fri 18:00-24:00 Europe/Berlin") == {
        "days": [0, 1, 2, 3, 4], "start": "18:00", "end": "00:00", "tz": "Europe/Berlin"}


def test_addresses_are_one_identity_whatever_their_case(
        cli, memory_keyring: MemoryKeyring) -> None:
    assert add(cli, "Sales@x.test", password="first-pass") == EXIT_OK
    code, _, err = cli("accounts", "add", "--email", "sales@X.TEST", *IMAP_SMTP,
                       "--password-stdin", stdin="second-pass\n")
    assert code == EXIT_USAGE
    assert "sales@x.test is already added (as Sales@x.test)" in err and one_line(err)
    assert [a["email"] for a in accounts(cli)] == ["Sales@x.test"]
    # one keyring entry, still the first password
    assert memory_keyring.store == {("mailmonitor", "sales@x.test:password"): "first-pass"}
    # every command finds it by any case
    assert cli("accounts", "disconnect", "SALES@x.test")[0] == EXIT_OK
    assert memory_keyring.store == {}
    assert cli("accounts", "remove", "sales@x.test")[0] == EXIT_OK
    assert accounts(cli) == []
    # added again in another case: the same account (history kept), the new spelling shown
    assert add(cli, "sales@x.test") == EXIT_OK
    assert [a["email"] for a in accounts(cli)] == ["sales@x.test"]


def test_campaign_mailboxes_and_check_find_addresses_by_any_case(cli, tmp_path: Path) -> None:
    assert add(cli, "Rep@x.test") == EXIT_OK
    steps = write_steps(tmp_path / "s.json", '[{"subject": "Hi", "body": "b"}]')
    assert cli("campaigns", "create", "C", "--mailbox", "rep@X.test", "--steps", str(steps)
               )[0] == EXIT_OK
    code, out, err = cli("check", "--json", "REP@x.test", "--concurrency", "2")
    assert code != EXIT_USAGE, err
    assert [row["email"] for row in json.loads(out)] == ["Rep@x.test"]


def test_import_with_case_duplicates_is_refused(cli, tmp_path: Path) -> None:
    assert add(cli, "Sales@x.test") == EXIT_OK
    csv = tmp_path / "a.csv"
    csv.write_text("email,imap_host,imap_port,imap_security,smtp_host,smtp_port,password\n"
                   "SALES@x.test,127.0.0.1,1143,plain,127.0.0.1,1587,pw\n"
                   "new@x.test,127.0.0.1,1143,plain,127.0.0.1,1587,pw\n"
                   "NEW@x.test,127.0.0.1,1143,plain,127.0.0.1,1587,pw\n")
    code, _, err = cli("accounts", "import", str(csv))
    assert code == EXIT_USAGE and one_line(err)
    assert "line 2: SALES@x.test is already added" in err and "line 4: NEW@x.test appears twice" \
        in err
    assert len(accounts(cli)) == 1


def test_100k_invalid_import_rows_name_the_first_few_then_the_count(cli, tmp_path: Path
                                                                    ) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("email,imap_host,imap_port,smtp_host,smtp_port\n"
                   + "not-an-address,h,1,h,2\n" * 100_000)
    code, _, err = cli("accounts", "import", str(csv))
    assert code == EXIT_USAGE and one_line(err)
    assert "100,000 bad row(s)" in err and "line 2:" in err and "line 6:" in err
    assert "line 7:" not in err and "and 99,995 more" in err
    assert len(err) < 1000
    assert accounts(cli) == []


def test_a_huge_bad_cell_is_quoted_short(cli, tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("email,imap_host,imap_port,smtp_host,smtp_port\n"
                   f"{'x' * 1_000_000},h,1,h,2\n")
    code, _, err = cli("accounts", "import", str(csv))
    assert code == EXIT_USAGE and one_line(err) and len(err) < 500


def test_plain_to_a_remote_host_needs_allow_plaintext(cli) -> None:
    remote = ["--imap-host", "mail.example.com", "--imap-port", "143", "--imap-security",
              "plain", "--smtp-host", "mail.example.com", "--smtp-port", "587",
              "--smtp-security", "starttls"]
    code, _, err = cli("accounts", "add", "--email", "a@ex.test", *remote, "--password-stdin",
                       stdin="pw\n")
    assert code == EXIT_USAGE and one_line(err)
    assert ("IMAP security 'plain' would send the password unencrypted to mail.example.com; "
            "use ssl or starttls, or confirm with --allow-plaintext") in err
    assert accounts(cli) == []
    code, _out, err = cli("accounts", "add", "--email", "a@ex.test", *remote, "--allow-plaintext",
                          "--password-stdin", stdin="pw\n")
    assert code == EXIT_OK
    assert err == ("mailmonitor: warning: IMAP uses security 'plain': the password travels "
                   "unencrypted to mail.example.com\n")
    assert accounts(cli)[0]["imap"]["security"] == "plain"


def test_plain_on_the_local_network_is_warned_and_on_loopback_silent(cli) -> None:
    lan = ["--imap-host", "192.168.1.10", "--imap-port", "143", "--imap-security", "plain",
           "--smtp-host", "127.0.0.1", "--smtp-port", "25", "--smtp-security", "plain"]
    code, _, err = cli("accounts", "add", "--email", "a@ex.test", *lan, "--password-stdin",
                       stdin="pw\n")
    assert code == EXIT_OK
    assert err == ("mailmonitor: warning: IMAP uses security 'plain': the password travels "
                   "unencrypted to 192.168.1.10\n")


def test_known_providers_need_no_host_options(cli) -> None:
    code, _out, err = cli("accounts", "add", "--email", "rep@fastmail.com", "--password-stdin",
                         stdin="app-pass\n")
    assert code == EXIT_OK, err
    (row,) = accounts(cli)
    assert row["imap"] == {"host": "imap.fastmail.com", "port": 993, "security": "ssl"}
    assert row["smtp"] == {"host": "smtp.fastmail.com", "port": 465, "security": "ssl"}
    code, _, err = cli("accounts", "add", "--email", "rep@unknown-provider.test")
    assert code == EXIT_USAGE and "the IMAP host is missing (--imap-host)" in err


def test_a_given_host_keeps_the_reps_settings_for_that_side(cli) -> None:
    code, _, err = cli("accounts", "add", "--email", "rep@fastmail.com", "--imap-host",
                       "127.0.0.1", "--imap-port", "1143", "--imap-security", "plain",
                       "--password-stdin", stdin="app-pass\n")
    assert code == EXIT_OK, err
    (row,) = accounts(cli)
    assert row["imap"] == {"host": "127.0.0.1", "port": 1143, "security": "plain"}
    assert row["smtp"]["host"] == "smtp.fastmail.com"


def test_no_keyring_check_blames_the_keyring_not_the_mailbox(cli, memory_keyring) -> None:
    assert add(cli, "a@ex.test") == EXIT_OK
    before = accounts(cli)[0]
    keyring.set_keyring(keyring.backends.fail.Keyring())
    code, out, err = cli("check", "--json")
    assert code == EXIT_FAILED
    assert "nothing was checked" in err and "keyring" in err and one_line(err)
    assert "Invalid Credentials" not in err + out
    keyring.set_keyring(memory_keyring)
    after = accounts(cli)[0]
    assert (after["status"], after["reason"], after["checked_at"]) == \
        (before["status"], before["reason"], before["checked_at"])


def test_a_bad_keyring_backend_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "no.such.Backend",
           "MAILMONITOR_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "mailmonitor"]
    add_run = subprocess.run([*base, "accounts", "add", "--email", "a@ex.test", *IMAP_SMTP,
                              "--password-stdin"], input="pw-123\n", capture_output=True,
                             text=True, env=env, timeout=60)
    assert add_run.returncode == EXIT_FAILED
    assert add_run.stderr.startswith("mailmonitor: PYTHON_KEYRING_BACKEND='no.such.Backend' "
                                     "could not be loaded")
    assert one_line(add_run.stderr)
    # an account whose secret was stored earlier, with a working keyring: check cannot read it
    from mailmonitor.models import close_db, open_db

    open_db(tmp_path / "data" / "mailmonitor.sqlite3")
    make_account("b@ex.test", status="connected")
    close_db()
    check_run = subprocess.run([*base, "check"], capture_output=True, text=True, env=env,
                               timeout=60)
    assert check_run.returncode == EXIT_FAILED and one_line(check_run.stderr)
    assert "no.such.Backend" in check_run.stderr


def test_check_with_no_accounts_needs_no_keyring(cli) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())
    assert cli("check", "--json") == (EXIT_OK, "[]\n", "")


def test_concurrency_is_bounded(cli) -> None:
    for value, message in (("0", "at least 1"), ("65", "at most 64"), ("many", "invalid int")):
        code, _, err = cli("check", "--concurrency", value)
        assert code == EXIT_USAGE and message in err and one_line(err)


def all_parsers() -> list[tuple[str, Any]]:
    import argparse

    from mailmonitor.cli import build_parser

    found: list[tuple[str, Any]] = []

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        found.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    walk(f"{name} {sub_name}", sub)

    walk("mailmonitor", build_parser())
    return found


def test_every_command_and_option_has_a_help_text() -> None:
    import argparse

    missing = []
    for name, parser in all_parsers():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not choice.help:
                        missing.append(f"{name} {choice.dest}")
            elif not action.help or (action.help == argparse.SUPPRESS and \
                    action.dest != "data_dir"):
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []
    assert len(all_parsers()) >= 20


def test_help_shows_readable_choices_not_python_sets(cli) -> None:
    for name, parser in all_parsers():
        text = parser.format_help()
        # argparse's {,ssl,plain}; `{token}` is what the rep types into an unsubscribe URL
        assert not re.search(r"\{(?!token\})[\w,-]*\}", text), (name, text)
    add_help = dict(all_parsers())["mailmonitor accounts add"].format_help()
    assert "--imap-security ssl|starttls|plain" in add_help
    assert "--kind imap|gmail|microsoft" in add_help
    assert "--allow-plaintext" in add_help and "--concurrency" in dict(all_parsers())[
        "mailmonitor check"].format_help()


def test_empty_lists_say_so(cli) -> None:
    code, out, _ = cli("accounts", "list")
    assert code == EXIT_OK
    assert out == "No mailboxes yet: add one with `mailmonitor accounts add --email E`\n"
    code, out, _ = cli("campaigns", "list")
    assert code == EXIT_OK and out.startswith("No campaigns yet: create one with")
    assert cli("check")[1].startswith("No mailboxes to check")
    assert cli("accounts", "list", "--json")[1].strip() == "[]"  # JSON stays JSON
    assert cli("campaigns", "list", "--json")[1].strip() == "[]"


def test_the_monitor_never_blames_a_mailbox_for_a_missing_keyring(db: Path) -> None:
    import asyncio

    from mailmonitor.clock import FakeClock
    from mailmonitor.models import Account, Check
    from mailmonitor.services.monitoring.monitor import Monitor
    from tests.attention_support import conditions
    from tests.factories import make_account, reload

    clock = FakeClock()
    account = make_account("rep@ex.test", status="connected", imap_host="127.0.0.1",
                           smtp_host="127.0.0.1")
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        async def check() -> Any:
            monitor = Monitor(clock)
            try:
                return await monitor.check_account(account.id, "schedule")
            finally:
                await monitor.stop()

        assert asyncio.run(check()) is None
    finally:
        keyring.set_keyring(previous)
    after: Account = reload(account)
    assert (after.status, after.reason) == ("connected", None)
    assert Check.select().count() == 0
    assert after.next_check_at is not None and after.next_check_at > clock.now()
    [alert] = conditions(clock.now())  # what the rep is told: the keyring, not the mailbox
    assert (alert.kind, alert.severity, alert.mailboxes) == ("keyring_unavailable", "critical",
                                                            [])
    assert alert.title == "The system keyring is unavailable: mailboxes cannot be checked"
    assert "keep their last status" in alert.message


def test_100k_invalid_lead_rows_name_the_first_few_then_the_count(cli, tmp_path: Path) -> None:
    assert add(cli, "a@ex.test") == EXIT_OK
    steps = write_steps(tmp_path / "s.json", '[{"subject": "Hi", "body": "b"}]')
    assert cli("campaigns", "create", "C", "--mailbox", "a@ex.test", "--steps", str(steps)
               )[0] == EXIT_OK
    leads = tmp_path / "leads.csv"
    leads.write_text("email,first_name\n" + "nope,Ann\n" * 100_000)
    code, _, err = cli("leads", "import", "C", str(leads))
    assert code == EXIT_USAGE and one_line(err) and len(err) < 1000
    assert "100,000 malformed row(s), nothing imported" in err and "and 99,995 more" in err
    assert json.loads(cli("leads", "list", "C", "--json")[1]) == []


def test_an_import_confirms_plaintext_per_row(cli, tmp_path: Path) -> None:
    csv = tmp_path / "a.csv"
    header = "email,imap_host,imap_port,imap_security,smtp_host,smtp_port,smtp_security"
    header += ",password"
    csv.write_text(f"{header}\none@x.test,mail.example.com,143,plain,mail.example.com,465,ssl,"
                   "pw\n")
    code, _, err = cli("accounts", "import", str(csv))
    assert code == EXIT_USAGE and "line 2: IMAP security 'plain' would send the password" in err
    csv.write_text(f"{header},allow_plaintext\n"
                   "one@x.test,mail.example.com,143,plain,mail.example.com,465,ssl,pw,yes\n")
    assert cli("accounts", "import", str(csv))[0] == EXIT_OK
    assert accounts(cli)[0]["imap"]["security"] == "plain"
