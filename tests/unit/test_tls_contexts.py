"""The probes' shared TLS contexts, built ahead by `prepare_tls` (`mailmonitor check` starts it
while the rest of its start-up runs, issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailmonitor.services.monitoring import probes


def test_prepare_tls_builds_the_contexts_the_probes_then_share() -> None:
    probes._cached_tls_context.cache_clear()
    probes.prepare_tls([None, None]).join(timeout=30)
    info = probes._cached_tls_context.cache_info()
    assert (info.currsize, info.misses) == (1, 1)  # one context, built once
    context = probes._tls_context_for(None)
    assert probes._cached_tls_context.cache_info().hits == 1
    assert context.verify_mode.name == "CERT_REQUIRED" and context.check_hostname


def test_a_ca_file_that_cannot_be_used_is_left_for_its_probes_to_report(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate")
    probes.prepare_tls([str(bad)]).join(timeout=30)  # no error escapes the thread
    with pytest.raises(probes._Fail) as failed:
        probes._tls_context_for(str(bad))
    assert failed.value.reason == "tls_error" and str(bad) in failed.value.detail


def test_the_process_waits_for_the_contexts_before_it_ends() -> None:
    """A command that ends at once (a keyring that cannot be read) must not exit while OpenSSL
    still parses the CA store in the thread: its clean-up at exit frees what the thread uses
    (a daemon thread crashed `check` there about one run in seven)."""
    thread = probes.prepare_tls([None])
    assert not thread.daemon
    thread.join(timeout=30)
