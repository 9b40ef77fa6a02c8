"""A private PostgreSQL server for the tests: `initdb` in a temporary folder, `pg_ctl start` on
a free loopback port, TLS on (certificate of the test PKI), stopped and deleted at the end.

Debian's `postgresql` package puts the binaries under /usr/lib/postgresql/<major>/bin. initdb
and pg_ctl refuse to run as root, so as root the server runs as `nobody` (like the test
Dovecot); the folder comes from `tempfile.mkdtemp()` (pytest's tmp_path is not enterable by
another user). Authentication is `trust` for the superuser `mm` on loopback: these servers hold
throwaway data and listen on 127.0.0.1 only.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers.certs import TestPKI
from tests.servers.dovecot import _free_ports

SUPERUSER = "mm"
START_TIMEOUT = 30.0


class PostgresError(RuntimeError):
    pass


def postgres_bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresError("PostgreSQL is not installed (Debian: apt-get install postgresql; "
                        "`make test` installs it)")


class PostgresServer:
    """`with PostgresServer(pki) as pg: pg.url("dbname")`. `create_database` makes databases."""

    def __init__(self, pki: TestPKI | None = None, *, run_as: str | None = None,
                 durable: bool = False) -> None:
        """`durable`: a commit is acknowledged only once its WAL is written (PostgreSQL's
        default, synchronous_commit = on), so it survives a crash of the server (`restart`).
        Off by default for speed: the server then loses the last ~0.6 s of acknowledged
        commits when it crashes, as an asynchronous replica promoted in a failover would."""
        self.pki = pki
        self.durable = durable
        self.bin = postgres_bin_dir()
        if run_as is None:
            run_as = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        entry = pwd.getpwnam(run_as)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid
        if self.uid == 0:
            raise PostgresError("run the test PostgreSQL as an unprivileged user, not root")
        self.host = "127.0.0.1"
        self.port = 0
        self.directory: Path | None = None

    # --- running ------------------------------------------------------------------------------

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.uid != os.geteuid():
            kwargs.update(user=self.uid, group=self.gid, extra_groups=[])
        result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                                cwd=self.directory, check=False, **kwargs)  # type: ignore[call-overload]
        if result.returncode != 0:
            raise PostgresError(f"{Path(args[0]).name} failed ({result.returncode}): "
                                f"{result.stderr.strip()[-2000:]}")
        return result

    def start(self) -> PostgresServer:
        directory = Path(tempfile.mkdtemp(prefix="mailmonitor-pg-"))
        directory.chmod(0o755)
        self.directory = directory
        if self.uid != os.geteuid():
            os.chown(directory, self.uid, self.gid)
        data = directory / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER,
                  "-E", "UTF8", "--no-instructions", "--no-sync")
        settings = [
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{directory}'",
            # fsync off survives a crash of the server's processes (the OS keeps what was
            # written), not of the machine; synchronous_commit off survives neither.
            "fsync = off", "full_page_writes = off",
            f"synchronous_commit = {'on' if self.durable else 'off'}",
            "max_connections = 200", "shared_buffers = 64MB",
            "log_min_messages = warning",
        ]
        if self.pki is not None:
            for name, source in (("server.crt", self.pki.server_cert),
                                 ("server.key", self.pki.server_key)):
                target = data / name
                shutil.copyfile(source, target)
                target.chmod(0o600)
                if self.uid != os.geteuid():
                    os.chown(target, self.uid, self.gid)
            settings += ["ssl = on", "ssl_cert_file = 'server.crt'",
                         "ssl_key_file = 'server.key'"]
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# mailmonitor tests\n" + "\n".join(settings) + "\n")
        # hostssl first: a client that asks for TLS gets it; plain TCP is allowed too so the
        # tests can prove a client that requires TLS refuses a server without it (separately).
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 trust\n")
        (self.port,) = _free_ports(1)
        atexit.register(self.stop)  # a test run that ends abruptly still stops its server
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-w",
                  "-t", str(int(START_TIMEOUT)), "-l", str(directory / "server.log"),
                  "-o", f"-p {self.port}", "start", timeout=START_TIMEOUT + 10)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.psql("postgres", "SELECT 1")
                break
            except PostgresError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.directory is None:
            return
        with contextlib.suppress(PostgresError, subprocess.TimeoutExpired):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-m",
                      "immediate", "-w", "stop", timeout=30)
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None
        atexit.unregister(self.stop)

    def crash(self) -> None:
        """`pg_ctl stop -m immediate`: every backend killed at once, no checkpoint; to the
        clients it is a crash (restart, failover). `start_again` recovers it."""
        assert self.directory is not None
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-m",
                  "immediate", "-w", "stop", timeout=30)

    def start_again(self) -> None:
        """After `crash`: the same server on the same port; returns once it accepts
        connections (after its crash recovery)."""
        assert self.directory is not None
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-w", "-t",
                  str(int(START_TIMEOUT)), "-l", str(self.directory / "server.log"), "-o",
                  f"-p {self.port}", "start", timeout=START_TIMEOUT + 10)

    def restart(self, down_seconds: float = 0.0) -> None:
        """`pg_ctl restart -m immediate`, optionally with `down_seconds` without a server."""
        self.crash()
        if down_seconds:
            time.sleep(down_seconds)
        self.start_again()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self) -> str:
        if self.directory is None:
            return ""
        path = self.directory / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    # --- databases ----------------------------------------------------------------------------

    def psql(self, database: str, sql: str) -> str:
        return self._run(str(self.bin / "psql"), "-X", "-q", "-t", "-A", "-v",
                         "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port), "-U",
                         SUPERUSER, "-d", database, "-c", sql).stdout.strip()

    def create_database(self, name: str, template: str | None = None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        self.psql("postgres", f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, name: str, **options: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in options.items())
        return (f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{name}"
                + (f"?{query}" if query else ""))
