"""Issue 23's pictures, "a window a rep trusts on the first day", on a 1366×768 screen (Xvfb)
with a 40 px taskbar left free: the demo's window with the guide open at a reason, the demo's
reconnect wizard for Dan after a wrong password (the hint where the password is typed, the
focus back in the field, Learn more), Add mailbox after a failed test at its largest (it
scrolls inside; its buttons stay on screen), the notice after a re-allocation with Undo, and
Pause all sending's banner.

Usage (`make screenshots` runs it):

    PYTHONPATH=. dbus-run-session -- xvfb-run -a -s "-screen 0 1366x768x24" \\
        python tools/first_day_shots.py docs/screenshots

Each picture is the whole screen (`grabWindow(0)`), so what would fall off a 1366×768 laptop
shows as falling off."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
os.environ.setdefault("QT_API", "pyside6")

import PySide6  # noqa: F401  (before qasync)
import qasync
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QWidget
from shots import SCREEN, USABLE_HEIGHT, demo_session, finish


def settle(app: QApplication, loop: qasync.QEventLoop | None = None) -> None:
    for _ in range(10):
        app.processEvents()
    if loop is not None:
        loop.run_until_complete(asyncio.sleep(0.3))
        for _ in range(10):
            app.processEvents()


def grab(app: QApplication, path: Path) -> None:
    settle(app, asyncio.get_event_loop())  # growing dialogs take a turn to lay out and paint
    for widget in app.topLevelWidgets():
        if widget.isVisible():
            widget.repaint()
    settle(app)
    app.primaryScreen().grabWindow(0).save(str(path))
    print(path)


def centre(widget: QWidget, top: int | None = None) -> None:
    frame = widget.frameGeometry()
    y = top if top is not None else max(0, (USABLE_HEIGHT - frame.height()) // 2)
    widget.move(QPoint((SCREEN[0] - frame.width()) // 2, y))


def main() -> int:
    from mailmonitor.app import apply_style, build_main_window
    from mailmonitor.models import Account, Campaign
    from mailmonitor.services.reconnect.flow import Page
    from mailmonitor.ui.guide import show_guide, url

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "shots")
    out.mkdir(parents=True, exist_ok=True)
    app, context = demo_session("mm-first-day-shots-")
    apply_style(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    from mailmonitor.services.alerts import reconciler

    reconciler.reconcile(__import__("mailmonitor.clock", fromlist=["utcnow"]).utcnow())
    window = build_main_window(loop=loop, hints=context.hints, title_suffix=" — demo",
                               coalesce_ms=0, use_tray=False, demo=True)
    window.setGeometry(0, 0, SCREEN[0], USABLE_HEIGHT)
    window.show()
    settle(app, loop)

    # The guide at a reason's paragraph (Learn more from Dan's banner / detail).
    guide = show_guide(window, url("statuses.html", "app_password_required"))
    centre(guide)
    grab(app, out / "47-guide-at-a-reason.png")
    guide.close()

    # Dan's wizard after a wrong password: the hint, the failure help, the focus in the field.
    dan = Account.get(Account.email == "dan@gmail-demo.example")
    wizard = window.open_wizard(dan.id, Page.CONNECTION)
    wizard.resize(660, 560)
    centre(wizard)
    wizard.connection_page.password.setText("dans-old-password")
    wizard.connection_page.next.click()
    loop.run_until_complete(asyncio.wait_for(window.ctx.idle(), timeout=20))
    settle(app, loop)
    centre(wizard)
    grab(app, out / "48-demo-wizard-hint-and-failure.png")
    wizard.discard()

    # Add mailbox at its largest: a failed test, its details, the unencrypted warning.
    add = window.open_add_account()
    add.email.setText("rep@smallhost.example")
    add.imap.host.setText("192.168.1.20")
    add.smtp.host.setText("192.168.1.20")
    for editor in (add.imap, add.smtp):
        editor.security.setCurrentIndex(editor.security.findData("plain"))
    add.password.setText("not-the-password")
    add.add_button.click()
    loop.run_until_complete(asyncio.wait_for(window.ctx.idle(), timeout=60))
    add.details.toggle.setChecked(True)
    settle(app, loop)
    centre(add, top=max(0, USABLE_HEIGHT - add.frameGeometry().height()))
    grab(app, out / "49-add-mailbox-failed-fits.png")
    add.discard()

    # Re-allocate, then the notice with Undo.
    window.tabs.setCurrentIndex(1)
    q4 = Campaign.get(Campaign.name == "Q4 outreach")
    window.campaigns_tab.select(q4.id)
    settle(app, loop)
    realloc = window.campaigns_tab.campaign_view.open_reallocate()
    assert realloc is not None
    centre(realloc)
    grab(app, out / "50-reallocate-preview.png")
    realloc.apply_button.click()
    settle(app, loop)
    grab(app, out / "51-reallocated-with-undo.png")
    window.notice.undo()
    settle(app, loop)

    # Pause all sending: a banner until resumed.
    window.notice.hide()
    window.pause_all.trigger()
    settle(app, loop)
    grab(app, out / "52-pause-all-sending-banner.png")
    window.pause_all.trigger()

    finish(window, loop, context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
