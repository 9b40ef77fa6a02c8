"""Start at login (the `start_at_login` setting), per platform, without Qt.

- Linux and other XDG desktops: `$XDG_CONFIG_HOME/autostart/<APP_ID>.desktop` (XDG Autostart).
  Inside Flatpak the entry goes to the host's `~/.config/autostart` (the manifest grants
  `xdg-config/autostart:create`) and starts the app with `flatpak run`.
- Windows: the `HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run` value "mailmonitor".
- macOS: `~/Library/LaunchAgents/<APP_ID>.plist` (RunAtLoad; launchd reads it at the next login).

The command is the current launcher: the frozen executable when running from a bundle
(`sys.frozen`), else `sys.executable -m mailmonitor` (a pipx or virtualenv install).
"""

from __future__ import annotations

import configparser
import importlib
import os
import plistlib
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

APP_ID = "io.github.mailmonitor.MailMonitor"
APP_NAME = "mailmonitor"
# What an earlier version of the Settings dialog wrote; removed whenever we write or remove ours.
LEGACY_DESKTOP_NAME = "mailmonitor.desktop"
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


class AutostartError(Exception):
    """Start at login could not be changed; a message for the rep."""


def in_flatpak() -> bool:
    return bool(os.environ.get("FLATPAK_ID")) or Path("/.flatpak-info").exists()


def launcher_command(data_dir: Path | None = None) -> list[str]:
    """How to start this installation of the app, as an argument list."""
    if in_flatpak():
        command = ["flatpak", "run", APP_ID]
    elif getattr(sys, "frozen", False):
        exe = Path(sys.executable)
        # Windows bundles have a console twin for the command line; login starts the window.
        if exe.stem.lower() == "mailmonitor-cli":
            exe = exe.with_name("mailmonitor" + exe.suffix)
        command = [str(exe)]
    else:
        python = Path(sys.executable)
        if sys.platform == "win32" and python.name.lower() == "python.exe":
            windowed = python.with_name("pythonw.exe")  # no console window at login
            python = windowed if windowed.exists() else python
        command = [str(python), "-m", "mailmonitor"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return command


# --- Linux / XDG -----------------------------------------------------------------------------

_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def exec_quote(arg: str) -> str:
    """One argument of a desktop entry's Exec key (quoting rules of the Desktop Entry spec;
    the string-value escaping of backslashes is applied on top of that by `exec_value`)."""
    arg = arg.replace("%", "%%")
    if arg and not (_RESERVED & set(arg)):
        return arg
    escaped = "".join("\\" + ch if ch in '"`$\\' else ch for ch in arg)
    return f'"{escaped}"'


def exec_value(command: Sequence[str]) -> str:
    return " ".join(exec_quote(arg) for arg in command).replace("\\", "\\\\")


def desktop_entry(command: Sequence[str]) -> str:
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        f"Name={APP_NAME}",
        "Comment=Keep outreach mailboxes connected and campaigns running",
        f"Exec={exec_value(command)}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "StartupWMClass=mailmonitor",
        "X-GNOME-Autostart-enabled=true",
    ]
    if in_flatpak():
        lines.append(f"X-Flatpak={APP_ID}")
    return "\n".join(lines) + "\n"


class Backend(Protocol):
    def enable(self, command: Sequence[str]) -> str: ...
    def disable(self) -> None: ...
    def is_enabled(self) -> bool: ...


class XdgAutostart:
    def __init__(self, config_home: Path | None = None) -> None:
        self._config_home = config_home

    @property
    def folder(self) -> Path:
        if self._config_home is not None:
            return self._config_home / "autostart"
        if in_flatpak():  # XDG_CONFIG_HOME points into the sandbox; autostart is the host's
            return Path.home() / ".config" / "autostart"
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(config) / "autostart"

    @property
    def path(self) -> Path:
        return self.folder / f"{APP_ID}.desktop"

    def enable(self, command: Sequence[str]) -> str:
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(desktop_entry(command), encoding="utf-8")
            tmp.replace(path)
            (self.folder / LEGACY_DESKTOP_NAME).unlink(missing_ok=True)
        except OSError as exc:
            raise AutostartError(f"Could not turn on start at login ({path}): "
                                 f"{exc.strerror or exc}") from None
        return str(path)

    def disable(self) -> None:
        for path in (self.path, self.folder / LEGACY_DESKTOP_NAME):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise AutostartError(f"Could not turn off start at login ({path}): "
                                     f"{exc.strerror or exc}") from None

    def is_enabled(self) -> bool:
        """Our entry exists and the desktop's own switch (GNOME's "Startup Applications",
        Hidden=true) has not turned it off."""
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(self.path.read_text(encoding="utf-8"))
        except (OSError, configparser.Error):
            return False
        if not parser.has_section("Desktop Entry"):
            return False
        entry = parser["Desktop Entry"]
        return (entry.get("Hidden", "false").strip().lower() != "true"
                and entry.get("X-GNOME-Autostart-enabled", "true").strip().lower() != "false")


# --- Windows ---------------------------------------------------------------------------------

class WindowsAutostart:
    value_name = APP_NAME

    def __init__(self, winreg: Any = None) -> None:
        self.winreg = winreg or importlib.import_module("winreg")

    def enable(self, command: Sequence[str]) -> str:
        reg = self.winreg
        try:
            with reg.CreateKeyEx(reg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0,
                                 reg.KEY_SET_VALUE) as key:
                reg.SetValueEx(key, self.value_name, 0, reg.REG_SZ,
                               subprocess.list2cmdline(list(command)))
        except OSError as exc:
            raise AutostartError(f"Could not turn on start at login: {exc}") from None
        return f"HKCU\\{WINDOWS_RUN_KEY}\\{self.value_name}"

    def disable(self) -> None:
        reg = self.winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, reg.KEY_SET_VALUE) as key:
                reg.DeleteValue(key, self.value_name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise AutostartError(f"Could not turn off start at login: {exc}") from None

    def is_enabled(self) -> bool:
        reg = self.winreg
        try:
            with reg.OpenKey(reg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, reg.KEY_READ) as key:
                value, _ = reg.QueryValueEx(key, self.value_name)
        except OSError:
            return False
        return bool(value)


# --- macOS -----------------------------------------------------------------------------------

class MacAutostart:
    def __init__(self, home: Path | None = None) -> None:
        self.home = home

    @property
    def path(self) -> Path:
        return (self.home or Path.home()) / "Library" / "LaunchAgents" / f"{APP_ID}.plist"

    def enable(self, command: Sequence[str]) -> str:
        plist = {
            "Label": APP_ID,
            "ProgramArguments": list(command),
            "RunAtLoad": True,
            "ProcessType": "Interactive",
            "LimitLoadToSessionType": "Aqua",
        }
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as fh:
                plistlib.dump(plist, fh)
        except OSError as exc:
            raise AutostartError(f"Could not turn on start at login ({path}): "
                                 f"{exc.strerror or exc}") from None
        return str(path)

    def disable(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError as exc:
            raise AutostartError(f"Could not turn off start at login: {exc.strerror or exc}"
                                 ) from None

    def is_enabled(self) -> bool:
        try:
            with self.path.open("rb") as fh:
                plist = plistlib.load(fh)
        except (OSError, plistlib.InvalidFileException):
            return False
        return bool(plist.get("RunAtLoad")) and not plist.get("Disabled", False)


# --- the API ---------------------------------------------------------------------------------

def backend_for(platform: str | None = None) -> Backend:
    platform = platform or sys.platform
    if platform == "win32":
        return WindowsAutostart()
    if platform == "darwin":
        return MacAutostart()
    return XdgAutostart()


def enable_autostart(data_dir: Path | None = None) -> str:
    """Start this installation at login (with `--data-dir` when given); returns where."""
    return backend_for().enable(launcher_command(data_dir))


def disable_autostart() -> None:
    backend_for().disable()


def is_autostart_enabled() -> bool:
    return backend_for().is_enabled()


def apply_start_at_login(enabled: bool, data_dir: Path | None = None) -> bool:
    """Make the OS match the setting; True when the app now starts at login."""
    if enabled:
        enable_autostart(data_dir)
    else:
        disable_autostart()
    return is_autostart_enabled()
