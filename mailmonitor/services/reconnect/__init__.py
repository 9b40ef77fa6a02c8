"""The reconnect wizard (spec §5) without Qt: its pages and transitions (Edit Warm-up → Previous →
re-authenticate → Next → Save & Resume) and what Save & Resume applies, in one transaction. The
connection test it shares with adding a mailbox lives in ``accounts.connection_test``, the sending
settings it edits in ``sending.settings``. The Qt pages in ``mailmonitor.ui.reconnect_wizard``
only render it.

Floor: below ``desktop`` only; may import every other service package.
"""
