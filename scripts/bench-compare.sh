#!/usr/bin/env bash
# Compare our server, the original Node server (seed-node) and the featureless Go broadcaster (raw)
# through the same scenarios in one run, and print one table with ratios (docs/benchmarks.md):
#   (a) max sustained deliveries/s, one room, CLIENTS clients: the rate is raised step by step until
#       a server falls behind (misses events, p99 > 1 s, < 95 % delivered, or clients closed)
#   (b) p99 latency (and to the first client) at CLIENTS clients × 100 ev/s
#   (b') the same at CLIENTS clients × 400 ev/s
#   (c) RSS per idle client: (RSS with IDLE clients − RSS with none) / IDLE
#   (d) CPU seconds per 100k deliveries, from (b)
# then the decode comparison (Go vs tiktok-live-connector on the same frames).
#
#   scripts/bench-compare.sh              # full: 1,000 clients, 10,000 idle (several minutes)
#   QUICK=1 scripts/bench-compare.sh      # smaller numbers, under 2 minutes
# Env: TARGETS="ours seed raw", OUT=dir (keeps results.jsonl), DECODE=0 skips the decode comparison,
# FRAME_EVENTS=1 sends every event in a push frame of its own (bench -frame-events) in every run.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"
results="$out/results.jsonl"
: >"$results"

if [ -n "${QUICK:-}" ] && [ "${QUICK}" != 0 ]; then
  clients=200 idle=1000 steps="100 300 1000 3000" step_dur=2s step_warm=500ms p99_dur=3s p99_warm=500ms
else
  clients=1000 idle=10000 steps="100 200 300 500 700 1000 1500 2000 3000 5000" step_dur=5s step_warm=1s p99_dur=10s p99_warm=2s
fi
targets="${TARGETS:-ours seed raw}"

bin="$out/tiktok-live-server"
echo "building $bin" >&2
go build -o "$bin" ./cmd/tiktok-live-server

seed_dir="${SEED_NODE_DIR:-$root/../shared/peers/seed-node}"
if [[ " $targets " == *" seed "* ]]; then
  if ! command -v node >/dev/null || [ ! -x "$seed_dir/run.sh" ]; then
    echo "seed-node peer unavailable (node or $seed_dir/run.sh missing): skipping the seed column" >&2
    targets="${targets//seed/}"
  elif [ -w "$seed_dir" ] && ! cmp -s "$seed_dir/package-lock.json" "$seed_dir/node_modules/.installed-package-lock.json"; then
    # Install the pinned deps as run.sh would (npm ci), so the install is not inside a measurement.
    echo "installing the seed-node peer's npm packages" >&2
    (cd "$seed_dir" && npm ci --omit=dev --no-audit --no-fund --prefer-offline --loglevel=error 1>&2 &&
      cp package-lock.json node_modules/.installed-package-lock.json)
  fi
fi

run() { # run LABEL TARGET FLAGS...: one bench run, its JSON appended to results
  local label=$1 target=$2
  shift 2
  local line
  if ! line="$("$bin" bench -json -label "$label" -target "$target" -seed-dir "$seed_dir" -server-bin "$bin" \
    -frame-events "${FRAME_EVENTS:-0}" "$@")"; then
    echo "  $target $label $*: run failed" >&2
    return 1
  fi
  echo "$line" >>"$results"
  echo "$line"
}

for t in $targets; do
  echo "== $t: (a) max sustained rate, $clients clients" >&2
  for r in $steps; do
    line="$(run step "$t" -clients "$clients" -rate "$r" -duration "$step_dur" -warmup "$step_warm" -drain 5s)" || break
    echo "  $r ev/s: $(jq -r '"\(.deliveriesPerSec) deliveries/s, p99 \(.latency.p99Ms) ms" + (if .fellBehind then ", fell behind: \(.why)" else "" end)' <<<"$line")" >&2
    if [ "$(jq -r .fellBehind <<<"$line")" = true ]; then break; fi
  done
  echo "== $t: (b) latency, $clients clients × 100 ev/s" >&2
  line="$(run p99 "$t" -clients "$clients" -rate 100 -duration "$p99_dur" -warmup "$p99_warm")" &&
    echo "  p99 $(jq -r .latency.p99Ms <<<"$line") ms, first client p99 $(jq -r .firstClientLatency.p99Ms <<<"$line") ms" >&2
  echo "== $t: (b') latency, $clients clients × 400 ev/s" >&2
  line="$(run p99-high "$t" -clients "$clients" -rate 400 -duration "$p99_dur" -warmup "$p99_warm")" &&
    echo "  p99 $(jq -r .latency.p99Ms <<<"$line") ms, first client p50 $(jq -r .firstClientLatency.p50Ms <<<"$line") ms" >&2
  echo "== $t: (c) RSS with $idle idle clients" >&2
  line="$(run idle "$t" -clients "$idle" -rate 0 -duration 3s -warmup 1s)" &&
    echo "  $(jq -r '.rssPerIdleClientBytes | floor' <<<"$line") B per idle client" >&2
done

echo
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), node $(node --version 2>/dev/null || echo none)"
"$bin" bench -table "$results"
echo "(results: $results)"

if [ "${DECODE:-1}" != 0 ]; then
  echo
  echo "decode, µs per message on one core (same frames; lower is better):"
  "$bin" bench -write-frames "$out/frames.json"
  "$bin" bench -decode-go "$out/frames.json"
  if command -v node >/dev/null && lib="$("$root/../shared/conformance/node-client/run.sh" --install-only 2>/dev/null)"; then
    node "$root/scripts/node-decode-bench.mjs" --frames "$out/frames.json" --lib-dir "$lib"
  else
    echo "node or the conformance client's tiktok-live-connector unavailable: no Node figure"
  fi
fi
