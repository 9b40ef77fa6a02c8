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

Buttons that must never receive focus by accident carry the dynamic property ``destructive``
(styled red) or ``risky`` (not styled).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QDialog,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QWidget,
)


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
        model = widget.model()
        return model is not None and model.rowCount() > 0
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
