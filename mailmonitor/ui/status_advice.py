"""How the window says what is wrong with a mailbox and what to do, in one place: the header of
the account detail and of the wizard's pages (`AccountStatusHeader`: title, status chip, advice),
and the failure after a connection test in the wizard and the add-mailbox dialog
(`failure_html`: headline, the server's answer, the help bullets)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QVBoxLayout, QWidget

from mailmonitor.models import Account
from mailmonitor.services.common import reasons
from mailmonitor.services.common.reasons import REASONS, Status, label_for
from mailmonitor.ui.format import esc
from mailmonitor.ui.guide import learn_more, link_label, page_for
from mailmonitor.ui.widgets import StatusChip, heading, muted

DETAIL_CHARS = 240  # of the server's answer, under the headline


def advice_for(account: Account, when_stopped: str, otherwise: str = "") -> str:
    """What is wrong and what to do: the reason's advice (naming a provider change its server's
    answer marks); for a mailbox the rep disconnected, `when_stopped`; else `otherwise` (may be
    empty)."""
    if account.reason in REASONS:
        return reasons.advice_for(account.reason, account.detail or "")
    if account.status == Status.STOPPED.value:
        return when_stopped
    return otherwise


class AccountStatusHeader(QWidget):
    """Address, status (icon, colour and words) and what is wrong, in the rep's words."""

    def __init__(self, spacing: int = 4, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = heading()
        self.chip = StatusChip()
        self.explanation = muted()
        self.learn_more = link_label()  # the guide's paragraph about this reason
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(spacing)
        layout.addWidget(self.title)
        layout.addWidget(self.chip)
        layout.addWidget(self.explanation)
        layout.addWidget(self.learn_more)

    def show_account(self, account: Account, title: str, when_stopped: str,
                     otherwise: str = "") -> None:
        self.title.setText(title)
        self.show_status(str(account.status), label_for(account.status, account.reason))
        text = advice_for(account, when_stopped, otherwise)
        self.explanation.setText(text)
        self.explanation.setVisible(bool(text))
        needs_rep = account.reason in REASONS or account.status == Status.STOPPED.value
        self.learn_more.setText(learn_more(page_for(account.status, account.reason))
                                if needs_rep else "")
        self.learn_more.setVisible(needs_rep)

    def show_status(self, status: str, text: str | None = None) -> None:
        self.chip.set_status(status, text)


def failure_html(headline: str, detail: str = "", lines: Sequence[str] = (),
                 emphasis: bool = True, more: str = "") -> str:
    """A failure for a banner: the headline (bold with `emphasis`), the server's answer in
    monospace, the help as a bullet list, and "Learn more" (the guide's page `more`). Everything
    is escaped."""
    html = f"<b>{esc(headline)}</b>" if emphasis else esc(headline)
    if detail:
        html += f"<br><tt>{esc(detail[:DETAIL_CHARS])}</tt>"
    if lines:
        html += ("<ul style='margin-left:-20px'>"
                 + "".join(f"<li>{esc(line)}</li>" for line in lines) + "</ul>")
    if more:
        html += learn_more(more, "Learn more in the guide")
    return html
