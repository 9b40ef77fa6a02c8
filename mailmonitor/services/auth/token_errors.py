"""Classifying a failed OAuth token refresh (Google `invalid_grant`, Microsoft AADSTS codes)."""

from __future__ import annotations

import re

from mailmonitor.logsetup import redact

SIGN_IN_AGAIN_CODES = ("AADSTS700082", "AADSTS50173", "AADSTS70043", "AADSTS700081",
                       "AADSTS65001")


class TokenError(Exception):
    """The provider refused to refresh; `reason` is a reason code from the §2 table."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def classify_token_text(text: str) -> str:
    if "invalid_grant" in text or any(code in text for code in SIGN_IN_AGAIN_CODES):
        return "token_expired"
    if re.search(r"AADSTS50057|AADSTS50053|account (is )?(disabled|locked)", text, re.I):
        return "account_disabled"
    if re.search(r"timed? ?out", text, re.I):
        return "timeout"
    if re.search(r"connection|resolve|unreachable|refused", text, re.I):
        return "network"
    return "token_expired"


def classify_token_error(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, TokenError):
        return exc.reason, redact(exc.detail)
    text = redact(f"{type(exc).__name__}: {exc}")
    return classify_token_text(text), text
