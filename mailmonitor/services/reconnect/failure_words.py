"""What a failed connection test says, worded for where the rep is.

A mailbox being *added* is not monitored yet: "mailmonitor keeps retrying" would be untrue there,
so transient reasons get advice about the settings just typed and trying again. A mailbox being
*reconnected* is monitored, so the same reason may say that waiting is fine. Raw server or
exception text is never part of the title or the advice: it goes to ``details`` (shown under a
Details toggle). Qt-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailmonitor.models import Account
from mailmonitor.services.accounts.connection_test import TestOutcome, failure_help, held_help
from mailmonitor.services.common.policies import change_advice
from mailmonitor.services.common.reasons import REASONS

Context = Literal["adding", "reconnecting"]

# Transient reasons, in plain words without the "Retrying:" of the status label.
_WHAT_HAPPENED = {
    "timeout": "the server did not answer within {timeout:g} s",
    "network": "the server could not be reached",
    "server_unavailable": "the server is temporarily unavailable",
    "rate_limited": "the provider is limiting sign-ins for now",
}


@dataclass(frozen=True)
class FailureText:
    title: str  # one line: what happened
    advice: list[str]  # what to do, most useful first
    details: str  # the server's (or the exception's) exact words, secrets redacted

    @property
    def plain(self) -> str:
        return "\n".join([self.title, *self.advice])


def _server_hint(account: Account) -> str:
    return (f"Check the server names and ports (now IMAP {account.imap_host}:{account.imap_port}, "
            f"SMTP {account.smtp_host}:{account.smtp_port}) and the security setting.")


def failure_text(account: Account, outcome: TestOutcome, context: Context, timeout: float
                 ) -> FailureText:
    """The words for a failed test of ``account`` (``outcome.ok`` is False)."""
    verb = "Not added" if context == "adding" else "The connection failed"
    if outcome.held:
        return FailureText(f"{verb}: held back to protect the mailbox.",
                           [*held_help(outcome.held),
                            *(["Nothing was stored."] if context == "adding" else [])],
                           outcome.detail)
    reason = outcome.reason or "request_invalid"
    info = REASONS.get(reason)
    if reason in _WHAT_HAPPENED:
        what = _WHAT_HAPPENED[reason].format(timeout=timeout)
        title = f"{verb}: {what}."
        if context == "adding":
            advice = [_server_hint(account),
                      "If they are right, the server may be down or blocked by a firewall: "
                      "try again in a few minutes. Nothing was stored."]
            if reason == "rate_limited":
                advice = ["Wait a few minutes, then press Test & Add again. Nothing was stored."]
        else:
            advice = [_server_hint(account),
                      "This looks temporary: you can also close the wizard, mailmonitor keeps "
                      "retrying this mailbox by itself."]
        return FailureText(title, advice, outcome.detail)
    label = info.label if info else outcome.label
    title = f"{verb}: {label}."
    lines = [line for line in failure_help(account, reason, answer=outcome.detail)
             if not line.startswith("Still stuck?") and "keeps retrying" not in line]
    if context == "adding":
        lines = [line.replace("press Next again", "press Test & Add again")
                 .replace("Sign in again with “Continue in your browser”.",
                          "Use the sign-in button above instead of a password.")
                 for line in lines]
        if info is not None:
            # The adding words instead of the reason's action; the provider change its answer
            # marks (the other half of advice_for) still follows.
            lines[0] = " ".join(part for part in (info.explanation, _adding_action(reason),
                                                  change_advice(outcome.detail)) if part)
        lines.append("Nothing was stored.")
    if reason in ("tls_error", "request_invalid"):
        lines.insert(1, _server_hint(account))
    return FailureText(title, lines, outcome.detail)


def _adding_action(reason: str) -> str:
    return {
        "invalid_credentials": "Check the address and password (or paste a new app password).",
        "app_password_required": "Create an app password (needs 2-Step Verification) and "
                                 "paste it as the password.",
        "web_login_required": "Sign in to the mailbox in a browser, confirm the security check, "
                              "then press Test & Add again.",
        "token_expired": "Sign in again with the provider's button.",
        "mailbox_full": "Free up space in the mailbox, then press Test & Add again.",
        "sync_error": "Check the mailbox on the provider's website, then try again.",
    }.get(reason, "")
