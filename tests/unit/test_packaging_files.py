"""Desktop integration files: the validators software centres use accept them (the same checks
as `make validate-desktop`), and they agree with each other, the app and pyproject."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import mailmonitor

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "io.github.mailmonitor.MailMonitor"
LINUX = ROOT / "packaging" / "linux"
DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
ICONS = ROOT / "packaging" / "icons"
FLATPAK = ROOT / "packaging" / "flatpak"
PNG_SIZES = (16, 32, 48, 64, 128, 256)


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: install the Debian package {package} (make test does)"
    return path


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def desktop_entry() -> dict[str, str]:
    values = {}
    for line in DESKTOP.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            values[key] = value
    return values


def test_desktop_file_validates() -> None:
    result = run(tool("desktop-file-validate", "desktop-file-utils"), str(DESKTOP))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": error:" not in result.stdout and ": warning:" not in result.stdout, result.stdout


def test_metainfo_validates() -> None:
    result = run(tool("appstreamcli", "appstream"), "validate", "--no-net", str(METAINFO))
    assert result.returncode == 0, result.stdout + result.stderr


def test_installed_tree_validates(tmp_path: Path) -> None:
    """Laid out as a package installs it (what the Flatpak manifest does): appstreamcli then
    also checks that the launchable desktop file and the icons are there."""
    share = tmp_path / "usr" / "share"
    (share / "applications").mkdir(parents=True)
    (share / "metainfo").mkdir(parents=True)
    shutil.copy(DESKTOP, share / "applications")
    shutil.copy(METAINFO, share / "metainfo")
    scalable = share / "icons" / "hicolor" / "scalable" / "apps"
    scalable.mkdir(parents=True)
    shutil.copy(ICONS / f"{APP_ID}.svg", scalable)
    shutil.copytree(ICONS / "hicolor", share / "icons" / "hicolor", dirs_exist_ok=True)
    result = run(tool("appstreamcli", "appstream"), "validate-tree", "--no-net", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_desktop_file_matches_the_app() -> None:
    entry = desktop_entry()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry["Exec"] in scripts  # the pipx / pip console script
    assert entry["Icon"] == APP_ID
    assert entry["Categories"] == "Network;Email;Office;"
    assert entry["StartupWMClass"] == "mailmonitor"  # Qt's WM_CLASS: the application name
    assert entry["Name"] == "mailmonitor"


def test_metainfo_matches_the_desktop_file_and_the_version() -> None:
    root = ET.parse(METAINFO).getroot()
    assert root.findtext("id") == APP_ID == DESKTOP.stem
    assert root.findtext("launchable") == DESKTOP.name
    assert root.findtext("name") == desktop_entry()["Name"]
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "MIT"
    assert root.find("content_rating") is not None
    newest = root.find("releases/release")
    assert newest is not None and newest.get("version") == mailmonitor.__version__
    homepage = root.find("url[@type='homepage']")
    assert homepage is not None and homepage.text
    assert homepage.text.startswith("https://") and ".invalid" not in homepage.text


def test_screenshots_point_at_the_repositorys_docs() -> None:
    images = [i.text or "" for i in ET.parse(METAINFO).getroot().iter("image")]
    assert images
    for url in images:
        assert re.fullmatch(r"https://raw\.githubusercontent\.com/mailmonitor/mailmonitor/main/"
                            r"docs/screenshots/[a-z0-9-]+\.png", url), url
        shot = ROOT / "docs" / "screenshots" / url.rsplit("/", 1)[-1]
        assert shot.exists(), f"{shot} is referenced by the AppStream metadata"
        width, height = png_size(shot)
        assert width >= 620 and height >= 350  # Flathub's minimum


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_icons_in_every_size_and_the_window_copy() -> None:
    svg = ICONS / f"{APP_ID}.svg"
    ET.parse(svg)  # well-formed
    for size in PNG_SIZES:
        png = ICONS / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        assert png_size(png) == (size, size)
    assert (ROOT / "mailmonitor" / "resources" / "app-icon.svg").read_bytes() == svg.read_bytes()
    assert (ICONS / f"{APP_ID}.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (ICONS / f"{APP_ID}.icns").read_bytes()[:4] == b"icns"


FINISH_ARGS = {
    "--socket=wayland", "--socket=fallback-x11", "--share=ipc", "--share=network",
    "--talk-name=org.freedesktop.Notifications", "--talk-name=org.kde.StatusNotifierWatcher",
    "--talk-name=org.freedesktop.secrets", "--filesystem=xdg-config/autostart:create",
}


def test_flatpak_manifest_asks_only_for_what_the_app_needs() -> None:
    text = (FLATPAK / f"{APP_ID}.yml").read_text(encoding="utf-8")
    assert re.search(rf"^id: {re.escape(APP_ID)}$", text, re.M)
    assert re.search(r"^command: mailmonitor$", text, re.M)
    finish = text.split("finish-args:", 1)[1].split("\n\n", 1)[0]
    args = set(re.findall(r"^\s+- (--\S+)", finish, re.M))
    assert args == FINISH_ARGS


def test_flatpak_python_deps_cover_pyproject() -> None:
    """Adding a dependency to pyproject without regenerating python3-deps.json
    (packaging/flatpak/gen_python_deps.py) fails here."""
    module = json.loads((FLATPAK / "python3-deps.json").read_text(encoding="utf-8"))
    command = " ".join(module["build-commands"])
    pinned = {re.split(r"==", arg)[0].lower() for arg in command.split() if "==" in arg}
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower() for d in deps
              if ";" not in d} - {"pyside6-essentials"}
    assert pinned == wanted
    for source in module["sources"]:
        assert source["url"].startswith("https://files.pythonhosted.org/")
        assert re.fullmatch(r"[0-9a-f]{64}", source["sha256"])
    wheels = [s["url"].rsplit("/", 1)[-1] for s in module["sources"]]
    for name in ("cryptography", "cffi"):
        for arch in ("x86_64", "aarch64"):
            assert any(w.startswith(f"{name}-") and arch in w for w in wheels), (name, arch)


@pytest.mark.parametrize("script", ["build.sh"])
def test_packaging_scripts_are_executable(script: str) -> None:
    assert (ROOT / "packaging" / script).stat().st_mode & 0o111


def test_pyinstaller_spec_compiles_and_names_its_entry() -> None:
    spec = (ROOT / "packaging" / "mailmonitor.spec").read_text(encoding="utf-8")
    compile(spec, "mailmonitor.spec", "exec")
    assert (ROOT / "packaging" / "launcher.py").exists()
    for needed in ("keyring.backends", "secretstorage", "imapclient", "msal",
                   "google_auth_oauthlib", "peewee", "qasync", '"mailmonitor", "resources"'):
        assert needed in spec, needed
