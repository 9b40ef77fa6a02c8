# mailmonitor — two commands on a fresh Debian 12 machine:
#   make run    set everything up and start the desktop app
#   make test   set everything up (system packages included) and run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Qt's libraries (offscreen and X11), a virtual screen, a session bus, a tray host.
QT_DEBS := libegl1 libgl1 libfontconfig1 libfreetype6 libglib2.0-0 libxkbcommon0 libdbus-1-3 \
	libx11-6 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4 libxcb-image0 \
	libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 \
	libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0
TEST_DEBS := $(QT_DEBS) xvfb xauth dbus dbus-x11 dovecot-imapd dovecot-submissiond openssl trayer \
	gnome-keyring desktop-file-utils appstream postgresql
# The bundle: strip (binutils) for PyInstaller; a real Secret Service for the frozen self-test.
BUNDLE_DEBS := $(QT_DEBS) binutils dbus dbus-bin gnome-keyring

.PHONY: run test setup setup-test system-deps system-deps-test lint typecheck bench screenshots clean \
	bundle validate-desktop icons flatpak-deps

run: setup
	$(VENV)/bin/mailmonitor

test: setup-test
	./tools/run-tests.sh

system-deps:
	@./tools/ensure-debs.sh $(QT_DEBS)

system-deps-test:
	@./tools/ensure-debs.sh $(TEST_DEBS)

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) || { ./tools/ensure-debs.sh python3-venv && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: system-deps $(STAMP)

setup-test: system-deps-test $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check mailmonitor tests benchmarks tools packaging
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; QT_QPA_PLATFORM=offscreen $(PY) $$f || exit 1; done

screenshots: setup-test
	QT_QPA_PLATFORM=offscreen $(PY) tools/screenshots.py docs/screenshots
	dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" bash -c '\
	  trayer --edge top --align right --widthtype request --height 24 & sleep 0.5; \
	  QT_QPA_PLATFORM=xcb PYTHONPATH=. $(PY) tests/xvfb/tray_scenario.py \
	    docs/screenshots/21-tray-notification.png; kill %1'
	# The demo's banner and alerts list on a 1366×768 screen (43–46).
	PYTHONPATH=. dbus-run-session -- xvfb-run -a -s "-screen 0 1366x768x24" \
	  $(PY) tools/demo_attention_shots.py docs/screenshots
	# Issue 23 on the same screen: the guide, the demo's wizard, Add mailbox at its largest,
	# Undo after a re-allocation, Pause all sending's banner (47–52).
	PYTHONPATH=. dbus-run-session -- xvfb-run -a -s "-screen 0 1366x768x24" \
	  $(PY) tools/first_day_shots.py docs/screenshots

# One-folder app in dist/mailmonitor (PyInstaller), then its --self-test against a real Secret
# Service; prints build time, size and start-up times. About a minute: not part of `make test`.
bundle: setup
	@./tools/ensure-debs.sh $(BUNDLE_DEBS)
	VENV=$(VENV) ./packaging/build.sh

# The desktop file and AppStream metadata, checked like software centres do (also run by
# `make test`: tests/unit/test_packaging_files.py).
validate-desktop:
	@./tools/ensure-debs.sh desktop-file-utils appstream
	desktop-file-validate packaging/linux/io.github.mailmonitor.MailMonitor.desktop
	appstreamcli validate --no-net packaging/linux/io.github.mailmonitor.MailMonitor.metainfo.xml

# PNG/ICO/ICNS icons (and the window's copy) from packaging/icons/*.svg; commit the results.
icons: setup
	QT_QPA_PLATFORM=offscreen $(PY) packaging/render_icons.py

# Flatpak: re-pin the Python dependencies (URLs + sha256) after changing pyproject's.
flatpak-deps: $(STAMP)
	$(PY) packaging/flatpak/gen_python_deps.py

clean:
	rm -rf $(VENV) build dist *.egg-info
