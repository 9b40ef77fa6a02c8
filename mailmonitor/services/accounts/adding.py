"""Adding accounts (one, or many from a CSV). The secret goes to the keyring, never the database.

Every value goes through the one table of bounds (`common.bounds`), whichever path it came
by (`accounts add`, `accounts import`, the Add mailbox dialog). A port left out is the usual
one for its security (993 / 143 for IMAP, 465 / 587 / 25 for SMTP); a password mailbox without a
password is refused (it could never connect)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from mailmonitor.logsetup import register_secret
from mailmonitor.models import Account, Status, account_by_email, db
from mailmonitor.services.accounts.providers import PRESETS, preset_for_email, standard_port
from mailmonitor.services.auth import secrets
from mailmonitor.services.common import bounds
from mailmonitor.services.common.rep_day import rep_today
from mailmonitor.services.common.validation import (
    InvalidInput,
    is_local_host,
    is_loopback_host,
    normalize_email,
    parse_warmup,
    read_csv_rows,
    shown,
    summarize_errors,
    validate_daily_limit,
    validate_host,
    validate_kind,
    validate_min_gap,
    validate_port,
    validate_security,
)


@dataclass
class AccountSpec:
    email: str
    name: str = ""
    kind: str = "imap"
    imap_host: str = ""
    imap_port: int | str | None = None  # None: the usual port for the security
    imap_security: str = ""
    smtp_host: str = ""
    smtp_port: int | str | None = None
    smtp_security: str = ""
    username: str = ""
    ca_file: str | None = None
    daily_limit: int | None = None
    min_gap_seconds: int | None = None
    warmup: tuple[int, int] | None = None
    signature: str = ""
    allow_plaintext: bool = False  # the rep confirmed plain (unencrypted) sign-in to a remote host
    extra: dict[str, str] = field(default_factory=dict)

    def validated(self) -> AccountSpec:
        """Fill provider defaults and check every field; raises InvalidInput."""
        self.email = normalize_email(self.email)
        self.kind = validate_kind(self.kind or "imap")
        # The window's presets for known providers (rep@fastmail.com needs no host options).
        # A known provider (the window's presets) fills what was left out: a side whose host
        # was given keeps the rep's settings for it.
        preset = PRESETS.get(self.kind) if self.kind != "imap" else preset_for_email(self.email)
        if preset is not None:
            if self.kind != "imap" or not self.imap_host:
                self.imap_host = self.imap_host or preset.imap_host
                if _absent(self.imap_port):
                    self.imap_port = preset.imap_port
                self.imap_security = self.imap_security or preset.imap_security
            if self.kind != "imap" or not self.smtp_host:
                self.smtp_host = self.smtp_host or preset.smtp_host
                if _absent(self.smtp_port):
                    self.smtp_port = preset.smtp_port
                self.smtp_security = self.smtp_security or preset.smtp_security
        self.name = bounds.text("sender_name", self.name)
        self.signature = bounds.text("signature", self.signature)
        self.username = bounds.text("username", self.username)
        for proto in ("imap", "smtp"):
            upper = proto.upper()
            host = getattr(self, f"{proto}_host")
            if not (host or "").strip():
                raise InvalidInput(f"the {upper} host is missing (--{proto}-host)")
            setattr(self, f"{proto}_host", validate_host(host, f"{upper} host"))
            security = validate_security(getattr(self, f"{proto}_security") or "ssl",
                                         f"{upper} security")
            setattr(self, f"{proto}_security", security)
            port = getattr(self, f"{proto}_port")
            setattr(self, f"{proto}_port", standard_port(proto, security) if _absent(port)
                    else validate_port(port, f"{upper} port"))
        for proto, host, security in (("IMAP", self.imap_host, self.imap_security),
                                      ("SMTP", self.smtp_host, self.smtp_security)):
            if security == "plain" and not is_local_host(host) and not self.allow_plaintext:
                raise InvalidInput(
                    f"{proto} security 'plain' would send the password unencrypted to {host}; "
                    "use ssl or starttls, or confirm with --allow-plaintext")
        if self.ca_file:
            path = Path(self.ca_file).expanduser()
            if not path.is_file():
                raise InvalidInput(f"CA file {shown(self.ca_file)} does not exist")
            if path.stat().st_size > 5_000_000:
                raise InvalidInput(f"CA file {shown(self.ca_file)} is too large for a certificate")
            text = path.read_text(errors="replace")
            if "BEGIN CERTIFICATE" not in text:
                raise InvalidInput(f"CA file {self.ca_file} is not a PEM certificate")
            self.ca_file = str(path.resolve())
        if self.daily_limit is not None:
            self.daily_limit = validate_daily_limit(self.daily_limit)
        if self.min_gap_seconds is not None:
            self.min_gap_seconds = validate_min_gap(self.min_gap_seconds)
        if self.warmup is not None:
            self.warmup = (bounds.number("warmup_start", self.warmup[0]),
                           bounds.number("warmup_step", self.warmup[1]))
        return self

    def plaintext_warnings(self) -> list[str]:
        """One line per protocol whose password would travel unencrypted over a network
        (validated spec); to this computer itself (loopback) nothing leaves it."""
        return [f"{proto} uses security 'plain': the password travels unencrypted to {host}"
                for proto, host, security in (("IMAP", self.imap_host, self.imap_security),
                                              ("SMTP", self.smtp_host, self.smtp_security))
                if security == "plain" and not is_loopback_host(host)]


def _absent(port: int | str | None) -> bool:
    """A port left out (None, or an empty CSV cell); 0 is a value, and out of range."""
    return port is None or (isinstance(port, str) and not port.strip())


def check_password(spec: AccountSpec, password: str | None) -> None:
    """A mailbox that signs in with a password needs one: stored without it, it could never
    connect. Raises InvalidInput (Google and Microsoft mailboxes without one sign in through
    the browser)."""
    if auth_method_for(spec, password is not None) == "oauth2":
        return
    if password is None:
        browser = (" — or --kind gmail to sign in through the browser"
                   if preset_for_email(spec.email) is PRESETS.get("gmail") else
                   " — or --kind microsoft to sign in through the browser"
                   if preset_for_email(spec.email) is PRESETS.get("microsoft") else "")
        raise InvalidInput(f"{spec.email} signs in with a password, and none was given "
                           f"(--password-stdin, or a password column){browser}")
    bounds.text("password", password)


def check_can_add(spec: AccountSpec, password: str | None) -> Account | None:
    """Raises InvalidInput when this mailbox cannot be added (already added; a password one
    without a password); returns the account it would connect again (two-step, §5), if any."""
    existing = account_by_email(spec.email)
    if existing is not None and existing.detached_at is None:
        raise InvalidInput(f"{spec.email} is already added"
                           + (f" (as {existing.email})" if existing.email != spec.email else "")
                           + " (change its settings with `mailmonitor accounts edit`)")
    check_password(spec, password)
    return existing


def auth_method_for(spec: AccountSpec, has_password: bool) -> str:
    if spec.kind in ("gmail", "microsoft") and not has_password:
        return "oauth2"
    return "app_password" if spec.kind == "gmail" else "password"


def clean_password(spec: AccountSpec, password: str) -> str:
    """Google shows app passwords in groups of four letters: the spaces are not part of it."""
    if spec.kind == "gmail" or spec.imap_host.endswith("gmail.com"):
        return password.replace(" ", "")
    return password


def create_account(spec: AccountSpec, password: str | None, now: datetime) -> Account:
    """Store a validated account; the password (if any) goes to the keyring first, so a keyring
    failure stores nothing. A password mailbox without a password is refused."""
    existing = check_can_add(spec, password)
    if existing is not None:
        return connect_again(existing, spec, password, now)
    if password is not None:
        password = clean_password(spec, password)
        register_secret(password)
        secrets.set_secret(spec.email, "password", password)
    try:
        with db.atomic():
            account = account_by_email(spec.email, include_removed=True)
            values = account_values(spec, password is not None, now)
            if account is None:
                account = Account.create(**values)
            else:  # the same address comes back after removal: keep its history
                for key, value in values.items():
                    setattr(account, key, value)
                account.removed_at = None
                account.rejoined_at = now  # only never-emailed leads for it from now on (§5)
                account.save()
    except Exception:
        if password is not None:
            secrets.delete_secret(spec.email, "password")
        raise
    return account


def connect_again(account: Account, spec: AccountSpec, password: str | None, now: datetime
                  ) -> Account:
    """The second step of "disconnect, then connect" (§5): the same address with new (or the
    same) settings. Its settings start from `spec`; within the grace period it gets its
    campaigns and leads back, after it only leads that never received an email."""
    from mailmonitor.services.campaigns.lifecycle import reattach
    from mailmonitor.services.monitoring.account_state import update_status

    if password is not None:
        password = clean_password(spec, password)
        register_secret(password)
        secrets.set_secret(spec.email, "password", password)
    try:
        with db.atomic():
            reattach(account, now)
            values = account_values(spec, password is not None, now)
            for key in ("created_at", "status", "reason", "detail"):
                values.pop(key)
            for key, value in values.items():
                setattr(account, key, value)
            account.consecutive_failures = 0
            account.transient_since = None
            account.save()
            update_status(account, "checking", None, "", now)
    except Exception:
        if password is not None:
            secrets.delete_secret(spec.email, "password")
        raise
    return account


def account_values(spec: AccountSpec, has_password: bool, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {
        "email": spec.email, "name": spec.name, "kind": spec.kind,
        "auth_method": auth_method_for(spec, has_password), "username": spec.username,
        "imap_host": spec.imap_host, "imap_port": spec.imap_port,
        "imap_security": spec.imap_security, "smtp_host": spec.smtp_host,
        "smtp_port": spec.smtp_port, "smtp_security": spec.smtp_security,
        "ca_file": spec.ca_file, "signature": spec.signature, "created_at": now,
        "status": Status.CHECKING, "reason": None, "detail": "", "next_check_at": now,
    }
    if spec.daily_limit is not None:
        values["daily_limit"] = spec.daily_limit
    if spec.min_gap_seconds is not None:
        values["min_gap_seconds"] = spec.min_gap_seconds
    if spec.warmup is not None:
        values["warmup_start"], values["warmup_step"] = spec.warmup
        values["warmup_started_on"] = rep_today(now)
    return values


ACCOUNT_CSV_COLUMNS = {
    "email", "name", "kind", "imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port",
    "smtp_security", "username", "password", "ca_file", "daily_limit", "min_gap", "warmup",
    "signature", "allow_plaintext",
}
def spec_from_row(row: dict[str, str]) -> tuple[AccountSpec, str | None]:
    """One CSV row, checked like `accounts add` (the same table of bounds); an empty cell is
    a value left out."""
    spec = AccountSpec(
        email=row.get("email", ""), name=row.get("name", ""), kind=row.get("kind") or "imap",
        imap_host=row.get("imap_host", ""), imap_port=row.get("imap_port") or None,
        imap_security=row.get("imap_security", ""), smtp_host=row.get("smtp_host", ""),
        smtp_port=row.get("smtp_port") or None,
        smtp_security=row.get("smtp_security", ""), username=row.get("username", ""),
        ca_file=row.get("ca_file") or None, signature=row.get("signature", ""),
        allow_plaintext=row.get("allow_plaintext", "").strip().lower() in ("1", "yes", "true"),
    )
    if row.get("daily_limit"):
        spec.daily_limit = validate_daily_limit(row["daily_limit"])
    if row.get("min_gap"):
        spec.min_gap_seconds = validate_min_gap(row["min_gap"])
    if row.get("warmup"):
        spec.warmup = parse_warmup(row["warmup"])
    spec.validated()
    password = row.get("password") or None
    check_password(spec, password)
    return spec, password


def import_accounts(path: Path, now: datetime) -> list[Account]:
    """All rows or nothing: every row is checked first; errors name their line numbers."""
    header, rows = read_csv_rows(path)
    if "email" not in header:
        raise InvalidInput(f"{path}: the header has no 'email' column")
    unknown = sorted(set(header) - ACCOUNT_CSV_COLUMNS)
    if unknown:
        raise InvalidInput(f"{path}: unknown column(s) "
                           f"{shown(', '.join(unknown[:10]))}")
    errors: list[str] = []
    parsed: list[tuple[AccountSpec, str | None]] = []
    seen: set[str] = set()
    taken = {e.lower() for (e,) in Account.select(Account.email)
             .where(Account.removed_at.is_null()).tuples()}
    for line, row in rows:
        if "__error__" in row:
            errors.append(f"line {line}: {row['__error__']}")
            continue
        try:
            spec, password = spec_from_row(row)
        except InvalidInput as exc:
            errors.append(f"line {line}: {exc}")
            continue
        if spec.email.lower() in seen:
            errors.append(f"line {line}: {spec.email} appears twice")
            continue
        if spec.email.lower() in taken:
            errors.append(f"line {line}: {spec.email} is already added")
            continue
        seen.add(spec.email.lower())
        parsed.append((spec, password))
    if errors:
        raise InvalidInput(f"{path}: nothing imported, {len(errors):,} bad row(s): "
                           + summarize_errors(errors))
    if not parsed:
        raise InvalidInput(f"{path}: no accounts in the file")
    if any(password for _, password in parsed):  # fail before anything is stored
        ok, message = secrets.keyring_status()
        if not ok:
            raise secrets.SecretStoreError(message)
    created: list[Account] = []
    try:
        with db.atomic():
            for spec, password in parsed:
                created.append(create_account(spec, password, now))
    except Exception:
        for spec, password in parsed:
            if password:
                secrets.delete_secret(spec.email, "password")
        raise
    return created
