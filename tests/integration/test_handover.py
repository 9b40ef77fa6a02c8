"""Issue 21, part 3, at the service level on the test PostgreSQL: a sign-in sealed to a running
copy's public key, picked up and stored in that copy's keyring; what is refused. Two keyrings in
one process: the rep's computer and the receiver's (switched around each step)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import keyring
import pytest

from mailmonitor.clock import FakeClock
from mailmonitor.memory_keyring import MemoryKeyring
from mailmonitor.models import Runner, SealedSecret
from mailmonitor.services.auth import registration, secrets
from mailmonitor.services.auth.registration import GOOGLE_SECRET_KIND, GOOGLE_SECRET_OWNER
from mailmonitor.services.team import handover
from tests.factories import make_account

pytestmark = [pytest.mark.integration,
              pytest.mark.parametrize("db_backend", ["postgresql"], indirect=True)]

PASSWORD = "correct horse battery staple"


class Copy:
    """A running copy with a keyring of its own and its inbox."""

    def __init__(self, clock: FakeClock, machine: str, kind: str = "headless") -> None:
        self.keyring = MemoryKeyring()
        self.machine = machine
        with self.active():
            identity = handover.load_identity()
        assert identity is not None
        self.inbox = handover.Inbox(identity, clock, f"{machine}:1", kind, 30,
                                    keeps_heartbeat=True)
        self.inbox.register()
        Runner.update(machine=machine).where(Runner.holder == f"{machine}:1").execute()

    @contextmanager
    def active(self) -> Iterator[None]:
        previous = keyring.get_keyring()
        keyring.set_keyring(self.keyring)
        try:
            yield
        finally:
            keyring.set_keyring(previous)

    def pick_up(self) -> list[int]:
        with self.active():
            return self.inbox.pick_up()


def receiving(copy: Copy, seen: list[str]) -> Callable[[float], None]:
    """The sender's wait: meanwhile the receiver looks once (and what the row holds is kept)."""
    def sleep(_seconds: float) -> None:
        seen.extend(row.ciphertext for row in SealedSecret.select())
        copy.pick_up()
    return sleep


def test_a_password_is_sealed_to_the_sender_and_stored_in_its_keyring(
        db: Path, clock: FakeClock) -> None:
    account = make_account("rep@team.example")
    secrets.set_secret(account.email, "password", PASSWORD)
    server = Copy(clock, "server")
    assert [r.as_json()["machine"] for r in handover.live_receivers(clock.now())] == ["server"]
    woken: list[str] = []
    rows: list[str] = []
    done = handover.hand_over("rep@team.example", None, 5, clock, announce=woken.append,
                              sleep=receiving(server, rows))
    assert done.receiver.machine == "server" and not done.moved
    assert woken == [server.inbox.identity.fingerprint]
    assert rows and all(PASSWORD not in row for row in rows)  # ciphertext only
    with server.active():
        assert secrets.get_secret(account.email, "password") == PASSWORD
    assert secrets.get_secret(account.email, "password") == PASSWORD  # a password is copied
    assert SealedSecret.select().count() == 0


def test_an_oauth_sign_in_moves_with_the_team_google_client_secret(
        db: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAILMONITOR_GOOGLE_CLIENT_ID", "MAILMONITOR_GOOGLE_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    # Set up once for the team (`oauth setup`): the ID in the database, the secret in the
    # keyring of the computer that set it up (not the receiver's).
    registration.save_google("id.apps.googleusercontent.test", "GOCSPX-client-secret")
    account = make_account("g@team.example", kind="gmail", auth_method="oauth2")
    secrets.set_secret(account.email, "refresh_token", "1//refresh-token-value")
    server = Copy(clock, "server")
    done = handover.hand_over(account.email, "server", 5, clock, sleep=receiving(server, []))
    assert done.moved
    with server.active():
        assert secrets.get_secret(account.email, "refresh_token") == "1//refresh-token-value"
        assert secrets.get_secret(GOOGLE_SECRET_OWNER, GOOGLE_SECRET_KIND) == \
            "GOCSPX-client-secret"
    # Only the receiver refreshes from now on.
    assert secrets.get_secret(account.email, "refresh_token") is None


def test_bad_input_is_refused_before_anything_is_sealed(db: Path, clock: FakeClock) -> None:
    account = make_account("rep@team.example")
    with pytest.raises(handover.HandOverRefused, match=r"no account nobody@team\.example"):
        handover.hand_over("nobody@team.example", None, 5, clock)
    Copy(clock, "server")
    with pytest.raises(handover.HandOverRefused, match=r"holds no password for rep@team\.example"):
        handover.hand_over(account.email, None, 5, clock)
    secrets.set_secret(account.email, "password", PASSWORD)
    Copy(clock, "laptop", kind="window")
    with pytest.raises(handover.HandOverRefused, match="several running copies can receive "
                                                       "it: choose one with --to"):
        handover.hand_over(account.email, None, 5, clock)
    with pytest.raises(handover.HandOverRefused, match="no running copy 'nas' can receive it"):
        handover.hand_over(account.email, "nas", 5, clock)
    assert SealedSecret.select().count() == 0


def test_a_stale_receiver_is_refused(db: Path, clock: FakeClock) -> None:
    account = make_account("rep@team.example")
    secrets.set_secret(account.email, "password", PASSWORD)
    Copy(clock, "server")
    clock.advance(timedelta(seconds=31))  # its heartbeat lapsed
    with pytest.raises(handover.HandOverFailed, match="no running copy can receive it"):
        handover.hand_over(account.email, None, 5, clock)
    with pytest.raises(handover.HandOverRefused, match="heartbeat is not current"):
        handover.hand_over(account.email, "server", 5, clock)


def test_nobody_picks_it_up_in_time_and_no_ciphertext_stays(db: Path, clock: FakeClock) -> None:
    account = make_account("rep@team.example")
    secrets.set_secret(account.email, "password", PASSWORD)
    Copy(clock, "server")  # alive, but it never looks

    with pytest.raises(handover.HandOverFailed, match="did not pick it up within 1 seconds"):
        handover.hand_over(account.email, None, 1, clock)
    assert SealedSecret.select().count() == 0


def test_the_receiver_refuses_what_is_not_for_that_mailbox(db: Path, clock: FakeClock) -> None:
    """A row whose ciphertext was sealed for another mailbox (moved in the database) is not
    stored: the sender hears why."""
    first = make_account("a@team.example")
    second = make_account("b@team.example")
    secrets.set_secret(first.email, "password", PASSWORD)
    server = Copy(clock, "server")

    def tamper_then_receive(_seconds: float) -> None:
        SealedSecret.update(account=second.id).execute()
        server.pick_up()

    with pytest.raises(handover.HandOverFailed, match="server could not store it: it is the "
                                                      "sign-in of another mailbox"):
        handover.hand_over(first.email, None, 5, clock, sleep=tamper_then_receive)
    with server.active():
        assert secrets.get_secret(second.email, "password") is None
    assert SealedSecret.select().count() == 0


def test_a_copy_keeps_its_key_across_restarts(db: Path) -> None:
    first = handover.load_identity()
    again = handover.load_identity()
    assert first is not None and again is not None
    assert first.fingerprint == again.fingerprint
    assert len(first.fingerprint) == 39 and first.fingerprint.count("-") == 7
