#!/usr/bin/env bash
# Build the one-folder bundle dist/mailmonitor/ (PyInstaller, packaging/mailmonitor.spec), then
# prove it runs: its libraries resolve, `--version`, and `--self-test` offscreen on a throwaway
# data folder against a real Secret Service (gnome-keyring in a private D-Bus session).
# Prints the build time, the bundle size and the frozen app's start-up times.
#
#   packaging/build.sh            # VENV=.venv by default (make bundle); VENV=/path to choose
#   SKIP_BUILD=1 packaging/build.sh   # only test an existing dist/mailmonitor
#
# Exit status: 0 when every self-test line is ok. Where no Secret Service can be started
# (gnome-keyring or dbus-run-session missing and not root), the keyring line alone may fail;
# this is printed in capitals and the build still counts as good, every other failure does not.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
DIST="$ROOT/dist"
APP="$DIST/mailmonitor"
EXE="$APP/mailmonitor"

[ -x "$PY" ] || { echo "no virtualenv at $VENV (run: make setup, or set VENV=…)" >&2; exit 1; }

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

if [ -z "${SKIP_BUILD:-}" ]; then
  if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    echo "== installing PyInstaller into $VENV"
    "$PY" -m pip install -q "pyinstaller>=6.10"
  fi
  echo "== building $APP"
  start=$(now)
  "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$ROOT/build/pyinstaller" packaging/mailmonitor.spec
  BUILD_TIME=$(elapsed "$start" "$(now)")
else
  BUILD_TIME="(skipped)"
fi
[ -x "$EXE" ] || { echo "no frozen app at $EXE" >&2; exit 1; }

echo "== shared libraries"
# Every Qt plugin and extension module in the bundle must find its libraries (we drop unused Qt
# parts in the spec; this catches dropping one that is still needed).
missing=$(find "$APP" -name '*.so*' -type f -print0 |
  LD_LIBRARY_PATH="$APP/_internal" xargs -0 -n 20 ldd 2>/dev/null |
  grep 'not found' | sort -u || true)
if [ -n "$missing" ]; then
  echo "$missing"; echo "FAILED: libraries missing in the bundle" >&2; exit 1
fi
echo "all resolve"

SIZE_MB=$(du -sm "$APP" | cut -f1)
FILES=$(find "$APP" -type f | wc -l)

echo "== $EXE --version"
start=$(now)
VERSION=$("$EXE" --version)
VERSION_TIME=$(elapsed "$start" "$(now)")
echo "$VERSION"

# The self-test, inside a private session bus with an unlocked gnome-keyring when possible.
WORK=$(mktemp -d /tmp/mailmonitor-bundle.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/home" "$WORK/data"
chmod 700 "$WORK/home"
cat > "$WORK/selftest.sh" <<'EOF'
#!/usr/bin/env bash
# Runs inside dbus-run-session: start gnome-keyring (secrets only) unlocked with a throwaway
# password, wait until it owns org.freedesktop.secrets, run the frozen self-test, stop it.
set -uo pipefail
keyring_pid=""
if [ "${WITH_KEYRING:-}" = 1 ]; then
  printf 'throwaway' | gnome-keyring-daemon --foreground --unlock --components=secrets \
    > "$WORK/keyring.env" 2> "$WORK/keyring.log" &
  keyring_pid=$!
  for _ in $(seq 100); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
      grep -q 'boolean true' && break
    sleep 0.05
  done
fi
start=$(date +%s.%N)
"$EXE" --self-test --data-dir "$WORK/data" > "$WORK/selftest.out" 2>&1
echo $? > "$WORK/selftest.rc"
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }' > "$WORK/selftest.time"
# The same, with its output piped into a reader that quits at once: must end, quietly.
timeout 20 "$EXE" --self-test --data-dir "$WORK/data" 2>"$WORK/pipe.err" | head -c0
echo "${PIPESTATUS[0]}" > "$WORK/pipe.rc"
[ -n "$keyring_pid" ] && kill "$keyring_pid" 2>/dev/null && wait "$keyring_pid" 2>/dev/null
exit 0
EOF
chmod +x "$WORK/selftest.sh"

have_keyring() { command -v gnome-keyring-daemon >/dev/null && command -v dbus-run-session >/dev/null; }
if ! have_keyring && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  ./tools/ensure-debs.sh gnome-keyring dbus dbus-bin || true
fi
WITH_KEYRING=0
have_keyring && WITH_KEYRING=1

echo "== $EXE --self-test (offscreen, throwaway data folder$( [ $WITH_KEYRING = 1 ] &&
  echo ", gnome-keyring Secret Service"))"
# A clean environment: the keyring must be the one the product finds by itself.
run_env=(env -u PYTHON_KEYRING_BACKEND -u DISPLAY -u WAYLAND_DISPLAY -u DBUS_SESSION_BUS_ADDRESS
         HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share"
         XDG_CONFIG_HOME="$WORK/home/.config" XDG_CACHE_HOME="$WORK/home/.cache"
         XDG_RUNTIME_DIR="$WORK/home/run" QT_QPA_PLATFORM=offscreen
         WORK="$WORK" EXE="$EXE" WITH_KEYRING="$WITH_KEYRING")
mkdir -p -m 700 "$WORK/home/run"
if command -v dbus-run-session >/dev/null; then
  "${run_env[@]}" dbus-run-session -- "$WORK/selftest.sh" 2>"$WORK/dbus.log"
else
  "${run_env[@]}" "$WORK/selftest.sh"
fi
cat "$WORK/selftest.out"
SELFTEST_RC=$(cat "$WORK/selftest.rc")
SELFTEST_TIME=$(cat "$WORK/selftest.time")
PIPE_RC=$(cat "$WORK/pipe.rc")

status=0
failed_lines=$(grep -v '^ok ' "$WORK/selftest.out" || true)
if [ "$SELFTEST_RC" != 0 ]; then
  if [ "$WITH_KEYRING" = 0 ] && [ "$(echo "$failed_lines" | grep -c .)" = 1 ] &&
     echo "$failed_lines" | grep -q '^FAIL keyring:'; then
    echo "NOTE: ONLY THE KEYRING CHECK FAILED: no Secret Service could be started here"
    echo "      (install gnome-keyring and dbus to test it); accepted for this build."
  else
    echo "FAILED: the frozen self-test failed" >&2
    status=1
  fi
elif ! grep -q '^ok   keyring: keyring backend keyring.backends.SecretService' \
     "$WORK/selftest.out" && [ "$WITH_KEYRING" = 1 ]; then
  echo "FAILED: the frozen app did not find the Secret Service keyring" >&2
  status=1
fi
if [ "$PIPE_RC" != 0 ] || [ -s "$WORK/pipe.err" ]; then
  echo "FAILED: --self-test piped into a closed reader: exit $PIPE_RC" >&2
  cat "$WORK/pipe.err" >&2
  status=1
fi

echo "== figures"
printf '%-28s %s\n' "build time (s)" "$BUILD_TIME" "bundle" "$APP" \
  "bundle size (MB)" "$SIZE_MB ($FILES files)" \
  "--version wall time (s)" "$VERSION_TIME" "--self-test wall time (s)" "$SELFTEST_TIME" \
  "self-test exit" "$SELFTEST_RC" "piped into closed reader" "exit $PIPE_RC"
exit $status
