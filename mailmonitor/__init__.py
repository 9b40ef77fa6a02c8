"""mailmonitor: keeps outreach mailboxes connected and campaigns running."""

__version__ = "0.1.0"
