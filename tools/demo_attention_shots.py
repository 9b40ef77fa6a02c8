"""The demo's alerts list, banner and campaign banner on a 1366×768 screen (Xvfb), for before /
after pictures of issue 25.

Usage (the tree to picture comes from PYTHONPATH, so the same script pictures any branch):

    PYTHONPATH=. dbus-run-session -- xvfb-run -a -s "-screen 0 1366x768x24" \
        python tools/demo_attention_shots.py OUT_DIR

It seeds `mailmonitor demo`'s data (real checks against the demo servers), then the issue's
flood: a DNS check of northwind.example that finds SPF and DMARC wrong for its four mailboxes.
Where the attention model exists it reconciles once (the app's background loop would), and the
end of the list is pictured with one mailbox muted for maintenance. The window fills the usable
height of the screen (728 px: a 40 px panel), the alerts dialog opens over it, and the whole
screen is grabbed: 43-demo-banner, 44-demo-alerts, 45-demo-alerts-end, 46-demo-campaign-banner
(`make screenshots`; the pictures of the branch before issue 25 are in docs/screenshots/before).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
os.environ.setdefault("QT_API", "pyside6")

import PySide6  # noqa: F401  (before qasync)
import qasync
from PySide6.QtWidgets import QApplication, QScrollArea
from shots import SCREEN, USABLE_HEIGHT, demo_session, finish


def grab(app: QApplication, path: Path) -> None:
    for _ in range(10):
        app.processEvents()
    screen = app.primaryScreen()
    screen.grabWindow(0).save(str(path))
    print(path)


def main() -> int:
    import asyncio

    from mailmonitor.clock import SystemClock
    from mailmonitor.models import Account, Campaign, set_setting
    from mailmonitor.services.deliverability import dns_auth
    from tests.servers.dns_server import DnsServer

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "shots")
    out.mkdir(parents=True, exist_ok=True)
    app, context = demo_session("mm-attention-shots-")
    now = SystemClock().now()
    with DnsServer({"northwind.example": [("TXT", "v=spf1 include:mailgun.org ~all")]}) as dns:
        set_setting("dns_resolver", dns.address)
        ava = Account.get(Account.email == "ava@northwind.example")
        dns_auth.check_account_domain(ava, now)
    try:
        from mailmonitor.services.alerts import reconciler
    except ImportError:  # before the attention model: the rules raised the alerts already
        reconciler = None  # type: ignore[assignment]
    if reconciler is not None:
        reconciler.reconcile(SystemClock().now())

    from mailmonitor.app import apply_style, build_main_window

    apply_style(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = build_main_window(loop=loop, hints=context.hints, title_suffix=" — demo",
                               coalesce_ms=0, use_tray=False)
    window.setGeometry(0, 0, SCREEN[0], USABLE_HEIGHT)
    window.show()
    window.notice.hide()
    grab(app, out / "43-demo-banner.png")

    alerts = window.open_alerts()
    frame = alerts.frameGeometry()
    alerts.move((SCREEN[0] - frame.width()) // 2, max(0, (USABLE_HEIGHT - frame.height()) // 2))
    grab(app, out / "44-demo-alerts.png")
    if reconciler is not None:  # the IT department sets up Dan's app password: muted for 2 h
        from mailmonitor.services.monitoring import maintenance

        maintenance.add_window(["dan@gmail-demo.example"], None, False, "2h",
                               SystemClock().now(), note="IT sets up the app password")
        window.ctx.attention_changed()
    bar = alerts.findChild(QScrollArea).verticalScrollBar()
    bar.setValue(bar.maximum())
    grab(app, out / "45-demo-alerts-end.png")
    alerts.close()

    window.tabs.setCurrentIndex(1)
    q4 = Campaign.get(Campaign.name == "Q4 outreach")
    window.campaigns_tab.select(q4.id)
    grab(app, out / "46-demo-campaign-banner.png")

    finish(window, loop, context)
    return 0


if __name__ == "__main__":
    sys.exit(main())
