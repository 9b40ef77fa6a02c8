"""The rep's guide in Help (issue 23): bundled with the app, opened in the app (F1), at the
right paragraph from every reason's "Learn more" (the mailbox's detail, the wizard's failure
help, an alert card), with the providers' pages for app passwords and admin consent."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mailmonitor.clock import FakeClock
from mailmonitor.models import Account
from mailmonitor.services.common.reasons import REASONS
from mailmonitor.services.reconnect.flow import Page
from mailmonitor.ui import guide
from mailmonitor.ui.icons import resource_path
from mailmonitor.ui.main_window import MainWindow
from tests.factories import reload
from tests.ui.helpers import FakeCheck, run, seed_broken_cleo

pytestmark = pytest.mark.ui

TOPICS = ("statuses", "reconnecting", "reallocating", "campaigns", "alerts", "maintenance",
          "teams", "keyboard", "demo")


@pytest.fixture
def cleo(db: Path, clock: FakeClock, fake_check: FakeCheck) -> Account:
    return seed_broken_cleo(fake_check, lambda c: reload(c).created_at)


def shown(window: MainWindow) -> guide.GuideWindow:
    found = next(w for w in window.findChildren(guide.GuideWindow) if w.isVisible())
    return found


def text_of(page: guide.GuideWindow) -> str:
    return page.browser.toPlainText()


def test_the_guide_is_bundled_and_covers_what_a_rep_meets() -> None:
    folder = resource_path("guide")
    index = (folder / "index.html").read_text(encoding="utf-8")
    for topic in TOPICS:
        assert (folder / f"{topic}.html").is_file(), topic
        assert f'href="{topic}.html"' in index, topic
    reasons = guide.reasons_html()
    for code, info in REASONS.items():
        assert f'<a name="{code}"></a>' in reasons and info.label in reasons
    pages = " ".join(p.read_text(encoding="utf-8") for p in folder.glob("*.html"))
    for link in ("https://support.google.com/accounts/answer/185833",
                 "https://support.microsoft.com/en-us/account-billing/how-to-get-and-use-app-",
                 "https://learn.microsoft.com/en-us/entra/identity/enterprise-apps/"
                 "grant-admin-consent"):
        assert link in pages
    # Every link inside the guide leads to a page and an anchor that exist.
    import re

    for source in folder.glob("*.html"):
        for page, anchor in re.findall(r'href="([a-z-]+\.html)(?:#([\w-]+))?"',
                                       source.read_text(encoding="utf-8")):
            target = (folder / page).read_text(encoding="utf-8")
            if page == "statuses.html":
                target += reasons
            assert not anchor or f'name="{anchor}"' in target, f"{source.name}: {page}#{anchor}"


def test_help_opens_the_guide_in_the_app_with_f1(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    window = make_window()
    window.show()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    page = shown(window)
    assert page.page == "index.html"
    assert "the rep's guide" in text_of(page)
    page.browser.setSource(page.browser.source().resolved("statuses.html"))
    assert "Invalid Credentials" in text_of(page)  # the reasons, written in from the table
    page.back.click()
    assert page.page == "index.html"
    qtbot.keyClick(page, Qt.Key.Key_Escape)
    assert not page.isVisible()
    window.help_actions["tour"].trigger()
    assert shown(window).page == "demo.html"


def test_learn_more_opens_the_reasons_paragraph(
        cleo: Account, make_window: Callable[..., MainWindow], qloop: qasync.QEventLoop,
        qtbot: Any) -> None:
    window = make_window()
    detail = window.open_account(cleo.id)
    more = detail.header.learn_more
    assert more.isVisibleTo(detail) and "statuses.html#invalid_credentials" in more.text()
    more.linkActivated.emit("guide:statuses.html#invalid_credentials")
    page = shown(window)
    assert page.page == "statuses.html#invalid_credentials"
    page.close()

    # The wizard's failure help, after a wrong password: Learn more in the guide.
    wizard = window.open_wizard(cleo.id, Page.CONNECTION)
    qtbot.keyClicks(wizard.connection_page.password, "wrong")
    wizard.connection_page.next.click()
    run(qloop, window)
    failure = wizard.connection_page.failure
    assert "guide:statuses.html#invalid_credentials" in failure.text.text()
    failure.linkActivated.emit("guide:statuses.html#invalid_credentials")
    assert shown(window).page == "statuses.html#invalid_credentials"

    # An alert card says where to read more, too.
    from mailmonitor.services.alerts.reconciler import reconcile

    reconcile(window.ctx.clock.now())
    alerts = window.open_alerts()
    card = next(c for c in alerts.cards if c.card.kind == "mailbox_broken")
    assert "statuses.html#invalid_credentials" in card.learn_more.text()


def test_add_mailbox_links_the_providers_app_password_page(
        db: Path, make_window: Callable[..., MainWindow], qtbot: Any) -> None:
    add = make_window().open_add_account()
    qtbot.keyClicks(add.email, "rep@gmail.com")
    assert "https://support.google.com/accounts/answer/185833" in add.password_help.text()
    add.email.clear()
    qtbot.keyClicks(add.email, "rep@smallhost.example")
    add.set_kind("imap")
    assert "guide:reconnecting.html#app-passwords" in add.password_help.text()
