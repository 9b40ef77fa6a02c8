"""One mailbox's probes across a network's latency: how many round trips a check costs.

On loopback a round trip costs almost nothing, so the check benchmarks (bench_check_cli,
bench_sweep) cannot see one more or one less. Here a proxy on loopback holds each of the
server's answers for DELAY_MS before passing it on (one round trip = DELAY_MS). The IMAP and SMTP
probes, each run ROUNDS times through it against a real Dovecot with STARTTLS, print the median
time, and that time in round trips.

The probes' own work is a few milliseconds, so time / DELAY_MS is close to the round trips
they wait for:
- TCP connect: none (the proxy answers it at once);
- greeting;
- IMAP: STARTTLS, the TLS handshake, CAPABILITY, LOGIN, EXAMINE;
- SMTP: EHLO, STARTTLS, the handshake, EHLO, AUTH, NOOP.

The LOGOUT and QUIT answers are awaited too.

Usage: python benchmarks/bench_probe_latency.py [DELAY_MS] [ROUNDS]   (default: 20 15)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailmonitor.services.monitoring.probes import (
    Credentials,
    Endpoint,
    ProbeResult,
    probe_imap,
    probe_smtp,
)
from tests.servers.certs import shared_test_pki
from tests.servers.dovecot import Dovecot

USER, PASSWORD = "latency@example.test", "pw-latency-1"


class LatencyProxy:
    """A TCP proxy on 127.0.0.1 that passes what the client sends at once and what the server
    answers `delay` seconds late, in order (its own event loop, in a thread)."""

    def __init__(self, target_port: int, delay: float) -> None:
        self.target_port, self.delay = target_port, delay
        self.loop = asyncio.new_event_loop()
        self.port = 0
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True).start()
        started.wait(10)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
                      ) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        answers: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                server_w.write(data)
            server_w.close()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                answers.put_nowait((self.loop.time() + self.delay, data))
            answers.put_nowait((self.loop.time() + self.delay, b""))

        async def deliver() -> None:
            while True:
                due, data = await answers.get()
                await asyncio.sleep(max(0.0, due - self.loop.time()))
                if not data:
                    client_w.close()
                    return
                client_w.write(data)

        await asyncio.gather(upstream(), downstream(), deliver(), return_exceptions=True)


def timed(probe: Callable[[Endpoint, Credentials], ProbeResult], ep: Endpoint, rounds: int
          ) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        result = probe(ep, Credentials(password=PASSWORD))
        times.append((time.perf_counter() - start) * 1000)
        if not result.ok:
            raise SystemExit(f"{result.protocol} probe failed: {result.detail}")
    return times


def main() -> None:
    delay_ms = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    pki = shared_test_pki()
    with Dovecot(pki, fast=True) as dovecot:
        dovecot.add_user(USER, PASSWORD)
        for protocol, probe, port in (("IMAP", probe_imap, dovecot.imap_port),
                                      ("SMTP", probe_smtp, dovecot.submission_port)):
            proxy = LatencyProxy(port, delay_ms / 1000)
            ep = Endpoint(host="127.0.0.1", port=proxy.port, security="starttls",
                          username=USER, ca_file=str(pki.ca_cert))
            timed(probe, ep, 1)  # the mailbox's first sign-in (Dovecot creates it)
            times = timed(probe, ep, rounds)
            median = statistics.median(times)
            print(f"{protocol} probe, STARTTLS, {delay_ms:g} ms per round trip: median "
                  f"{median:.1f} ms over {rounds} (min {min(times):.1f}) = "
                  f"{median / delay_ms:.1f} round trips", flush=True)


if __name__ == "__main__":
    main()
