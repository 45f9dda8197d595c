#!/usr/bin/env bash
# Runs every check and test of the project on a fresh machine:
#   installs what the tests need (Debian protobuf-compiler and chromium, the Node conformance client's
#   npm packages),
#   checks gofmt, go vet and that the generated protobuf code matches webcast.proto,
#   runs `go test -race ./...` (the Node conformance test is required here, not skipped),
#   then runs every fuzz target briefly.
# Environment: FUZZTIME (default 4s per target; 0 skips fuzzing), SKIP_INSTALL=1 to install nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
fuzztime=${FUZZTIME:-4s}

say() { printf '\n== %s\n' "$*"; }

if [ "${SKIP_INSTALL:-}" != 1 ]; then
  pkgs=()
  command -v protoc >/dev/null || pkgs+=(protobuf-compiler)
  # The dashboard, overlay and example tests (internal/e2e), with one font so pages render text.
  command -v chromium >/dev/null || pkgs+=(chromium fonts-liberation)
  if [ ${#pkgs[@]} -gt 0 ]; then
    say "installing ${pkgs[*]} (Debian)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  fi
  conformance="$root/../shared/conformance/node-client/run.sh"
  if [ -x "$conformance" ] || [ -f "$conformance" ]; then
    say "installing the Node conformance client (npm)"
    for v in 207 250; do bash "$conformance" --install-only --version "$v" >/dev/null; done
  fi
fi

say "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

say "go vet"
go vet ./...

say "generated protobuf code matches internal/webcast/pb/webcast.proto"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd internal/webcast/pb && protoc --plugin=protoc-gen-go="$(go tool -n protoc-gen-go)" \
  --go_out="$tmp" --go_opt=paths=source_relative webcast.proto)
if ! cmp -s "$tmp/webcast.pb.go" internal/webcast/pb/webcast.pb.go; then
  diff -u internal/webcast/pb/webcast.pb.go "$tmp/webcast.pb.go" | head -40
  echo "internal/webcast/pb/webcast.pb.go is stale: run 'go generate ./internal/webcast/pb' and commit it"
  exit 1
fi
echo ok

say "go test -race ./..."
# The Node conformance client and the browser suite are required here, not skipped.
REQUIRE_CONFORMANCE=${REQUIRE_CONFORMANCE:-1} REQUIRE_BROWSER=${REQUIRE_BROWSER:-1} \
  go test -race -count=1 -timeout 20m ./...

if [ "$fuzztime" != 0 ]; then
  say "fuzz targets, $fuzztime each"
  # Every `func FuzzXxx(` in a _test.go file, run in its own package.
  grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' internal | sort | while read -r file; do
    pkg="./$(dirname "$file")"
    for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
      echo "-- $pkg $target"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$tmp/fuzz.log" 2>&1 || {
        cat "$tmp/fuzz.log"; echo "fuzz target $target failed"; exit 1; }
    done
  done
fi

say "all checks passed"
