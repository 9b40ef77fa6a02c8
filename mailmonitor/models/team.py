"""Members of a team and who owns what (issue 15, team view).

Each mailbox and campaign has an `owner`: the member name of whoever added or created it
(editable). `TeamMember` lists the team's members with an `admin` flag (admins receive every
alert). The member name of *this* running copy is set once at start-up (`set_this_member`;
default: the computer's user name) and is the default owner of anything this copy creates."""

from __future__ import annotations

import getpass
import re

import peewee as pw

from mailmonitor.clock import utcnow
from mailmonitor.models.base import BaseModel

MAX_MEMBER_NAME = 64
_NAME_RE = re.compile(r"^[\w][\w .@'-]*$")
_this_member: str | None = None


def os_user() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # no user name in the environment (rare containers)
        name = "me"
    return clean_member_name(name) or "me"


def clean_member_name(raw: str) -> str:
    """A member name trimmed; "" when it cannot be one (empty, too long, odd characters)."""
    name = " ".join((raw or "").split())
    if not name or len(name) > MAX_MEMBER_NAME or not _NAME_RE.match(name):
        return ""
    return name


def this_member() -> str:
    """The member name of this running copy (the default owner of what it creates)."""
    return _this_member or os_user()


def set_this_member(name: str | None) -> None:
    global _this_member
    _this_member = clean_member_name(name or "") or None


class TeamMember(BaseModel):
    name = pw.CharField(unique=True)
    admin = pw.BooleanField(default=False)
    added_at = pw.DateTimeField(default=utcnow)
