"""The main window's menu bar: File (Add mailbox, New campaign, Settings, Quit), View (the tabs,
alerts, check all, find) and Help (the guide, the demo tour, keyboard shortcuts, the log folder,
about). It reuses the
window's actions, so a shortcut, the toolbar and the menu are one and the same command."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from mailmonitor import __version__
from mailmonitor.logsetup import log_folder
from mailmonitor.ui import format as fmt
from mailmonitor.ui.guide import show_guide, url


@dataclass(frozen=True)
class WindowActions:
    """The window's own commands the menus list (the same QAction as its shortcut and toolbar)."""

    add_account: QAction
    new_campaign: QAction
    settings: QAction
    quit: QAction
    alerts: QAction
    check_all: QAction
    find: QAction


def _keys(action: QAction) -> str:
    return action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str]]:
    """(what, keys) for every window action with a shortcut, plus the dialogs' own keys."""
    rows = [(action.text().replace("&", ""), _keys(action)) for action in window.actions()
            if _keys(action)]
    rows += [("In a dialog: its primary action", "Enter"),
             ("Cancel a dialog (asks before discarding what you typed)", "Esc"),
             ("Next tab / previous tab", "Ctrl+Tab / Ctrl+Shift+Tab"),
             ("The same, from anywhere in the window", "Ctrl+PgDown / Ctrl+PgUp"),
             ("Next field / previous field", "Tab / Shift+Tab"),
             ("Press the focused button", "Space"),
             ("In a field with its own button (a DKIM selector): that button", "Enter")]
    return rows


def build_menu_bar(window: QMainWindow, actions: WindowActions) -> dict[str, QAction]:
    """Fill the window's menu bar; returns Help's actions by name (shortcuts, logs, about)."""
    bar = window.menuBar()
    bar.setObjectName("menuBar")
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions.add_account)
    file_menu.addAction(actions.new_campaign)
    file_menu.addSeparator()
    file_menu.addAction(actions.settings)
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)

    view_menu = bar.addMenu("&View")
    for action in window.actions():
        if action.text() in ("Mailboxes", "Campaigns"):
            view_menu.addAction(action)
    view_menu.addAction(actions.alerts)
    view_menu.addSeparator()
    view_menu.addAction(actions.check_all)
    view_menu.addAction(actions.find)

    help_menu = bar.addMenu("&Help")
    guide = QAction("Guide", window)
    guide.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))  # F1
    guide.triggered.connect(lambda _c=False: show_guide(window))
    window.addAction(guide)
    help_menu.addAction(guide)
    tour = QAction("The demo tour", window)
    tour.triggered.connect(lambda _c=False: show_guide(window, url("demo.html")))
    help_menu.addAction(tour)
    help_menu.addSeparator()
    shortcuts = QAction("Keyboard shortcuts", window)
    shortcuts.setShortcut(QKeySequence("Ctrl+/"))
    shortcuts.triggered.connect(lambda _c=False: show_shortcuts(window))
    window.addAction(shortcuts)
    help_menu.addAction(shortcuts)
    logs = QAction("Open log folder", window)
    logs.triggered.connect(lambda _c=False: open_log_folder(window))
    help_menu.addAction(logs)
    help_menu.addSeparator()
    about = QAction("About mailmonitor", window)
    about.triggered.connect(lambda _c=False: show_about(window))
    help_menu.addAction(about)
    return {"guide": guide, "tour": tour, "shortcuts": shortcuts, "logs": logs, "about": about}


def _message(parent: QWidget, name: str, title: str, html: str) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.NoIcon, title, "", QMessageBox.StandardButton.Close,
                      parent)
    box.setObjectName(name)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(html)
    box.setEscapeButton(QMessageBox.StandardButton.Close)
    box.setDefaultButton(QMessageBox.StandardButton.Close)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()  # never exec(): safe under qasync
    return box


def show_shortcuts(window: QMainWindow) -> QMessageBox:
    rows = "".join(f"<tr><td style='padding-right:18px'>{fmt.esc(what)}</td>"
                   f"<td><b>{fmt.esc(keys)}</b></td></tr>" for what, keys in shortcut_rows(window))
    return _message(window, "shortcutsDialog", "Keyboard shortcuts",
                    f"<h3>Keyboard shortcuts</h3><table>{rows}</table>")


def show_about(window: QMainWindow) -> QMessageBox:
    return _message(window, "aboutDialog", "About mailmonitor",
                    f"<h3>mailmonitor {fmt.esc(__version__)}</h3>"
                    "<p>Keeps your outreach mailboxes connected: notices every disconnection, "
                    "says what is wrong in plain words, holds sending from a broken mailbox "
                    "without losing a lead and walks you back.</p>"
                    "<p>Passwords and sign-ins are kept only in the system keyring.</p>")


def open_log_folder(window: QMainWindow) -> bool:
    folder = log_folder()
    if folder is None:
        window.statusBar().showMessage("Logging has not started: there is no log folder.", 8000)
        return False
    opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
    if not opened:
        window.statusBar().showMessage(f"The log folder is {folder}", 15000)
    return opened
