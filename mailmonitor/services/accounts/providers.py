"""Known providers: default endpoints and where their app-password help lives (the words, and
the provider's own page where mailmonitor knows it: Google's and Microsoft's)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    name: str
    imap_host: str
    imap_port: int
    imap_security: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    app_password_help: str = ""
    app_password_url: str = ""  # the provider's own page about app passwords


PRESETS: dict[str, Preset] = {
    "gmail": Preset("Gmail", "imap.gmail.com", 993, "ssl", "smtp.gmail.com", 465, "ssl",
                    "Google: myaccount.google.com → Security → 2-Step Verification must be on → "
                    "App passwords → create one and paste it (spaces are ignored).",
                    "https://support.google.com/accounts/answer/185833"),
    "microsoft": Preset("Microsoft 365 / Outlook", "outlook.office365.com", 993, "ssl",
                        "smtp.office365.com", 587, "starttls",
                        "Microsoft: sign in with Microsoft instead of a password; if sending "
                        "fails with 5.7.139, ask your admin to enable SMTP AUTH for the mailbox.",
                        "https://support.microsoft.com/en-us/account-billing/how-to-get-and-use-"
                        "app-passwords-5896ed9b-4263-e681-128a-a6f2979a7944"),
    "yahoo": Preset("Yahoo", "imap.mail.yahoo.com", 993, "ssl", "smtp.mail.yahoo.com", 465, "ssl",
                    "Yahoo: Account Security → Generate app password."),
    "icloud": Preset("iCloud", "imap.mail.me.com", 993, "ssl", "smtp.mail.me.com", 587,
                     "starttls", "Apple: appleid.apple.com → Sign-In and Security → "
                     "App-Specific Passwords (needs two-factor authentication)."),
    "zoho": Preset("Zoho", "imap.zoho.com", 993, "ssl", "smtp.zoho.com", 465, "ssl",
                   "Zoho: enable IMAP access in Mail settings; with 2FA create an "
                   "application-specific password."),
    "fastmail": Preset("Fastmail", "imap.fastmail.com", 993, "ssl", "smtp.fastmail.com", 465,
                       "ssl", "Fastmail: Settings → Privacy & Security → App passwords."),
}

DOMAINS = {
    "gmail.com": "gmail", "googlemail.com": "gmail",
    "outlook.com": "microsoft", "hotmail.com": "microsoft", "live.com": "microsoft",
    "msn.com": "microsoft", "office365.com": "microsoft",
    "yahoo.com": "yahoo", "ymail.com": "yahoo",
    "icloud.com": "icloud", "me.com": "icloud", "mac.com": "icloud",
    "zoho.com": "zoho", "zohomail.com": "zoho",
    "fastmail.com": "fastmail", "fastmail.fm": "fastmail",
}


def preset_for_email(email: str) -> Preset | None:
    domain = email.rsplit("@", 1)[-1].lower()
    key = DOMAINS.get(domain)
    return PRESETS[key] if key else None


def preset_for_host(host: str) -> Preset | None:
    host = host.lower()
    for preset in PRESETS.values():
        suffix = preset.imap_host.split(".", 1)[1]
        if host.endswith(suffix):
            return preset
    return None


# The usual port of each protocol and security mode, for a server typed in by hand.
STANDARD_PORTS = {("imap", "ssl"): 993, ("imap", "starttls"): 143, ("imap", "plain"): 143,
                  ("smtp", "ssl"): 465, ("smtp", "starttls"): 587, ("smtp", "plain"): 25}
DEFAULT_SECURITY = {"imap": "ssl", "smtp": "starttls"}


def standard_port(protocol: str, security: str) -> int:
    return STANDARD_PORTS.get((protocol, security), 993 if protocol == "imap" else 587)
