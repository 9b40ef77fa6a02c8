"""Test PKI made with the ``openssl`` command line tool.

One test CA, server certificates for ``127.0.0.1``/``localhost`` signed by it (valid, expired,
expiring in five days) and a second, unrelated CA that must not verify any of them.

Certificates follow the stricter X.509 rules newer Pythons check by default
(``VERIFY_X509_STRICT``): CA ``basicConstraints`` critical, key identifiers on every certificate.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import os
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TestPKI", "issue_server_cert", "make_test_pki", "shared_test_pki"]

_CA_EXTENSIONS = """\
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""

_SERVER_EXTENSIONS = """\
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
"""

# `openssl ca` is the only way in OpenSSL 3.0 to give explicit validity dates (needed for the
# expired certificate), so every server certificate goes through it.
_CA_CONFIG = """\
[ca]
default_ca = test_ca

[test_ca]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/issued
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[policy_any]
commonName = supplied

[req]
distinguished_name = req_dn
prompt = no

[req_dn]
CN = unused

{ca_ext}
{server_ext}
"""


@dataclass(frozen=True)
class TestPKI:
    """Paths of the test PKI (PEM files). All server certificates share ``server_key``."""

    __test__ = False  # not a pytest test class despite the name

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path  # valid now, SAN IP:127.0.0.1 and DNS:localhost
    server_key: Path
    expired_cert: Path  # same names and CA, validity ended 10 days ago
    expired_key: Path
    soon_expiring_cert: Path  # same names and CA, expires 5 days from creation
    soon_expiring_key: Path
    wrong_ca_cert: Path  # unrelated CA: nothing above verifies against it
    wrong_ca_key: Path

    def client_context(self, *, trust_wrong_ca: bool = False) -> ssl.SSLContext:
        """A verifying client context (hostname check on) that trusts the test CA only, or only
        the unrelated wrong CA."""
        return ssl.create_default_context(
            cafile=str(self.wrong_ca_cert if trust_wrong_ca else self.ca_cert)
        )


def _openssl(*args: str | Path, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("The openssl command is missing: apt-get install openssl")
    proc = subprocess.run(
        [openssl, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"openssl {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}"
        )


def _ec_key(path: Path, cwd: Path) -> None:
    _openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path, cwd=cwd
    )


def _self_signed_ca(key: Path, cert: Path, cn: str, config: Path, cwd: Path) -> None:
    _ec_key(key, cwd)
    _openssl(
        "req",
        "-config",
        config,
        "-new",
        "-x509",
        "-key",
        key,
        "-out",
        cert,
        "-subj",
        f"/CN={cn}",
        "-days",
        "3650",
        "-sha256",
        "-extensions",
        "ca_ext",
        "-set_serial",
        str(int.from_bytes(os.urandom(8), "big")),
        cwd=cwd,
    )


def _asn1_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def _prepare_ca_folder(d: Path, san: str) -> Path:
    """The files `openssl ca` keeps its state in, and the config; returns the config's path."""
    (d / "issued").mkdir(exist_ok=True)
    (d / "index.txt").write_text("")
    (d / "serial").write_text(f"{int.from_bytes(os.urandom(8), 'big'):016X}\n")
    config = d / "openssl.cnf"
    config.write_text(_CA_CONFIG.format(dir=d, ca_ext=_CA_EXTENSIONS,
                                        server_ext=_SERVER_EXTENSIONS.format(san=san)))
    return config


def _server_csr(key: Path, csr: Path, cn: str, config: Path, cwd: Path) -> None:
    _ec_key(key, cwd)
    _openssl("req", "-config", config, "-new", "-key", key, "-out", csr, "-subj", f"/CN={cn}",
             cwd=cwd)


def _sign(csr: Path, out: Path, not_before: dt.datetime, not_after: dt.datetime, config: Path,
          cwd: Path) -> None:
    _openssl("ca", "-batch", "-config", config, "-in", csr, "-out", out, "-notext",
             "-extensions", "server_ext", "-startdate", _asn1_time(not_before),
             "-enddate", _asn1_time(not_after), cwd=cwd)


def issue_server_cert(directory: Path, hostnames: tuple[str, ...], ips: tuple[str, ...],
                      not_before: dt.datetime, not_after: dt.datetime
                      ) -> tuple[Path, Path, Path]:
    """A throwaway CA and one server certificate for ``hostnames``/``ips`` in ``directory``:
    (certificate, key, CA certificate), PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    san = ", ".join([f"DNS:{h}" for h in hostnames] + [f"IP:{ip}" for ip in ips])
    config = _prepare_ca_folder(directory, san)
    _self_signed_ca(directory / "ca.key", directory / "ca.pem", "scripted test CA", config,
                    directory)
    _server_csr(directory / "server.key", directory / "server.csr", (hostnames or ips)[0],
                config, directory)
    _sign(directory / "server.csr", directory / "server.pem", not_before, not_after, config,
          directory)
    return directory / "server.pem", directory / "server.key", directory / "ca.pem"


def make_test_pki(directory: Path) -> TestPKI:
    """Create the test PKI in ``directory`` (created if missing, made world-readable so that
    unprivileged server processes can read the files)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    d = directory
    config = _prepare_ca_folder(d, "IP:127.0.0.1, DNS:localhost")
    _self_signed_ca(d / "ca.key", d / "ca.pem", "mailmonitor test CA", config, d)
    _self_signed_ca(d / "wrong-ca.key", d / "wrong-ca.pem", "mailmonitor wrong CA", config, d)

    server_key, csr = d / "server.key", d / "server.csr"
    _server_csr(server_key, csr, "localhost", config, d)
    now = dt.datetime.now(dt.UTC)

    def sign(out: Path, not_before: dt.datetime, not_after: dt.datetime) -> None:
        _sign(csr, out, not_before, not_after, config, d)

    hour = dt.timedelta(hours=1)
    day = dt.timedelta(days=1)
    sign(d / "server.pem", now - hour, now + 825 * day)
    sign(d / "expired.pem", now - 40 * day, now - 10 * day)
    sign(d / "soon-expiring.pem", now - hour, now + 5 * day)

    for path in d.iterdir():
        if path.is_file():
            path.chmod(0o644)  # test keys: readable by the unprivileged Dovecot user

    return TestPKI(
        directory=d,
        ca_cert=d / "ca.pem",
        ca_key=d / "ca.key",
        server_cert=d / "server.pem",
        server_key=server_key,
        expired_cert=d / "expired.pem",
        expired_key=server_key,
        soon_expiring_cert=d / "soon-expiring.pem",
        soon_expiring_key=server_key,
        wrong_ca_cert=d / "wrong-ca.pem",
        wrong_ca_key=d / "wrong-ca.key",
    )


@functools.cache
def shared_test_pki() -> TestPKI:
    """The PKI for this process, made once in a fresh 0755 temporary folder (removed at exit)."""
    directory = Path(tempfile.mkdtemp(prefix="mailmonitor-pki-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return make_test_pki(directory)
