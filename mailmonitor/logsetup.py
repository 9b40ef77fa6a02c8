"""Logging to a rotating file in the data folder, with secrets redacted from every record."""

from __future__ import annotations

import base64
import logging
import logging.handlers
import re
import threading
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
]


def register_secret(value: str | None) -> None:
    """Make sure this exact value (and its base64 forms) never reaches a log or report."""
    if not value or len(value) < 4:
        return
    with _lock:
        _known_secrets.add(value)
        _known_secrets.add(base64.b64encode(value.encode()).decode())


def redact(text: str) -> str:
    if not text:
        return text
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    for pattern in _PATTERNS:
        if pattern.groups == 3:
            text = pattern.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)
        else:
            text = pattern.sub(lambda m: f"{m.group(1)}[redacted]", text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = redact(message), None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def setup_logging(data_dir: Path, level: int = logging.INFO, stderr: bool = False) -> Path:
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = log_dir / "mailmonitor.log"
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_mailmonitor", False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=5,
                                                   encoding="utf-8")
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
