"""Regenerate python3-deps.json: the Flatpak module with mailmonitor's Python dependencies.

    python packaging/flatpak/gen_python_deps.py

What it does (what flatpak-pip-generator does, without needing it):
- takes the runtime dependencies from pyproject.toml, pinned to the versions installed in the
  Python that runs this script (the versions the tests ran against), minus PySide6, which the
  io.qt.PySide.BaseApp base provides;
- asks pip (one `pip install --dry-run --report` per architecture, wheels only, for the
  runtime's Python) which files to fetch, and writes their URLs and sha256 sums; wheels built
  for one architecture get `only-arches`.
Needs network access to the package index; the Flatpak build itself then runs offline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUTPUT = HERE / "python3-deps.json"
BUILD_WHEELS = HERE / "build-wheels.json"  # what pip's isolated build of mailmonitor needs
# org.kde.Platform 6.9 is built on freedesktop-sdk 24.08: Python 3.12.
RUNTIME_PYTHON = "3.12"
ARCHES = {
    "x86_64": ["manylinux_2_28_x86_64", "manylinux2014_x86_64"],
    "aarch64": ["manylinux_2_28_aarch64", "manylinux2014_aarch64"],
}
PROVIDED_BY_BASE = {"pyside6", "pyside6-essentials", "shiboken6"}


def pinned_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = []
    for requirement in project["dependencies"]:
        if ";" in requirement:  # platform-specific (e.g. tzdata on Windows): not for Flatpak
            continue
        name = re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0]
        if name.lower() in PROVIDED_BY_BASE:
            continue
        pins.append(f"{name}=={metadata.version(name)}")
    return pins


def resolve(requirements: list[str], platforms: list[str]) -> list[dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet",
                   "--ignore-installed", "--isolated", "--only-binary=:all:",
                   "--python-version", RUNTIME_PYTHON, "--implementation", "cp",
                   "--target", str(Path(tmp) / "target"), "--report", str(report)]
        for platform in platforms:
            command += ["--platform", platform]
        subprocess.run(command + requirements, check=True)
        data = json.loads(report.read_text(encoding="utf-8"))
    files = []
    for item in data["install"]:
        info = item["download_info"]
        files.append({"name": item["metadata"]["name"], "url": info["url"],
                      "sha256": info["archive_info"]["hashes"]["sha256"]})
    return files


def main() -> int:
    requirements = pinned_requirements()
    sources: dict[str, dict[str, object]] = {}
    for arch, platforms in ARCHES.items():
        for item in resolve(requirements, platforms):
            filename = item["url"].rsplit("/", 1)[-1]
            source: dict[str, object] = {"type": "file", "url": item["url"],
                                         "sha256": item["sha256"]}
            if not filename.endswith("-none-any.whl"):
                source["only-arches"] = [arch]
            sources.setdefault(filename, source)
    module = {
        "name": "python3-deps",
        "buildsystem": "simple",
        "build-commands": [
            "pip3 install --verbose --exists-action=i --no-index --find-links=\"file://${PWD}\" "
            "--prefix=${FLATPAK_DEST} --no-build-isolation " + " ".join(requirements)
        ],
        "sources": [sources[name] for name in sorted(sources, key=str.lower)],
    }
    OUTPUT.write_text(json.dumps(module, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(sources)} files for {', '.join(requirements)}")

    build_requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "build-system"]["requires"]
    build = [{"type": "file", "url": item["url"], "sha256": item["sha256"],
              "dest": "build-wheels"}
             for item in resolve(list(build_requires), ARCHES["x86_64"])]
    BUILD_WHEELS.write_text(json.dumps(build, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {BUILD_WHEELS.relative_to(ROOT)}: {', '.join(build_requires)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
