#!/usr/bin/env bash
# How many rooms can one box watch (issue 19)? Runs, in one go, and prints one table
# (docs/benchmarks-rooms.md):
#   single: one room × ROOM_RATE msg/s with 2 clients on our server and on the original Node server
#           (seed-node), which can watch only one room
#   step:   our server with N rooms × ROOM_RATE msg/s, 2 clients per room and one all-rooms client,
#           N raised step by step until it falls behind (a client missed, doubled or reordered an
#           event, a client was closed, the event log stored less than was sent, or p99 > 1 s)
# Every event is checked per room on every client and read back from the event log.
#
#   scripts/bench-rooms.sh            # full: 100, 250, 500, 750, 1000, 1500, 2000, 3000 rooms, 10 s each
#   QUICK=1 scripts/bench-rooms.sh    # 50, 100, 200 rooms, 3 s each
# Env: STEPS="100,250", ROOM_RATE=10, OUT=dir (keeps results.jsonl), SEED=0 skips the original.
# Wrap it in flock /tmp/bench.lock on a shared machine.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
results="$out/results.jsonl"
: >"$results"
rate="${ROOM_RATE:-10}"

if [ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ]; then
  steps="${STEPS:-50,100,200}" dur=3s warm=1s
else
  steps="${STEPS:-100,250,500,750,1000,1500,2000,3000}" dur=10s warm=2s
fi

bin="$out/tiktok-live-server"
echo "building $bin" >&2
go build -o "$bin" ./cmd/tiktok-live-server

seed_dir="${SEED_NODE_DIR:-$root/../shared/peers/seed-node}"
seed="${SEED:-1}"
if [ "$seed" != 0 ]; then
  if ! command -v node >/dev/null || [ ! -x "$seed_dir/run.sh" ]; then
    echo "seed-node peer unavailable (node or $seed_dir/run.sh missing): no comparison" >&2
    seed=0
  elif [ -w "$seed_dir" ] && ! cmp -s "$seed_dir/package-lock.json" "$seed_dir/node_modules/.installed-package-lock.json"; then
    echo "installing the seed-node peer's npm packages" >&2
    (cd "$seed_dir" && npm ci --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error 1>&2 &&
      cp package-lock.json node_modules/.installed-package-lock.json)
  fi
fi

run() { # run LABEL TARGET FLAGS...: bench -rooms runs, their JSON lines appended to results
  local label=$1 target=$2
  shift 2
  if ! "$bin" bench -json -label "$label" -target "$target" -seed-dir "$seed_dir" -server-bin "$bin" \
    -room-rate "$rate" -duration "$dur" -warmup "$warm" "$@" >>"$results"; then
    echo "  $target $label $*: run failed" >&2
    return 1
  fi
  tail -n 1 "$results" | jq -r '"  \(.target) \(.rooms) rooms: p99 \(.latency.p99Ms) ms, \(.cpuPerEventUs) µs CPU/event, \(.rssPerRoomWithClientsBytes | floor) B/room" + (if .fellBehind then ", fell behind: \(.why)" else "" end)' >&2
}

echo "== one room × $rate msg/s, 2 clients" >&2
run single ours -rooms 1 || true
if [ "$seed" != 0 ]; then run single seed -rooms 1 || true; fi
echo "== ours: rooms $steps × $rate msg/s, 2 clients per room + 1 all-rooms, until it falls behind" >&2
run step ours -rooms-steps "$steps" || true

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), node $(node --version 2>/dev/null || echo none)"
"$bin" bench -rooms-table "$results"
echo "(results: $results)"
