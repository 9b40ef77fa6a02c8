"""Running as an installed desktop app: the background service that runs monitoring, sending and
reply polling on one asyncio loop (the window and ``run --headless`` alike), start at login per
platform, and saving the app's settings.

Floor: the top of services; may import every other service package; no Qt widgets.
"""
