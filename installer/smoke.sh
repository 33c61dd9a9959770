#!/usr/bin/env bash
# Smoke-test a built bundle (default dist/face-kiosk) as a machine without Python
# would run it: an empty environment, a scratch HOME and data folder, and, where
# the kernel lets us (root, or user namespaces), every Python installation on this
# machine hidden behind empty folders, so nothing outside the bundle is importable.
#   kiosk-admin: version, config show, init, enroll and identify package photos
#   kiosk:       starts offscreen on an image folder, shows its window, exits cleanly
set -euo pipefail
BUNDLE=$(realpath "${1:-dist/face-kiosk}")
PHOTOS=${PHOTOS:?set PHOTOS to a folder holding yaoming.jpg and gdp.jpg}
WORK=$(mktemp -d /tmp/kiosk-smoke.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cp "$PHOTOS/yaoming.jpg" "$PHOTOS/gdp.jpg" "$WORK/"
mkdir -p "$WORK/home" "$WORK/camera"
cp "$PHOTOS/yaoming.jpg" "$WORK/camera/"

# The folders a Python could import from, hidden in a private mount namespace.
hidden=()
for dir in /usr/lib/python3* /usr/local/lib/python3* /opt/conda /root/.local/lib \
    "$(realpath "$(dirname "$0")/..")/.venv" "${VIRTUAL_ENV:-}"; do
    [ -n "$dir" ] && [ -d "$dir" ] && hidden+=("$dir")
done
mkdir -p "$WORK/empty"
isolate=()
if unshare --mount true 2>/dev/null; then
    mounts=""
    for dir in "${hidden[@]}"; do mounts+="mount --bind '$WORK/empty' '$dir' && "; done
    # One process all along (unshare and bash exec), so $! is the program's pid.
    isolate=(unshare --mount bash -c "${mounts}exec \"\$@\"" --)
else
    echo "(no mount namespace here: Python folders stay visible; the environment is empty)" >&2
fi
clean_env=(env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8)
run() { "${isolate[@]}" "${clean_env[@]}" "$@"; }

ADMIN="$BUNDLE/kiosk-admin"
DATA="$WORK/data"
step() { echo "== $*"; }

step "python is not importable from the bundle's environment"
run sh -c 'for p in python3 python; do command -v $p >/dev/null && $p -c "import numpy" 2>/dev/null && exit 1; done; exit 0' \
    || { echo "a Python with numpy is still reachable; the test would prove nothing"; exit 1; }

step "kiosk-admin version"
run "$ADMIN" version
step "kiosk-admin config show"
# Read whole, then searched: grep -q would close the pipe while it is still written.
shown=$(run KIOSK_KIOSK__NAME="Smoke test" "$ADMIN" --data-dir "$DATA" config show)
grep -q "Smoke test" <<<"$shown" || { echo "config show did not show the kiosk's name"; exit 1; }
step "kiosk-admin init"
run KIOSK_PASSWORD=tall-ladder-orange-77 "$ADMIN" --data-dir "$DATA" init --admin alice
step "kiosk-admin enroll"
run KIOSK_PASSWORD=tall-ladder-orange-77 "$ADMIN" --data-dir "$DATA" enroll --operator alice \
    --name "Yao Ming" --image "$WORK/yaoming.jpg" --consent
step "kiosk-admin identify (the enrolled person)"
found=$(run KIOSK_PASSWORD=tall-ladder-orange-77 "$ADMIN" --json --data-dir "$DATA" identify \
    --operator alice --image "$WORK/yaoming.jpg")
echo "$found"
echo "$found" | grep -q '"Yao Ming"' || { echo "the enrolled person was not identified"; exit 1; }
step "kiosk-admin identify (a stranger)"
stranger=$(run KIOSK_PASSWORD=tall-ladder-orange-77 "$ADMIN" --json --data-dir "$DATA" identify \
    --operator alice --image "$WORK/gdp.jpg")
echo "$stranger"
if echo "$stranger" | grep -q '"Yao Ming"'; then echo "a stranger matched"; exit 1; fi
step "kiosk-admin health"
run "$ADMIN" --data-dir "$DATA" health --camera "$WORK/camera"

step "kiosk: starts offscreen, greets the enrolled person, exits cleanly on SIGTERM"
log="$WORK/kiosk.log"
# Not through run(): a backgrounded function is a subshell, and $! must be the kiosk.
"${isolate[@]}" "${clean_env[@]}" QT_QPA_PLATFORM=offscreen "$BUNDLE/kiosk" --data-dir "$DATA" \
    --windowed --verbose --camera "$WORK/camera" >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 90); do
    grep -q "door decision: granted" "$log" && break
    sleep 1
done
if ! grep -q "door decision: granted" "$log"; then
    cat "$log"; kill "$pid"; echo "the kiosk never granted the enrolled person"; exit 1
fi
grep -q '"event_id"' "$DATA/logs/kiosk.log.jsonl" || { echo "no decision in the JSON log"; exit 1; }
kill -TERM "$pid"
wait "$pid" && code=0 || code=$?
cat "$log"
[ "$code" -eq 0 ] || { echo "the kiosk exited with $code"; exit 1; }
echo "smoke test passed: $BUNDLE"
