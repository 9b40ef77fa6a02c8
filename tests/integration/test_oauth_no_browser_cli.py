"""Issue 21, part 2 on the command line (spec §7, a contract):
`accounts add --kind gmail|microsoft --no-browser` and `accounts reconnect EMAIL --no-browser`,
run as a process on a terminal-less "server": the rep reads what it prints, signs in on another
device (tests/servers/idp.py), and for Google pastes the address back on standard input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.oauth_support import oauth_add_args
from tests.kill_harness import ROOT
from tests.servers.dovecot import Dovecot
from tests.servers.idp import IdentityProvider, TestBrowser

pytestmark = pytest.mark.integration

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(idp: IdentityProvider, tmp_path: Path) -> Iterator[Run]:
    """`mailmonitor ARGS` as a process; `rep(stdout_so_far, stdin)` acts on what it printed
    (once a line of instructions appeared) and may write to its standard input."""
    env = dict(os.environ)
    env.update(idp.env())
    env.update({"PYTHONPATH": str(ROOT), "MAILMONITOR_DATA_DIR": str(tmp_path / "data"),
                "PYTHON_KEYRING_BACKEND": "tests.file_keyring.FileKeyring",
                "MAILMONITOR_TEST_KEYRING_FILE": str(tmp_path / "keyring.json"),
                "BROWSER": "false"})  # a browser that cannot open: none may be needed

    def run_it(*args: str, rep: Callable[[str, object], bool] | None = None,
               stdin: str | None = None) -> tuple[int, str, str]:
        out: list[str] = []
        errors: list[BaseException] = []
        with subprocess.Popen([sys.executable, "-m", "mailmonitor", *args], env=env, cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as process:
            assert process.stdout is not None and process.stdin is not None
            if stdin is not None:
                process.stdin.write(stdin)
                process.stdin.close()

            def follow() -> None:  # the rep reads the terminal as it is written
                acted = rep is None
                for line in process.stdout:  # type: ignore[union-attr]
                    out.append(line)
                    if not acted:
                        try:
                            acted = rep("".join(out), process.stdin)  # type: ignore[misc]
                        except BaseException as exc:
                            errors.append(exc)
                            acted = True

            reader = threading.Thread(target=follow, daemon=True)
            reader.start()
            try:
                err = process.stderr.read()  # type: ignore[union-attr]
                code = process.wait(timeout=60)
            finally:
                if process.poll() is None:
                    process.kill()
            reader.join(timeout=10)
        assert errors == []
        return code, "".join(out), err

    yield run_it


def on_other_device(idp: IdentityProvider, user: str | None = None
                    ) -> Callable[[str, object], bool]:
    device = TestBrowser(idp, user)

    def act(printed: str, stdin: object) -> bool:
        if "enter the code" in printed:
            device.enter_device_code(printed, user)
            return True
        if "paste it here" in printed:
            url = next(w for w in printed.split() if w.startswith("https://"))
            address = device.redirected_address(url, user)
            stdin.write(address + "\n")  # type: ignore[attr-defined]
            stdin.flush()  # type: ignore[attr-defined]
            return True
        return False

    return act


@pytest.mark.parametrize("kind", ["gmail", "microsoft"])
def test_add_check_and_reconnect_with_no_browser(
        kind: str, run: Run, idp: IdentityProvider, dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    code, out, err = run(*oauth_add_args(kind, email, dovecot_oauth), "--no-browser",
                         rep=on_other_device(idp))
    assert code == 0, err
    assert f"Added {email} (signed in with" in out
    assert ("enter the code" if kind == "microsoft" else "paste it here") in out
    code, out, err = run("check", "--json", email)
    assert code == 0, out + err
    assert json.loads(out)[0]["status"] == "connected"
    code, out, err = run("accounts", "reconnect", email, "--no-browser", "--timeout", "20",
                         rep=on_other_device(idp))
    assert code == 0, err
    assert f"Reconnected {email}: campaigns continue where they left off" in out


@pytest.mark.parametrize("kind", ["gmail", "microsoft"])
def test_another_address_is_refused_with_one_line(
        kind: str, run: Run, idp: IdentityProvider, dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email
    code, _, err = run(*oauth_add_args(kind, email, dovecot_oauth), "--no-browser",
                       rep=on_other_device(idp, "intruder@example.test"))
    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith(f"mailmonitor: {email} was not added: You signed in as "
                           f"intruder@example.test, but this account is {email}.")
    assert run("accounts", "list", "--json")[1].strip() == "[]"


def test_nothing_pasted_before_the_input_ends(run: Run, dovecot_oauth: Dovecot) -> None:
    email = dovecot_oauth.new_user().email

    def close_input(printed: str, stdin: object) -> bool:
        if "paste it here" in printed:
            stdin.close()  # type: ignore[attr-defined]
            return True
        return False

    code, _, err = run(*oauth_add_args("gmail", email, dovecot_oauth), "--no-browser",
                       rep=close_input)
    assert code == 1
    assert err.strip() == f"mailmonitor: {email} was not added: the input ended before the " \
                          "address was pasted; nothing was changed"


def test_no_browser_is_bad_input_where_there_is_no_sign_in(
        run: Run, dovecot_oauth: Dovecot) -> None:
    user = dovecot_oauth.new_user()
    add = ["accounts", "add", "--email", user.email, "--kind", "imap", "--imap-host",
           dovecot_oauth.host, "--imap-port", str(dovecot_oauth.imaps_port), "--smtp-host",
           dovecot_oauth.host, "--smtp-port", str(dovecot_oauth.submission_port)]
    code, _, err = run(*add, "--no-browser")
    assert code == 3 and len(err.strip().splitlines()) == 1
    assert "--no-browser is for signing in to Google or Microsoft" in err
    assert run(*add, "--password-stdin", stdin=user.password + "\n")[0] == 0
    code, _, err = run("accounts", "reconnect", user.email, "--no-browser")
    assert code == 3 and "signs in with a password: --no-browser is for" in err


@pytest.mark.parametrize("kind", ["gmail", "microsoft"])
def test_switch_a_password_mailbox_to_sign_in_with_no_browser(
        kind: str, run: Run, idp: IdentityProvider, dovecot_oauth: Dovecot) -> None:
    """Issue 24: `accounts edit EMAIL --kind gmail|microsoft --no-browser` on a server."""
    user = dovecot_oauth.new_user()
    servers = ["--imap-host", dovecot_oauth.host, "--imap-port", str(dovecot_oauth.imaps_port),
               "--imap-security", "ssl", "--smtp-host", dovecot_oauth.host,
               "--smtp-port", str(dovecot_oauth.submission_port), "--smtp-security", "starttls"]
    assert run("accounts", "add", "--email", user.email, *servers, "--ca-file",
               str(dovecot_oauth.pki.ca_cert), "--password-stdin",
               stdin=user.password + "\n")[0] == 0
    code, out, err = run("accounts", "edit", user.email, "--kind", kind, *servers,
                         "--no-browser", "--timeout", "20", rep=on_other_device(idp))
    assert code == 0, err
    assert f"Switched {user.email} to Sign in with" in out
    (row,) = json.loads(run("accounts", "list", "--json")[1])
    assert (row["kind"], row["auth_method"], row["status"]) == (kind, "oauth2", "connected")
