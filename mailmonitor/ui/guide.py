"""The rep's guide, bundled with the app (`resources/guide/*.html`) and read in the app: Help →
Guide (F1), and "Learn more" beside every reason, alert and failure, which opens the guide at
that reason's paragraph. Links to providers' pages (app passwords, admin consent) open in the
browser.

The reasons' part of "Statuses and reasons" is written from the one table of reasons
(`services/common/reasons.py`) when the page is read, so the guide never says other words than
the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QTextDocument
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from mailmonitor.models import Account
from mailmonitor.services.alerts.cards import Card
from mailmonitor.services.common.reasons import REASONS, advice_for
from mailmonitor.ui import keyboard
from mailmonitor.ui.format import esc
from mailmonitor.ui.icons import resource_path
from mailmonitor.ui.widgets import ButtonRow, usable_height

SCHEME = "guide"
HOME = "index.html"
PLACEHOLDER = "<!--REASONS-->"

# Where the guide says more about a reason than its sentence (the page#anchor after it).
REASON_MORE: dict[str, tuple[str, str]] = {
    "invalid_credentials": ("reconnecting.html#app-passwords", "App passwords, by provider"),
    "app_password_required": ("reconnecting.html#app-passwords", "Creating an app password"),
    "web_login_required": ("reconnecting.html#wizard", "Reconnecting step by step"),
    "token_expired": ("reconnecting.html#admin-consent", "When an administrator must approve"),
    "account_disabled": ("reconnecting.html#administrator", "What your administrator does"),
    "auth_method_disabled": ("reconnecting.html#smtp-auth", "Switching SMTP AUTH on"),
    "tls_error": ("reconnecting.html#two-step", "Changing a mailbox's servers"),
    "request_invalid": ("reconnecting.html#two-step", "Changing a mailbox's servers"),
    "no_service_connection": ("reconnecting.html#two-step", "Changing a mailbox's servers"),
}

# An alert's kind → the page that explains it (a mailbox's own reason is more precise).
KIND_PAGES = {
    "leads_stopping": "reallocating.html#long-wait",
    "grace_ending": "reconnecting.html#two-step",
    "leads_unassigned": "reallocating.html",
    "campaign_paused": "campaigns.html#statuses",
    "campaign_error": "campaigns.html#statuses",
    "leads_flagged": "campaigns.html#leads",
    "channel_failing": "alerts.html#channels",
    "provider_change": "reconnecting.html#administrator",
    "sign_in_expiring": "reconnecting.html#wizard",
    "password_rotation": "reconnecting.html#wizard",
}


def url(page: str = HOME, anchor: str = "") -> str:
    """'guide:statuses.html#invalid_credentials' (what "Learn more" links point to)."""
    return f"{SCHEME}:{page}" + (f"#{anchor}" if anchor else "")


def page_for(status: str | None, reason: str | None) -> str:
    """The guide's paragraph about a mailbox's reason (else its status)."""
    return url("statuses.html", reason if reason in REASONS else (status or ""))


def page_for_test(status: str | None, reason: str | None, held: str | None) -> str:
    """After a failed connection test: its reason's paragraph, or why a test was held back."""
    return url("statuses.html", "held") if held else page_for(status, reason)


def page_for_card(card: Card) -> str:
    if card.kind in ("mailbox_broken", "mailbox_retrying") and card.account_id is not None:
        account = Account.get_or_none(Account.id == card.account_id)
        if account is not None:
            return page_for(account.status, account.reason)
    page = KIND_PAGES.get(card.kind)
    return f"{SCHEME}:{page}" if page else url("alerts.html")


def learn_more(href: str, text: str = "Learn more") -> str:
    return f"<a href=\"{esc(href)}\">{esc(text)}</a>"


def reasons_html() -> str:
    """Every reason: its words, what it means, what to do, and where to read more."""
    parts = []
    for code, info in REASONS.items():
        more = REASON_MORE.get(code)
        parts.append(
            f"<h3><a name=\"{code}\"></a>{esc(info.label)}</h3>"
            f"<p>{esc(info.explanation)}</p>"
            f"<p><b>What to do:</b> {esc(advice_for(code).removeprefix(info.explanation).strip())}"
            + (f" See <a href=\"{more[0]}\">{esc(more[1])}</a>." if more else "") + "</p>")
    return "\n".join(parts)


class GuideBrowser(QTextBrowser):
    """The bundled pages; the reasons written in from the table as the page is read."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guideBrowser")
        self.setOpenExternalLinks(True)  # providers' pages open in the browser
        self.setSearchPaths([str(resource_path("guide"))])

    def loadResource(self, kind: int, name: QUrl | str) -> Any:
        link = QUrl(name) if isinstance(name, str) else name
        if int(kind) == QTextDocument.ResourceType.HtmlResource.value:
            path = Path(link.toLocalFile()) if link.isLocalFile() else \
                resource_path("guide", link.path())
            if path.suffix == ".html" and path.is_file():
                text = path.read_text(encoding="utf-8")
                return text.replace(PLACEHOLDER, reasons_html())
        return super().loadResource(kind, name)


class GuideWindow(keyboard.Dialog):
    """Help → Guide: the bundled guide with Back, Forward and Contents. Not modal: the rep
    reads it beside the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guideWindow")
        self.setWindowTitle("mailmonitor guide")
        self.setModal(False)
        self.browser = GuideBrowser()
        buttons = ButtonRow()
        self.back = buttons.button("Back")
        self.forward = buttons.button("Forward")
        self.contents = buttons.button("Contents")
        buttons.addStretch(1)
        self.close_button = buttons.button("Close", primary=True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addLayout(buttons)
        self.back.clicked.connect(self.browser.backward)
        self.forward.clicked.connect(self.browser.forward)
        self.contents.clicked.connect(lambda _c=False: self.show_page(url()))
        self.close_button.clicked.connect(self.reject)
        self.browser.backwardAvailable.connect(self.back.setEnabled)
        self.browser.forwardAvailable.connect(self.forward.setEnabled)
        self.back.setEnabled(False)
        self.forward.setEnabled(False)
        self.resize(860, min(660, usable_height(self)))
        keyboard.install(self)

    def show_page(self, href: str) -> None:
        target = href.removeprefix(f"{SCHEME}:") or HOME
        self.browser.setSource(QUrl(target))

    @property
    def page(self) -> str:
        """The page shown now, with its anchor: 'statuses.html#invalid_credentials'."""
        source = self.browser.source()
        name = Path(source.toLocalFile() or source.path()).name
        return name + (f"#{source.fragment()}" if source.fragment() else "")


def _root(widget: QWidget) -> QWidget:
    """The main window the widget belongs to (dialogs have it as an ancestor)."""
    root = widget
    while root.parentWidget() is not None:
        parent = root.parentWidget()
        assert parent is not None
        root = parent
    return root


def show_guide(widget: QWidget, href: str = "") -> GuideWindow:
    """Open (or bring up) the guide of the window `widget` is in, at `href`."""
    root = _root(widget)
    guide = root.findChild(GuideWindow, "guideWindow")
    if guide is None or not shiboken6.isValid(guide):
        guide = GuideWindow(root)
    guide.show_page(href or url())
    guide.show()
    guide.raise_()
    guide.activateWindow()
    return guide


def open_link(widget: QWidget, href: str) -> None:
    """A link in a label: the guide's pages in the guide, anything else in the browser."""
    if href.startswith(f"{SCHEME}:"):
        show_guide(widget, href)
    else:
        QDesktopServices.openUrl(QUrl(href))


def link_label(href: str = "", text: str = "Learn more") -> QLabel:
    """A "Learn more" link that opens the guide."""
    label = QLabel(learn_more(href, text) if href else "")
    label.setObjectName("learnMore")
    label.linkActivated.connect(lambda link: open_link(label, link))
    return label
