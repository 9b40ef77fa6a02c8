"""`mailmonitor --self-test`: one line per check (the frozen bundle's proof that it runs)."""

from __future__ import annotations

from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from mailmonitor.selftest import run_self_test


def test_all_checks_pass_with_a_keyring(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    assert run_self_test(tmp_path) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok   database", "ok   keyring", "ok   libraries", "ok   qt"]
    assert list(tmp_path.iterdir()) == []  # the throwaway database is gone


def test_no_keyring_fails_that_line_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())  # the autouse fixture restores it
    assert run_self_test(tmp_path) == 1
    lines = capsys.readouterr().out.splitlines()
    failed = [line for line in lines if not line.startswith("ok ")]
    assert len(failed) == 1 and failed[0].startswith("FAIL keyring: No usable system keyring")
