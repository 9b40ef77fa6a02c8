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
TEST_DEBS := $(QT_DEBS) xvfb xauth dbus dbus-x11 dovecot-imapd dovecot-submissiond openssl trayer

.PHONY: run test setup setup-test system-deps system-deps-test lint typecheck bench screenshots clean

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
	$(VENV)/bin/ruff check mailmonitor tests benchmarks tools
	$(VENV)/bin/mypy

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do echo "== $$f"; QT_QPA_PLATFORM=offscreen $(PY) $$f || exit 1; done

screenshots: setup-test
	QT_QPA_PLATFORM=offscreen $(PY) tools/screenshots.py docs/screenshots

clean:
	rm -rf $(VENV) build dist *.egg-info
