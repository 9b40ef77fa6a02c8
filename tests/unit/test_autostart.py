"""Start at login: the XDG autostart entry (validated with desktop-file-validate when it is
installed; `make test` installs it), and the Windows and macOS branches against stand-ins."""

from __future__ import annotations

import configparser
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailmonitor.services.desktop import autostart
from mailmonitor.services.desktop.autostart import (
    APP_ID,
    MacAutostart,
    WindowsAutostart,
    XdgAutostart,
    apply_start_at_login,
    disable_autostart,
    enable_autostart,
    exec_value,
    is_autostart_enabled,
    launcher_command,
)


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private XDG_CONFIG_HOME on Linux, outside Flatpak."""
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLATPAK_ID", raising=False)
    monkeypatch.setattr(autostart, "in_flatpak", lambda: False)
    return tmp_path / "config" / "autostart" / f"{APP_ID}.desktop"


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def exec_args(path: Path) -> list[str]:
    """Undo the desktop entry's escaping as a launcher does: the string level (`\\\\` is one
    backslash), then the Exec rules (double quotes; inside them a backslash escapes
    `"`, `` ` ``, `$` and `\\`; `%%` is a percent sign)."""
    value = read_entry(path)["Exec"].replace("\\\\", "\\")
    args: list[str] = []
    current, quoted, started, i = "", False, False, 0
    while i < len(value):
        ch = value[i]
        if quoted and ch == "\\" and i + 1 < len(value) and value[i + 1] in '"`$\\':
            current += value[i + 1]
            i += 2
            continue
        if ch == '"':
            quoted, started = not quoted, True
        elif ch == " " and not quoted:
            if started:
                args.append(current)
            current, started = "", False
        else:
            current += ch
            started = True
        i += 1
    assert not quoted, f"unbalanced quotes in {value!r}"
    if started:
        args.append(current)
    return [arg.replace("%%", "%") for arg in args]


def validate(path: Path) -> None:
    validator = shutil.which("desktop-file-validate")
    if validator is None:  # still check the structure without the validator
        entry = read_entry(path)
        assert entry["Type"] == "Application" and entry["Exec"] and entry["Name"]
        return
    result = subprocess.run([validator, str(path)], capture_output=True, text=True)
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 0 and not errors, result.stdout + result.stderr


def test_enable_writes_a_valid_entry_that_starts_this_python(xdg: Path) -> None:
    assert not is_autostart_enabled()
    where = enable_autostart()
    assert Path(where) == xdg and xdg.exists()
    validate(xdg)
    assert exec_args(xdg) == [sys.executable, "-m", "mailmonitor"]
    entry = read_entry(xdg)
    assert entry["Icon"] == APP_ID
    assert entry["X-GNOME-Autostart-enabled"] == "true"
    assert is_autostart_enabled()


def test_frozen_app_starts_its_own_executable(xdg: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/mail monitor/mailmonitor")
    enable_autostart()
    validate(xdg)
    assert exec_args(xdg) == ["/opt/mail monitor/mailmonitor"]
    assert read_entry(xdg)["Exec"] == '"/opt/mail monitor/mailmonitor"'


def test_awkward_paths_survive_quoting(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/it's $HOME/100% \"mail\"\\monitor")
    data_dir = Path("/data/rep `one`/#1")
    enable_autostart(data_dir)
    validate(xdg)
    assert exec_args(xdg) == ["/opt/it's $HOME/100% \"mail\"\\monitor", "--data-dir",
                              str(data_dir)]


def test_plain_arguments_stay_unquoted() -> None:
    assert exec_value(["/usr/bin/python3", "-m", "mailmonitor"]) == \
        "/usr/bin/python3 -m mailmonitor"


def test_disable_removes_ours_and_the_old_entry(xdg: Path) -> None:
    enable_autostart()
    legacy = xdg.parent / "mailmonitor.desktop"
    legacy.write_text("[Desktop Entry]\nType=Application\nName=x\nExec=x\n", encoding="utf-8")
    disable_autostart()
    assert not xdg.exists() and not legacy.exists()
    assert not is_autostart_enabled()
    disable_autostart()  # twice is fine


def test_enable_replaces_the_old_entry(xdg: Path) -> None:
    xdg.parent.mkdir(parents=True)
    legacy = xdg.parent / "mailmonitor.desktop"
    legacy.write_text("[Desktop Entry]\nType=Application\nName=x\nExec=x\n", encoding="utf-8")
    enable_autostart()
    assert xdg.exists() and not legacy.exists()  # never started twice at login


@pytest.mark.parametrize("switch", ["Hidden=true", "X-GNOME-Autostart-enabled=false"])
def test_turned_off_by_the_desktop_counts_as_off(xdg: Path, switch: str) -> None:
    enable_autostart()
    text = xdg.read_text(encoding="utf-8").replace("X-GNOME-Autostart-enabled=true\n", "")
    xdg.write_text(text + switch + "\n", encoding="utf-8")
    assert not is_autostart_enabled()


def test_a_broken_file_counts_as_off(xdg: Path) -> None:
    xdg.parent.mkdir(parents=True)
    xdg.write_text("not a desktop entry", encoding="utf-8")
    assert not is_autostart_enabled()


def test_apply_start_at_login(xdg: Path) -> None:
    assert apply_start_at_login(True) is True and xdg.exists()
    assert apply_start_at_login(False) is False and not xdg.exists()


def test_without_xdg_config_home_it_uses_dot_config(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(autostart, "in_flatpak", lambda: False)
    assert XdgAutostart().path == tmp_path / ".config" / "autostart" / f"{APP_ID}.desktop"


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "config"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(autostart.AutostartError, match="start at login"):
        XdgAutostart(config_home=blocker).enable(["mailmonitor"])


def test_inside_flatpak_the_host_autostart_folder_and_flatpak_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("FLATPAK_ID", APP_ID)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".var" / "app" / APP_ID / "config"))
    where = Path(enable_autostart())
    assert where == tmp_path / ".config" / "autostart" / f"{APP_ID}.desktop"
    validate(where)
    assert exec_args(where) == ["flatpak", "run", APP_ID]
    assert read_entry(where)["X-Flatpak"] == APP_ID


# --- the other platforms' branches, against stand-ins ---------------------------------------

def test_macos_launch_agent(tmp_path: Path) -> None:
    agent = MacAutostart(home=tmp_path)
    assert not agent.is_enabled()
    where = Path(agent.enable(["/Applications/mailmonitor.app/Contents/MacOS/mailmonitor"]))
    assert where == tmp_path / "Library" / "LaunchAgents" / f"{APP_ID}.plist"
    plist = plistlib.loads(where.read_bytes())
    assert plist["Label"] == APP_ID
    assert plist["ProgramArguments"] == [
        "/Applications/mailmonitor.app/Contents/MacOS/mailmonitor"]
    assert plist["RunAtLoad"] is True
    assert agent.is_enabled()
    agent.disable()
    assert not where.exists() and not agent.is_enabled()
    agent.disable()


class FakeKey:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class FakeWinreg:
    """The part of `winreg` the Windows branch uses, over a dict."""

    HKEY_CURRENT_USER = "HKCU"
    KEY_SET_VALUE = 2
    KEY_READ = 1
    REG_SZ = 1

    def __init__(self) -> None:
        self.keys: dict[str, dict[str, Any]] = {}

    def CreateKeyEx(self, root: str, path: str, reserved: int, access: int) -> FakeKey:
        return FakeKey(self.keys.setdefault(f"{root}\\{path}", {}))

    def OpenKey(self, root: str, path: str, reserved: int, access: int) -> FakeKey:
        if f"{root}\\{path}" not in self.keys:
            raise FileNotFoundError(path)
        return FakeKey(self.keys[f"{root}\\{path}"])

    def SetValueEx(self, key: FakeKey, name: str, reserved: int, kind: int, value: str) -> None:
        key.values[name] = value

    def QueryValueEx(self, key: FakeKey, name: str) -> tuple[str, int]:
        if name not in key.values:
            raise FileNotFoundError(name)
        return key.values[name], self.REG_SZ

    def DeleteValue(self, key: FakeKey, name: str) -> None:
        if name not in key.values:
            raise FileNotFoundError(name)
        del key.values[name]


def test_windows_run_key() -> None:
    reg = FakeWinreg()
    run = WindowsAutostart(winreg=reg)
    assert not run.is_enabled()
    run.disable()  # nothing there yet: fine
    run.enable([r"C:\Program Files\mailmonitor\mailmonitor.exe", "--data-dir", r"D:\rep data"])
    stored = reg.keys[r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"]["mailmonitor"]
    assert stored == r'"C:\Program Files\mailmonitor\mailmonitor.exe" --data-dir "D:\rep data"'
    assert run.is_enabled()
    run.disable()
    assert not run.is_enabled()


def test_windows_console_twin_starts_the_windowed_exe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autostart, "in_flatpak", lambda: False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/bundle/mailmonitor-cli.exe")
    assert launcher_command() == ["/bundle/mailmonitor.exe"]


def test_backend_per_platform() -> None:
    assert isinstance(autostart.backend_for("darwin"), MacAutostart)
    assert isinstance(autostart.backend_for("linux"), XdgAutostart)
    assert isinstance(autostart.backend_for("freebsd14"), XdgAutostart)
