# Sourced by .ci/check-* scripts: runs `vtenrich demo` (built-in VirusTotal simulator, no key)
# on a free loopback port. Port 0 lets the OS pick the port and the demo's banner says which,
# so there is no window in which another process can take it.
#
#   demo_start LOG [NAME=VALUE...]   start with extra settings; sets DEMO_BASE and DEMO_PID
#   demo_stop                        SIGTERM, then SIGKILL after 5 s; safe to call twice
#
# Callers stop it from an EXIT trap, so a failing check never leaves a server behind.

DEMO_PID=""
DEMO_BASE=""

demo_start() {
  local log="$1"
  shift
  env VTENRICH_LOG=warn VTENRICH_DRAIN_DELAY=0s "$@" \
    target/debug/vtenrich demo --listen 127.0.0.1:0 --sim-latency 0ms >"$log" 2>&1 &
  DEMO_PID=$!
  local _
  for _ in $(seq 1 100); do
    DEMO_BASE="$(grep -o -m1 'serving on http://127\.0\.0\.1:[0-9]*' "$log" | sed 's/^serving on //' || true)"
    [ -n "$DEMO_BASE" ] && break
    if ! kill -0 "$DEMO_PID" 2>/dev/null; then
      echo "the demo exited before serving:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  if [ -z "$DEMO_BASE" ]; then
    echo "the demo did not print its address within 10 s" >&2
    return 1
  fi
  for _ in $(seq 1 50); do
    if curl --silent --fail --max-time 2 -o /dev/null "$DEMO_BASE/readyz"; then
      return 0
    fi
    sleep 0.1
  done
  echo "the demo at $DEMO_BASE did not become ready within 5 s" >&2
  return 1
}

demo_stop() {
  if [ -n "$DEMO_PID" ] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill "$DEMO_PID" 2>/dev/null || true
    local _
    for _ in $(seq 1 50); do
      kill -0 "$DEMO_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
  fi
  DEMO_PID=""
}
