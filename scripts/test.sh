#!/usr/bin/env bash
# Runs every check and test of the project on a fresh machine:
#   installs what the tests need (Debian protobuf-compiler and chromium, the Node conformance client's
#   npm packages),
#   checks gofmt, go vet, `go mod tidy -diff` and that the generated protobuf code matches webcast.proto,
#   builds the five release archives (windows/amd64, darwin/arm64, darwin/amd64, linux/amd64,
#   linux/arm64, CGO_ENABLED=0) with scripts/release.sh and checks them,
#   runs `go test -race ./...` (the Node conformance test is required here, not skipped); this runs
#   every fuzz target's seed corpus and committed crashers under testdata/fuzz, deterministically,
#   then fuzzes every target briefly (new inputs: random, so not deterministic).
# Environment: FUZZTIME (default 4s per target; 0 skips fuzzing), SKIP_INSTALL=1 to install nothing,
#   FUZZ_BLOCKING (default 1, and 0 when CI=true): whether a crash found by the brief fuzzing fails the
#   run. In CI a finding is printed with its input (commit it under testdata/fuzz and fix the bug: the
#   deterministic run then fails until it is fixed) but cannot fail a submission by chance.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
fuzztime=${FUZZTIME:-4s}
if [ "${CI:-}" = true ]; then fuzz_blocking=${FUZZ_BLOCKING:-0}; else fuzz_blocking=${FUZZ_BLOCKING:-1}; fi

say() { printf '\n== %s\n' "$*"; }

if [ "${SKIP_INSTALL:-}" != 1 ]; then
  pkgs=()
  command -v protoc >/dev/null || pkgs+=(protobuf-compiler)
  # The dashboard, overlay and example tests (internal/e2e), with one font so pages render text.
  command -v chromium >/dev/null || pkgs+=(chromium fonts-liberation)
  # The release archives (scripts/release.sh).
  command -v zip >/dev/null || pkgs+=(zip)
  command -v unzip >/dev/null || pkgs+=(unzip)
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

say "go mod tidy leaves go.mod and go.sum as they are"
if ! go mod tidy -diff; then
  echo "go.mod or go.sum is not tidy: run 'go mod tidy' and commit the result"; exit 1
fi
echo ok

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

say "release archives for the five platforms (scripts/release.sh)"
stamp="ci-$(git rev-parse --short HEAD 2>/dev/null || echo local)"
./scripts/release.sh "$stamp" "$tmp/dist" >"$tmp/release.log" 2>&1 || { cat "$tmp/release.log"; echo "the release build failed"; exit 1; }
(cd "$tmp/dist" && sha256sum --quiet -c SHA256SUMS)
for t in windows_amd64.zip darwin_arm64.tar.gz darwin_amd64.tar.gz linux_amd64.tar.gz linux_arm64.tar.gz; do
  [ -s "$tmp/dist/tiktok-live-server_${stamp}_$t" ] || { echo "missing archive for $t"; exit 1; }
done
host="$(go env GOOS)_$(go env GOARCH)"
if [ -f "$tmp/dist/tiktok-live-server_${stamp}_${host}.tar.gz" ]; then
  mkdir "$tmp/unpacked"
  tar -xzf "$tmp/dist/tiktok-live-server_${stamp}_${host}.tar.gz" -C "$tmp/unpacked"
  got=$("$tmp/unpacked/tiktok-live-server_${stamp}_${host}/tiktok-live-server" version)
  [ "$got" = "tiktok-live-server $stamp" ] || { echo "the $host binary says '$got', want 'tiktok-live-server $stamp'"; exit 1; }
fi
magic=$(unzip -p "$tmp/dist/tiktok-live-server_${stamp}_windows_amd64.zip" \
  "tiktok-live-server_${stamp}_windows_amd64/tiktok-live-server.exe" | head -c 2 || true)
[ "$magic" = MZ ] || { echo "the windows archive holds no Windows executable"; exit 1; }
echo ok: $(cd "$tmp/dist" && ls *.zip *.tar.gz | wc -l) archives, checksums verified, version stamped

say "go test -race ./..."
# The Node conformance client and the browser suite are required here, not skipped.
REQUIRE_CONFORMANCE=${REQUIRE_CONFORMANCE:-1} REQUIRE_BROWSER=${REQUIRE_BROWSER:-1} \
  go test -race -count=1 -timeout 20m ./...

if [ "$fuzztime" != 0 ]; then
  say "fuzz targets, $fuzztime each (a finding is $( [ "$fuzz_blocking" = 1 ] && echo fatal || echo reported, not fatal))"
  findings=0
  # Every `func FuzzXxx(` in a _test.go file, run in its own package.
  while read -r file; do
    pkg="./$(dirname "$file")"
    for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
      echo "-- $pkg $target"
      # A failure that wrote no input is the fuzz engine's, not the target's (e.g. "context deadline
      # exceeded" when its workers start slowly on a loaded machine): try once more before calling it
      # a finding, so chance cannot fail a run but a reproducible failure still does.
      for try in 1 2; do
        if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >"$tmp/fuzz.log" 2>&1; then
          break
        fi
        new=$(cd "$pkg" && git ls-files --others --exclude-standard "testdata/fuzz/$target" 2>/dev/null)
        if [ -z "$new" ] && [ "$try" = 1 ]; then
          echo "   fuzz engine failed without an input ($(grep -v '^fuzz: elapsed' "$tmp/fuzz.log" | head -3 | tr '\n' ' ')); once more"
          continue
        fi
        findings=$((findings + 1))
        grep -v '^fuzz: elapsed' "$tmp/fuzz.log" | tail -30
        # The failing input go wrote under the package's testdata/fuzz: show it so it can be committed.
        for f in $new; do
          echo "new crasher $pkg/$f:"; sed 's/^/    /' "$pkg/$f"
        done
        if [ -n "$new" ]; then
          echo "FUZZ FINDING in $target: commit the input above under $pkg/testdata/fuzz/$target/ and fix the bug"
        else
          echo "FUZZ FAILURE in $target, twice, with no input written: run the command above and read its log"
        fi
        break
      done
    done
  done < <(grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' internal | sort)
  if [ "$findings" -gt 0 ] && [ "$fuzz_blocking" = 1 ]; then
    echo "$findings fuzz target(s) found a failing input"; exit 1
  fi
fi

say "all checks passed"
