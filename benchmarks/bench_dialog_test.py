"""A connection test as a dialog runs it, against servers on loopback that accept and never
answer: how long Cancel takes to end it (the probes' sockets are shut down), and how long a
test that times out keeps the rep waiting side by side (the dialogs) versus one after the other
(the monitor's sweeps).

    PYTHONPATH=. python benchmarks/bench_dialog_test.py
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailmonitor.models import Account
from mailmonitor.services.monitoring.checker import run_check
from mailmonitor.services.monitoring.progress import ProbeWatch
from tests.servers.scripted import Script, ScriptedServer


def account(imap: ScriptedServer, smtp: ScriptedServer) -> Account:
    return Account(email="rep@silent.test", kind="imap", imap_host="127.0.0.1",
                   imap_port=imap.port, imap_security="plain", smtp_host="127.0.0.1",
                   smtp_port=smtp.port, smtp_security="plain")


def main() -> int:
    with ScriptedServer(Script("imap", silent=True)) as imap, \
            ScriptedServer(Script("smtp", silent=True)) as smtp:
        acc = account(imap, smtp)
        cancels = []
        for _ in range(10):
            watch = ProbeWatch(20.0)
            done = threading.Event()
            thread = threading.Thread(target=lambda w=watch, d=done: (run_check(acc, "pw", 20.0, w),
                                                                      d.set()))
            thread.start()
            while imap.connections + smtp.connections < 2 * (len(cancels) + 1):
                time.sleep(0.005)
            started = time.perf_counter()
            watch.cancel()
            done.wait(30)
            cancels.append((time.perf_counter() - started) * 1000)
            thread.join()
        print(f"Cancel during a test against silent servers (20 s timeout): ended in "
              f"median {statistics.median(cancels):.1f} ms, max {max(cancels):.1f} ms "
              f"(10 runs)")
        timeout = 1.0
        started = time.perf_counter()
        run_check(acc, "pw", timeout, ProbeWatch(timeout))
        side = time.perf_counter() - started
        started = time.perf_counter()
        run_check(acc, "pw", timeout)
        serial = time.perf_counter() - started
        print(f"Both servers silent, {timeout:g} s timeout: the rep waits {side:.2f} s with IMAP "
              f"and SMTP side by side, {serial:.2f} s one after the other")
    return 0


if __name__ == "__main__":
    sys.exit(main())
