"""Logging to a rotating file in the data folder, with secrets redacted from every record.

The one place secrets are taken out of text: `scrub_secrets` (given secrets, in every form they
take on the wire or in a repr) and `redact` (every secret seen so far, plus anything that looks
like a credential in a protocol trace) for logs, reports, exception text and server answers.

Every log record is redacted where it is made, whatever wrote it — mailmonitor or a library
(urllib3 names a request's URL, psycopg2 a connection string, requests an Authorization
header): `install_redaction` wraps the record factory, and the handlers' `RedactingFilter` is
the second line. In log lines a URL is reduced to its scheme and host (`http_url_words`): a
webhook URL's path is its secret."""

from __future__ import annotations

import base64
import logging
import logging.handlers
import re
import threading
from collections.abc import Iterable
from pathlib import Path

_known_secrets: set[str] = set()
_lock = threading.Lock()

# Things that look like credentials in protocol traces, whatever the source.
_PATTERNS = [
    re.compile(r"(?i)(password|passwd|pass|secret|token|refresh_token|access_token|"
               r"client_secret|code)([\"']?\s*[:=]\s*[\"']?)([^\s\"'&,}]+)"),
    re.compile(r"(?i)(auth=Bearer\s+)(\S+)"),
    re.compile(r"(?i)(AUTHENTICATE\s+(?:XOAUTH2|OAUTHBEARER|PLAIN)\s+)(\S+)"),
    re.compile(r"(?i)(AUTH\s+(?:XOAUTH2|PLAIN|LOGIN)\s+)(\S+)"),
    re.compile(r"(?i)(Authorization[\"']?\s*[:=]\s*[\"']?(?:Bearer|Basic|token)\s+)"
               r"([A-Za-z0-9._~+/=-]+)"),
]
# A URL in a log line: scheme, then user:password@ (dropped), host[:port], then the rest.
_URL = re.compile(r"(?i)\b(https?|wss?|postgres(?:ql)?)://(?:[^\s/@'\"<>]*@)?"
                  r"([^\s/?#'\"<>()\[\]]+)((?:[/?#][^\s'\"<>()\[\]]*)?)")


REDACTED = "[redacted]"


def secret_forms(secret: str) -> set[str]:
    """The ways a secret can show up in text: as is, quoted for IMAP, escaped, base64."""
    out = {secret, base64.b64encode(secret.encode("utf-8")).decode("ascii")}
    out.add(secret.replace("\\", "\\\\").replace('"', '\\"'))  # IMAP quoted string
    out.add(repr(secret.encode("utf-8"))[2:-1])  # inside a bytes repr
    out.add(secret.encode("unicode_escape").decode("ascii"))
    return {v for v in out if v}


def register_secret(value: str | None) -> None:
    """Make sure this exact value (in each of its forms) never reaches a log or report."""
    if not value or len(value) < 4:
        return
    with _lock:
        _known_secrets.update(secret_forms(value))


def scrub_secrets(text: str, secrets: Iterable[str | None], marker: str = "***") -> str:
    """``text`` with every given secret, in each of its forms, replaced by ``marker``."""
    forms: set[str] = set()
    for secret in secrets:
        if secret:
            forms |= secret_forms(secret)
    return _scrub_forms(text, forms, marker)


def redact(text: str) -> str:
    """``text`` without any secret registered so far, nor credential-like fields of a trace."""
    if not text:
        return text
    with _lock:
        known = list(_known_secrets)
    if known:
        text = _scrub_forms(text, known, REDACTED)
    for pattern in _PATTERNS:
        if pattern.groups == 3:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
        else:
            text = pattern.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return text


def _scrub_forms(text: str, forms: Iterable[str], marker: str) -> str:
    for form in sorted(forms, key=len, reverse=True):  # longest first: none half-replaced
        if form in text:
            text = text.replace(form, marker)
    return text


def original_error(exc: BaseException) -> str:
    """The error that started it: SQLite rolls a transaction back by itself when the disk is
    full, so the rollback that follows fails with "cannot rollback" and hides the real cause."""
    seen: BaseException | None = exc
    while seen is not None:
        if "cannot rollback" not in str(seen) and str(seen):
            return str(seen)
        seen = seen.__context__
    return str(exc)


class QuietFileHandler(logging.handlers.RotatingFileHandler):
    """A log that cannot be written (disk full) must not print Python's "--- Logging error ---"
    traceback over the rep's terminal: the command says what failed in its own one line, and
    logging goes on trying (it works again once there is space)."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        self.failed = True


def http_url_words(text: str) -> str:
    """Every URL in `text` as its scheme and host only (`https://hooks.slack.com/…`): what a
    log line may say of a webhook, a sign-in redirect or a database URL."""

    def reduce(match: re.Match[str]) -> str:
        rest = match.group(3)
        trail = rest[len(rest.rstrip(".,:;!?")):]  # the sentence's, not the URL's
        rest = rest[:len(rest) - len(trail)]
        host = match.group(2).rstrip(".,:;!?")
        trail = match.group(2)[len(host):] + trail if not rest else trail
        return f"{match.group(1)}://{host}" + ("/…" if rest not in ("", "/") else rest) + trail

    return _URL.sub(reduce, text) if "://" in text else text


def redact_log_text(text: str) -> str:
    """A log line's text: URLs reduced to scheme and host, then `redact`."""
    return redact(http_url_words(text))


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """The record with its message, traceback and stack redacted (once)."""
    if getattr(record, "_mm_redacted", False):
        return record
    try:
        message = record.getMessage()
    except Exception:  # a library's bad format string: keep what there is, redacted
        message = f"{record.msg!r} {record.args!r}"
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    record.msg, record.args = redact_log_text(message), None
    if record.exc_text:
        record.exc_text = redact_log_text(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_log_text(record.stack_info)
    record._mm_redacted = True
    return record


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_factory_installed = False


def install_redaction() -> None:
    """Redact every log record where it is created, for every logger (ours and every
    library's) and every handler: nothing that logging carries can hold a known secret or a
    URL's secret part. Idempotent."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def make(*args: object, **kwargs: object) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(make)
    _factory_installed = True


def setup_logging(data_dir: Path, level: int = logging.INFO, stderr: bool = False) -> Path:
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / "mailmonitor.log"
    install_redaction()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mailmonitor", False):
            root.removeHandler(handler)
            handler.close()
    handler = QuietFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    handler._mailmonitor = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if stderr:
        console = logging.StreamHandler()
        console.addFilter(RedactingFilter())
        console._mailmonitor = True  # type: ignore[attr-defined]
        root.addHandler(console)
    root.setLevel(level)
    return path


def log_folder() -> Path | None:
    """The folder mailmonitor logs to now (None before `setup_logging`)."""
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_mailmonitor", False) and isinstance(handler, logging.FileHandler):
            return Path(handler.baseFilename).parent
    return None
