"""What the screenshot scripts share: a 1366×768 screen with a 40 px taskbar, the demo's data
seeded against its servers (real checks), and a clean end."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

import keyring
from PySide6.QtWidgets import QApplication, QStyleFactory

SCREEN = (1366, 768)
USABLE_HEIGHT = 728  # a 40 px taskbar at the bottom


def demo_session(prefix: str) -> tuple[QApplication, Any]:
    """The application (Fusion style, an in-memory keyring) and `mailmonitor demo`'s data in a
    fresh folder: its context (hints, close())."""
    from mailmonitor.demo import seed_demo
    from mailmonitor.demo_servers import DemoServers
    from mailmonitor.memory_keyring import MemoryKeyring

    keyring.set_keyring(MemoryKeyring())
    app = QApplication(sys.argv[:1])
    app.setStyle(QStyleFactory.create("Fusion"))
    servers = DemoServers().start()
    return app, seed_demo(Path(tempfile.mkdtemp(prefix=prefix)), servers)


def finish(window: Any, loop: asyncio.AbstractEventLoop, context: Any) -> None:
    window.hide()
    window.ctx.bridge.close()
    loop.run_until_complete(window.ctx.cancel_all())
    context.close()
