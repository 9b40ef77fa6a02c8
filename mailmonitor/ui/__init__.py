"""The window: main window, Qt item models, dialogs, the reconnect wizard's pages, banners, tray.

Floor: below the entry points (``app``, ``cli``, ``demo``), above ``services``: widgets read state
and call services; they hold no business rules. May import ``services``, ``models`` and the base
modules; nothing below imports it (import-linter's ``floors`` contract).
"""
