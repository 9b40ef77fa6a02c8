"""The same keyboard rules in every dialog.

- **Enter is the dialog's primary action** (its default button, the one shown as primary), wherever
  the focus is: no button is "auto-default", so Enter never presses whichever button happens to
  have the focus (Space still does). A multi-page dialog has one default button per page; Qt
  presses the first *visible* one.
- **Esc cancels** (QDialog's own behaviour; dialogs route it to what Cancel does).
- **Tab moves on**: tables and lists take Tab to the next control instead of the next cell.
- **Focus never starts on a destructive button**: it starts on the first field to fill in, else on
  the primary button; after an action hides or disables the focused button, focus goes back
  there instead of sliding onto the next button (say, from Disconnect onto Remove…).
- **A field with an action of its own consumes its Enter** (`own_enter`): Enter in the DKIM
  selector checks DNS; it never also presses the dialog's default button.
- **Focus returns to the window that opened a dialog** (`Dialog`): the account detail that
  opened the wizard gets the focus back when the wizard closes, so its Esc works at once.
- **Cancel (Esc) asks before throwing typed work away** (`Dialog`): a filled form is only
  discarded after "Discard"; an untouched one closes at once.
- **Ctrl+Tab / Ctrl+PgDown (and back with Shift / PgUp) move between tabs** wherever there are
  tabs (`tab_keys`), whichever control of the window has the focus.

Buttons that must never receive focus by accident carry the dynamic property ``destructive``
(styled red) or ``risky`` (not styled).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from mailmonitor.ui.widgets import ask


def is_destructive(widget: QWidget | None) -> bool:
    return widget is not None and bool(widget.property("destructive")
                                       or widget.property("risky"))


def untrap_tab(root: QWidget) -> None:
    """Tab leaves tables and lists (arrow keys still move between cells)."""
    views = root.findChildren(QAbstractItemView)
    if isinstance(root, QAbstractItemView):
        views.append(root)
    for view in views:
        view.setTabKeyNavigation(False)


def no_auto_default(dialog: QWidget) -> None:
    for button in dialog.findChildren(QPushButton):
        button.setAutoDefault(False)


def default_button(dialog: QWidget) -> QPushButton | None:
    """The button Enter presses now: the first visible default button."""
    for button in dialog.findChildren(QPushButton):
        if button.isDefault() and button.isVisibleTo(dialog):
            return button
    return None


def _focusable(widget: QWidget, dialog: QWidget) -> bool:
    return (widget.isVisibleTo(dialog) and widget.isEnabled()
            and bool(widget.focusPolicy() & Qt.FocusPolicy.TabFocus))


def _is_field(widget: QWidget) -> bool:
    if isinstance(widget, QLineEdit):
        return not widget.isReadOnly()
    if isinstance(widget, (QPlainTextEdit, QTextEdit)):
        return not widget.isReadOnly()
    if isinstance(widget, QAbstractItemView):
        # A list to choose from is a field; a read-only preview (no selection) is not.
        model = widget.model()
        return (model is not None and model.rowCount() > 0
                and widget.selectionMode() != QAbstractItemView.SelectionMode.NoSelection)
    return isinstance(widget, (QAbstractSpinBox, QComboBox))


def focus_chain(dialog: QWidget) -> list[QWidget]:
    """The dialog's widgets in Tab order."""
    chain: list[QWidget] = []
    widget = dialog.nextInFocusChain()
    while widget is not None and widget is not dialog and len(chain) < 500:
        if dialog.isAncestorOf(widget):
            chain.append(widget)
        widget = widget.nextInFocusChain()
    return chain


def start_focus(dialog: QWidget) -> QWidget | None:
    """Put the focus where a rep starts: the first field to fill in, else the primary button,
    else the first control that is not destructive."""
    chain = [w for w in focus_chain(dialog) if _focusable(w, dialog)]
    target = next((w for w in chain if _is_field(w)), None)
    if target is None:
        primary = default_button(dialog)
        target = primary if primary is not None and primary.isEnabled() else None
    if target is None:
        target = next((w for w in chain if not is_destructive(w)
                       and not (isinstance(w, QAbstractButton) and w.text() in ("Cancel",
                                                                                "Close"))),
                      None)
    if target is not None:
        target.setFocus(Qt.FocusReason.OtherFocusReason)
    return target


def keep_focus_safe(dialog: QWidget) -> None:
    """After an action: if the focus sits on a destructive button or a control that just went
    away, start again from the top."""
    focused = dialog.focusWidget()
    if (focused is None or is_destructive(focused) or not _focusable(focused, dialog)):
        start_focus(dialog)


class _Policy(QObject):
    """Applies the rules each time the dialog is shown (buttons added since are covered)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Show and isinstance(watched, QDialog):
            apply(watched)
        return False


def apply(dialog: QDialog, focus: bool = True) -> None:
    no_auto_default(dialog)
    untrap_tab(dialog)
    if focus:
        keep_focus_safe(dialog)


def install(dialog: QDialog) -> None:
    """Call at the end of a dialog's constructor."""
    policy = _Policy(dialog)
    dialog.installEventFilter(policy)
    apply(dialog, focus=False)
    tab_keys(dialog)


# --- a field's own Enter ---------------------------------------------------------------------

class _OwnEnter(QObject):
    def __init__(self, field: QWidget, action: Callable[[], Any]) -> None:
        super().__init__(field)
        self.action = action

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (event.type() in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride)
                and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            event.accept()
            if event.type() == QEvent.Type.KeyPress:
                self.action()
            return True
        return False


def own_enter(field: QWidget, action: Callable[[], Any]) -> None:
    """Enter in `field` runs `action` and stops there: the dialog's default button is not
    pressed too (a QLineEdit lets its Enter travel on to the dialog after returnPressed)."""
    field.installEventFilter(_OwnEnter(field, action))
    field.setProperty("ownAction", True)  # not a form field: Esc throws nothing away


# --- tabs by keyboard ------------------------------------------------------------------------

TAB_FORWARD = ("Ctrl+Tab", "Ctrl+PgDown")
TAB_BACK = ("Ctrl+Shift+Tab", "Ctrl+Backtab", "Ctrl+PgUp")


def _step_tab(tabs: QTabWidget, delta: int) -> None:
    count = tabs.count()
    if count < 2:
        return
    index = tabs.currentIndex()
    for _ in range(count):  # skip disabled tabs
        index = (index + delta) % count
        if tabs.isTabEnabled(index):
            tabs.setCurrentIndex(index)
            return


def tab_keys(window: QWidget, tabs: QTabWidget | None = None) -> list[QShortcut]:
    """Ctrl+Tab / Ctrl+PgDown to the next tab, Ctrl+Shift+Tab / Ctrl+PgUp to the previous one,
    from anywhere in `window` (not only from the tab bar). Without `tabs`: the window's
    outermost tab widget, if it has one."""
    if tabs is None:
        outer = [t for t in window.findChildren(QTabWidget)
                 if not any(isinstance(p, QTabWidget) for p in _ancestors(t, window))]
        if not outer:
            return []
        tabs = outer[0]
    shortcuts = []
    for keys, delta in [(k, 1) for k in TAB_FORWARD] + [(k, -1) for k in TAB_BACK]:
        shortcut = QShortcut(QKeySequence(keys), window)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(lambda t=tabs, d=delta: _step_tab(t, d))
        shortcuts.append(shortcut)
    return shortcuts


def _ancestors(widget: QWidget, stop: QWidget) -> list[QWidget]:
    found = []
    parent = widget.parentWidget()
    while parent is not None and parent is not stop:
        found.append(parent)
        parent = parent.parentWidget()
    return found


# --- typed work and where the focus goes back -----------------------------------------------

def form_state(root: QWidget) -> dict[int, object]:
    """What the rep typed or chose in `root`'s fields, comparable between two moments (by
    widget: the order Qt lists children in may change as pages are laid out)."""
    values: dict[int, object] = {}
    for widget in root.findChildren(QWidget):
        if widget.property("ownAction") or widget.window() is not root.window():
            continue  # an own-action field, or a field of another window (a child dialog)
        value: object
        if isinstance(widget, QLineEdit) and not widget.isReadOnly():
            if isinstance(widget.parentWidget(), (QAbstractSpinBox, QComboBox)):
                continue  # read through its spin box or combo box
            value = widget.text()
        elif isinstance(widget, (QPlainTextEdit, QTextEdit)) and not widget.isReadOnly():
            value = widget.toPlainText()
        elif isinstance(widget, QAbstractSpinBox):
            value = widget.text()
        elif isinstance(widget, QComboBox):
            value = (widget.currentIndex(), widget.currentText())
        elif isinstance(widget, (QCheckBox, QRadioButton)):
            value = widget.isChecked()
        elif isinstance(widget, QListWidget):
            value = tuple(widget.item(i).checkState().value for i in range(widget.count()))
        else:
            continue
        values[shiboken6.getCppPointer(widget)[0]] = value
    return values


class Dialog(QDialog):
    """A dialog that keeps the keyboard rules a rep relies on across windows:

    - when it closes, the window that was active when it opened gets the focus back (the
      account detail that opened the wizard, not the main window behind both);
    - Cancel, Esc and the close button ask before discarding typed work (`work_state`: the
      fields' values, plus `extra_state()` for work kept outside widgets, such as steps)."""

    DISCARD_TITLE = "Discard your changes?"
    DISCARD_TEXT = "What you typed in this window is not saved yet."

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.opener: QWidget | None = None
        self.discard_box: QMessageBox | None = None
        self._clean: tuple[dict[int, object], object] | None = None
        self.finished.connect(lambda _r: self._give_focus_back())

    # what counts as typed work
    def extra_state(self) -> object:
        return None

    def work_state(self) -> tuple[dict[int, object], object]:
        return form_state(self), self.extra_state()

    def mark_clean(self) -> None:
        """Now is the state to compare with (after opening; after saving in place)."""
        self._clean = self.work_state()

    def has_typed_work(self) -> bool:
        return self._clean is not None and self.work_state() != self._clean

    def showEvent(self, event: QShowEvent) -> None:
        _SHOWN[0] += 1
        active = QApplication.activeWindow()
        parent = self.parentWidget()
        if active is not None and active is not self:
            self.opener = active
        elif self.opener is None and parent is not None:
            self.opener = parent.window()
        if self._clean is None:
            self.mark_clean()
        super().showEvent(event)

    def reject(self) -> None:
        if showing_box(self.discard_box):
            return
        if self.has_typed_work():
            self._ask_discard()
            return
        super().reject()

    def discard(self) -> None:
        """Close without asking (the rep said Discard)."""
        self._clean = None
        super().reject()

    def _ask_discard(self) -> None:
        self.discard_box = ask(self, self.DISCARD_TITLE, self.DISCARD_TEXT, "Discard",
                               self.discard, cancel_text="Keep editing", name="discardQuestion")

    def _give_focus_back(self) -> None:
        opener = self.opener
        if opener is None or opener is self or not shiboken6.isValid(opener):
            return
        shown = _SHOWN[0]
        # After Qt has moved the activation on by itself (to the dialog's parent window); the
        # opener is the timer's context: nothing runs if it is gone by then.
        QTimer.singleShot(0, opener, lambda: _activate(opener, shown))


_SHOWN = [0]  # dialogs shown so far: one opened since a dialog closed keeps the focus


def _activate(window: QWidget, shown: int) -> None:
    """Activate `window` unless the rep has moved on meanwhile (another dialog opened)."""
    if window.isVisible() and _SHOWN[0] == shown:
        window.raise_()
        window.activateWindow()


def showing_box(box: QWidget | None) -> bool:
    return box is not None and shiboken6.isValid(box) and box.isVisible()
