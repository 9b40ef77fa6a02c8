"""The Owner column's cell, the same in the Mailboxes and Campaigns tables (team database)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from mailmonitor.models import this_member
from mailmonitor.ui import format as fmt
from mailmonitor.ui.models.base import Role
from mailmonitor.ui.palette import muted_color


def owner_cell(owner: str, tie_break: str, role: int) -> Any:
    """What the cell of a row owned by `owner` shows for `role`; rows of one owner sort by
    `tie_break` (the address, the campaign name)."""
    if role == Qt.ItemDataRole.DisplayRole:
        return fmt.owner_text(owner)
    if role == Role.SORT:  # a plain string; no owner first (a tab sorts before any letter)
        return f"{owner.casefold()}\t{tie_break}"
    if role == Qt.ItemDataRole.ForegroundRole and not owner:
        return muted_color()
    if role == Qt.ItemDataRole.ToolTipRole:
        return fmt.owner_tooltip(owner, this_member())
    if role == Qt.ItemDataRole.AccessibleTextRole:
        return f"Owner: {owner or 'nobody'}"
    return None
