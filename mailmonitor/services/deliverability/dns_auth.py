"""DNS authentication of each sending domain (SPF, DMARC, DKIM) with dnspython.

Providers since 2024 (Gmail, Yahoo, Microsoft) refuse or file as spam bulk mail from domains
without SPF, DKIM and DMARC. For the domain of each mailbox's address:

- SPF: one TXT record `v=spf1 …` at the domain that authorises the provider (`include:
  _spf.google.com` for Google, `include:spf.protection.outlook.com` for Microsoft) or, for
  other providers, the SMTP host (an include/a/mx naming its domain, or the domain's own a/mx
  when the mail server is the domain's). Two SPF records, or `+all`, are wrong.
- DMARC: a TXT record `v=DMARC1; p=…` at `_dmarc.<domain>`; `p=none` only monitors.
- DKIM: a public key (`v=DKIM1`/`p=…`) at `<selector>._domainkey.<domain>` for the provider's
  selectors (`google`; Microsoft's `selector1`, `selector2`) or the one the rep names.

Every finding says what to fix in words for the rep. Results are kept per domain
(`DomainAuth`), re-checked daily (`check_due`), and a missing or wrong record raises a warning
alert on each mailbox of the domain (resolved when fixed). The DNS server to ask is
injectable (a `Resolver`, or the setting `dns_resolver` = "host[:port]"); tests use a server on
loopback, never a public resolver.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mailmonitor.events import ATTENTION_DIRTY, bus
from mailmonitor.models import Account, DomainAuth, active_accounts, get_setting

if TYPE_CHECKING:  # dnspython is imported on first use: the window starts without it
    import dns.resolver

log = logging.getLogger(__name__)

OK, WARNING, MISSING, WRONG, UNKNOWN = "ok", "warning", "missing", "wrong", "unknown"
LIFETIME = 5.0  # seconds for one DNS question, retries included
MAX_TXT = 4096  # characters of one record kept
GOOGLE_SPF, MICROSOFT_SPF = "_spf.google.com", "spf.protection.outlook.com"
PROVIDER_SELECTORS = {"gmail": ("google",), "microsoft": ("selector1", "selector2")}
_SELECTOR = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*$")


class InvalidSelector(ValueError):
    pass


@dataclass
class Finding:
    name: str  # SPF | DMARC | DKIM
    status: str  # ok | warning | missing | wrong | unknown
    record: str | None  # the record found (or where it was looked for)
    summary: str  # what is the case, for the rep
    fix: str = ""  # what to do ("" when nothing)


@dataclass
class DomainReport:
    domain: str
    provider: str  # gmail | microsoft | other
    checked_at: datetime
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status in (MISSING, WRONG)]

    @property
    def ok(self) -> bool:
        return all(f.status == OK for f in self.findings)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["checked_at"] = self.checked_at.isoformat(timespec="seconds") + "Z"
        return data


# --- resolving ------------------------------------------------------------------------------

def make_resolver(address: str | None = None, lifetime: float = LIFETIME) -> dns.resolver.Resolver:
    """The system's resolver, or the server at "host[:port]" ("[v6]:port" for IPv6)."""
    import dns.resolver

    address = address if address is not None else get_setting("dns_resolver")
    if not address:
        resolver = dns.resolver.Resolver()
    else:
        match = re.fullmatch(r"\[([0-9a-fA-F:]+)\](?::(\d{1,5}))?|([^:\s]+)(?::(\d{1,5}))?",
                             address.strip())
        if match is None:
            raise ValueError(f"not a DNS server address: {address!r}")
        host = match.group(1) or match.group(3)
        port = int(match.group(2) or match.group(4) or 53)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = lifetime
    resolver.timeout = min(resolver.timeout, lifetime)
    return resolver


class LookupFailed(Exception):
    """The DNS server did not answer (timeout, SERVFAIL): nothing can be said either way."""


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    """The TXT strings at `name` (each record's parts joined); [] when there are none."""
    import dns.exception
    import dns.resolver

    try:
        answer = resolver.resolve(name, "TXT", raise_on_no_answer=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.NoResolverConfiguration,
            dns.resolver.LifetimeTimeout) as exc:
        raise LookupFailed(f"the DNS server did not answer for {name} ({type(exc).__name__})"
                           ) from None
    except dns.exception.DNSException as exc:
        raise LookupFailed(f"DNS lookup of {name} failed: {exc}") from None
    records = []
    for rdata in answer.rrset or []:
        parts = getattr(rdata, "strings", ())
        records.append(b"".join(parts).decode("utf-8", "replace")[:MAX_TXT])
    return records


# --- the three checks -----------------------------------------------------------------------

def provider_of(account: Account) -> str:
    host = (account.smtp_host or "").lower().rstrip(".")
    if account.kind == "gmail" or host.endswith(("gmail.com", "googlemail.com", "google.com")):
        return "gmail"
    if account.kind == "microsoft" or host.endswith(("office365.com", "outlook.com")):
        return "microsoft"
    return "other"


def base_domain(host: str) -> str:
    labels = host.lower().rstrip(".").split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else host


def spf_term(smtp_host: str) -> tuple[str, str]:
    """The SPF mechanism that authorises a mail server, and a note for the rep: `a:HOST` for a
    name, `ip4:`/`ip6:` for an address (`a:` takes only a name: `a:127.0.0.1` is invalid).
    An address of this computer or a private network is not what receivers see: the rep
    puts the public one in its place."""
    host = (smtp_host or "").strip().rstrip(".")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return f"a:{host}", ""
    kind = "ip4" if address.version == 4 else "ip6"
    if address.is_loopback or address.is_private or address.is_link_local:
        return (f"{kind}:PUBLIC-ADDRESS",
                f" PUBLIC-ADDRESS is the address your mail server sends from on the internet "
                f"({address} is an address of this computer or your own network, which "
                "receivers never see).")
    return f"{kind}:{address}", ""


def check_spf(resolver: dns.resolver.Resolver, domain: str, provider: str, smtp_host: str
              ) -> Finding:
    spf = [r for r in txt_records(resolver, domain) if r.lower().startswith("v=spf1")]
    wanted = {"gmail": GOOGLE_SPF, "microsoft": MICROSOFT_SPF}.get(provider)
    who = wanted or smtp_host or "your mail server"
    term, note = spf_term(smtp_host)
    add = f"include:{wanted}" if wanted else \
        (f"{term} (or your mail provider's include:)" if smtp_host
         else "your mail provider's include:")
    if not spf:
        return Finding("SPF", MISSING, None, f"{domain} has no SPF record.",
                       f'Add a TXT record at {domain}: "v=spf1 '
                       + (f"include:{wanted}" if wanted else term) + ' ~all".'
                       + ("" if wanted else note))
    if len(spf) > 1:
        return Finding("SPF", WRONG, " | ".join(spf),
                       f"{domain} has {len(spf)} SPF records; receivers then ignore all of them.",
                       "Merge them into one TXT record that starts with v=spf1.")
    record = spf[0]
    terms = record.lower().split()[1:]
    if "+all" in terms or "all" in terms:
        return Finding("SPF", WRONG, record, "The SPF record allows any server to send as "
                       f"{domain} (+all).", "End the record with ~all or -all instead.")
    if wanted:
        authorised = f"include:{wanted}" in terms
    else:
        host = smtp_host.lower().rstrip(".")
        named = [t.split(":", 1)[1].split("/")[0] for t in terms
                 if ":" in t and t.lstrip("+").split(":", 1)[0] in ("include", "a", "mx")]
        own_server = bool(host) and base_domain(host) == base_domain(domain) and \
            any(t.lstrip("+") in ("a", "mx") for t in terms)
        authorised = own_server or any(
            n == host or host.endswith("." + n) or base_domain(n) == base_domain(host)
            for n in named if host)
        if not authorised and any(t.lstrip("+").startswith(("ip4:", "ip6:")) for t in terms):
            return Finding("SPF", WARNING, record,
                           f"The SPF record of {domain} lists IP addresses only; mailmonitor "
                           f"cannot tell whether they include {who}.",
                           f"Make sure the addresses of {who} are listed, or add {add}."
                           + ("" if wanted else note))
    if not authorised:
        return Finding("SPF", WRONG, record,
                       f"The SPF record of {domain} does not authorise {who}.",
                       f"Add {add} to the SPF record (before the final ~all)."
                       + ("" if wanted else note))
    return Finding("SPF", OK, record, f"SPF authorises {who}.")


def check_dmarc(resolver: dns.resolver.Resolver, domain: str) -> Finding:
    name = f"_dmarc.{domain}"
    records = [r for r in txt_records(resolver, name) if r.lower().replace(" ", "")
               .startswith("v=dmarc1")]
    if not records:
        return Finding("DMARC", MISSING, None, f"{domain} has no DMARC record.",
                       f'Add a TXT record at {name}: "v=DMARC1; p=none; rua=mailto:'
                       f'dmarc@{domain}" (then move to p=quarantine once reports look right).')
    if len(records) > 1:
        return Finding("DMARC", WRONG, " | ".join(records),
                       f"{name} has {len(records)} DMARC records; receivers ignore them all.",
                       "Keep one DMARC record.")
    record = records[0]
    tags = dict((k.strip().lower(), v.strip().lower()) for k, _, v in
                (part.partition("=") for part in record.split(";")) if k.strip())
    policy = tags.get("p")
    if policy not in ("none", "quarantine", "reject"):
        return Finding("DMARC", WRONG, record, "The DMARC record has no valid policy (p=).",
                       "Set p=none, p=quarantine or p=reject.")
    if policy == "none":
        return Finding("DMARC", WARNING, record,
                       "DMARC policy is none: receivers only report, they do not protect the "
                       "domain.", "Once DMARC reports look right, change to p=quarantine.")
    return Finding("DMARC", OK, record, f"DMARC policy is {policy}.")


def selectors_for(provider: str, named: str | None) -> list[str]:
    selectors = list(PROVIDER_SELECTORS.get(provider, ()))
    if named and named not in selectors:
        selectors.insert(0, named)
    return selectors


def check_dkim(resolver: dns.resolver.Resolver, domain: str, provider: str,
               named: str | None) -> Finding:
    selectors = selectors_for(provider, named)
    if not selectors:
        return Finding("DKIM", WARNING, None,
                       "mailmonitor does not know this provider's DKIM selector.",
                       "Ask your provider for the DKIM selector (the part before "
                       "._domainkey) and enter it here so it can be checked.")
    revoked = []
    for selector in selectors:
        name = f"{selector}._domainkey.{domain}"
        for record in txt_records(resolver, name):
            compact = record.replace(" ", "")
            if "v=DKIM1" in compact or re.search(r"(^|;)p=", compact):
                if re.search(r"(^|;)p=(;|$)", compact):
                    revoked.append(name)
                    continue
                return Finding("DKIM", OK, name, f"DKIM key found at {name}.")
    if revoked:
        return Finding("DKIM", WRONG, revoked[0], f"The DKIM key at {revoked[0]} is revoked "
                       "(empty p=).", "Publish the current DKIM key from your provider.")
    where = ", ".join(f"{s}._domainkey.{domain}" for s in selectors)
    how = {"gmail": "In the Google Admin console: Apps → Google Workspace → Gmail → "
                    "Authenticate email → Generate new record, publish it, then Start "
                    "authentication.",
           "microsoft": "In Microsoft Defender: Email authentication settings → DKIM → enable "
                        "it for the domain and publish the two CNAME records it shows."}
    return Finding("DKIM", MISSING, where, f"No DKIM key found ({where}).",
                   how.get(provider, "Publish the DKIM key your provider gives you, or enter "
                           "the selector it uses."))


def check_domain(domain: str, provider: str, smtp_host: str, selector: str | None,
                 resolver: dns.resolver.Resolver, now: datetime) -> DomainReport:
    """All three checks; a DNS server that does not answer gives `unknown`, never `missing`."""
    report = DomainReport(domain=domain, provider=provider, checked_at=now)
    checks: tuple[tuple[str, Callable[[], Finding]], ...] = (
        ("SPF", lambda: check_spf(resolver, domain, provider, smtp_host)),
        ("DMARC", lambda: check_dmarc(resolver, domain)),
        ("DKIM", lambda: check_dkim(resolver, domain, provider, selector)))
    for name, run in checks:
        try:
            report.findings.append(run())
        except LookupFailed as exc:
            report.findings.append(Finding(name, UNKNOWN, None, str(exc),
                                           "mailmonitor tries again later."))
    return report


# --- per account, stored, alerted -----------------------------------------------------------

def domain_of(account: Account) -> str:
    return str(account.email).rsplit("@", 1)[-1].lower()


def set_selector(domain: str, selector: str | None) -> None:
    """The DKIM selector the rep names for a domain (None or "" forgets it)."""
    value = (selector or "").strip().removesuffix("._domainkey").strip(".")
    if value and not _SELECTOR.match(value):
        raise InvalidSelector(f"{selector!r} is not a DKIM selector (letters, digits, '-', '_')")
    DomainAuth.insert(domain=domain, dkim_selector=value or None).on_conflict(
        conflict_target=[DomainAuth.domain],
        update={DomainAuth.dkim_selector: value or None}).execute()


def check_account_domain(account: Account, now: datetime,
                         resolver: dns.resolver.Resolver | None = None) -> DomainReport:
    """Check the account's domain and store the result (what it means for the mailboxes of the
    domain is the attention model's)."""
    domain = domain_of(account)
    row = DomainAuth.get_or_none(DomainAuth.domain == domain)
    report = check_domain(domain, provider_of(account), account.smtp_host or "",
                          row.dkim_selector if row else None, resolver or make_resolver(), now)
    DomainAuth.insert(domain=domain, checked_at=now, result=report.to_json()).on_conflict(
        conflict_target=[DomainAuth.domain],
        update={DomainAuth.checked_at: now, DomainAuth.result: report.to_json()}).execute()
    bus.emit(ATTENTION_DIRTY)  # the attention model names every mailbox of the domain
    return report


def stored_report(account: Account) -> dict[str, Any] | None:
    row = DomainAuth.get_or_none(DomainAuth.domain == domain_of(account))
    return row.result if row is not None else None


def stored_selector(account: Account) -> str | None:
    row = DomainAuth.get_or_none(DomainAuth.domain == domain_of(account))
    return row.dkim_selector if row is not None else None


# Names that never exist in the public DNS (RFC 2606, RFC 6761): not asked about unless a DNS
# server was named explicitly (tests, a company's own resolver).
RESERVED_SUFFIXES = (".test", ".example", ".invalid", ".localhost", ".local")


def is_reserved(domain: str) -> bool:
    return ("." + domain.lower().rstrip(".")).endswith(RESERVED_SUFFIXES)


def check_due(now: datetime, resolver: dns.resolver.Resolver | None = None) -> list[str]:
    """Re-check every sending domain not checked for `dns_recheck_hours` (daily). One domain's
    failure never stops the others. Returns the domains checked."""
    explicit = resolver is not None or bool(get_setting("dns_resolver"))
    stale = now - timedelta(hours=float(get_setting("dns_recheck_hours")))
    fresh = {d for (d,) in DomainAuth.select(DomainAuth.domain).where(
        DomainAuth.checked_at.is_null(False) & (DomainAuth.checked_at > stale)).tuples()}
    done: list[str] = []
    resolver = resolver or make_resolver()
    for account in active_accounts().where(Account.status != "stopped").order_by(Account.id):
        domain = domain_of(account)
        if domain in fresh or domain in done or (is_reserved(domain) and not explicit):
            continue
        try:
            check_account_domain(account, now, resolver)
        except Exception:
            log.exception("DNS check of %s failed", domain)
        done.append(domain)
    return done
