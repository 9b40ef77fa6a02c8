"""Render the app icon (packaging/icons/<APP_ID>.svg) into everything the packages need.

    python packaging/render_icons.py          # write the files (commit them)
    python packaging/render_icons.py --check  # exit 1 when a rendered file is out of date

Writes, next to the SVG:
  hicolor/<N>x<N>/apps/<APP_ID>.png  for N in 16 32 48 64 128 256 (freedesktop icon theme layout)
  <APP_ID>.ico   Windows (PNG-compressed entries 16…256; PyInstaller's `icon=`)
  <APP_ID>.icns  macOS (PNG entries 16…1024; the .app bundle's icon)
and copies the SVG to mailmonitor/resources/app-icon.svg (the window icon).

Only PySide6 (QSvgRenderer) is needed; runs offscreen.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

APP_ID = "io.github.mailmonitor.MailMonitor"
ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "packaging" / "icons"
SVG = ICONS / f"{APP_ID}.svg"
PNG_SIZES = (16, 32, 48, 64, 128, 256)
ICO_SIZES = (16, 32, 48, 64, 128, 256)
# icns entry types that hold PNG data, by pixel size (the @2x types reuse the larger renders).
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256),
    (b"ic14", 512),
)
RESOURCE_COPY = ROOT / "mailmonitor" / "resources" / "app-icon.svg"


def render_png(renderer: QSvgRenderer, size: int) -> bytes:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{size}.png"  # a path: the one save() signature every PySide6 has
        if not image.save(str(path)):
            raise RuntimeError(f"could not encode the {size} px PNG")
        return path.read_bytes()


def build_ico(pngs: dict[int, bytes]) -> bytes:
    """An ICO file whose entries are PNG streams (Windows Vista and later)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        data = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return header + entries + blobs


def build_icns(pngs: dict[int, bytes]) -> bytes:
    body = b""
    for kind, size in ICNS_TYPES:
        data = pngs[size]
        body += kind + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def outputs() -> dict[Path, bytes]:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"{SVG} is not a valid SVG")
    sizes = sorted(set(PNG_SIZES) | set(ICO_SIZES) | {size for _, size in ICNS_TYPES})
    pngs = {size: render_png(renderer, size) for size in sizes}
    files: dict[Path, bytes] = {
        ICONS / "hicolor" / f"{n}x{n}" / "apps" / f"{APP_ID}.png": pngs[n] for n in PNG_SIZES
    }
    files[ICONS / f"{APP_ID}.ico"] = build_ico({n: pngs[n] for n in ICO_SIZES})
    files[ICONS / f"{APP_ID}.icns"] = build_icns(pngs)
    files[RESOURCE_COPY] = SVG.read_bytes()
    del app
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args()
    stale = []
    for path, data in outputs().items():
        current = path.read_bytes() if path.exists() else None
        if current == data:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    for path in stale:
        print(("out of date: " if args.check else "wrote ") + str(path.relative_to(ROOT)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
