#!/usr/bin/env bash
# Builds the release: one archive per platform with the version stamped in, and SHA256SUMS.
#
#   scripts/release.sh VERSION [OUTDIR]      e.g. scripts/release.sh v0.4.0   (OUTDIR: dist/VERSION)
#
# Platforms: windows/amd64 (.zip), darwin/arm64, darwin/amd64, linux/amd64, linux/arm64 (.tar.gz),
# all with CGO_ENABLED=0. Each archive holds one folder tiktok-live-server_VERSION_OS_ARCH with the
# binary, README.md, SECURITY.md and the docs. The archives are reproducible: file times are the
# last commit's (or SOURCE_DATE_EPOCH), owners are 0, gzip carries no name or time.
# Needs: go, tar, gzip, zip, sha256sum (or shasum on macOS).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version=${1:-}
if [[ ! $version =~ ^v?[0-9A-Za-z][0-9A-Za-z._+-]*$ ]]; then
  echo "usage: scripts/release.sh VERSION [OUTDIR]   (VERSION like v1.2.3: letters, digits, . _ + -)" >&2
  exit 2
fi
out=${2:-dist/$version}
targets=${TARGETS:-"windows/amd64 darwin/arm64 darwin/amd64 linux/amd64 linux/arm64"}
for tool in go tar gzip zip; do
  command -v "$tool" >/dev/null || { echo "release: $tool is missing (Debian: apt-get install $tool)" >&2; exit 1; }
done
if command -v sha256sum >/dev/null; then sum=(sha256sum); else sum=(shasum -a 256); fi
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch

mkdir -p "$out"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

for t in $targets; do
  os=${t%/*} arch=${t#*/}
  name="tiktok-live-server_${version}_${os}_${arch}"
  dir="$stage/$name"
  mkdir -p "$dir/docs"
  exe=tiktok-live-server
  [ "$os" = windows ] && exe=tiktok-live-server.exe
  echo "building $os/$arch"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X github.com/tiktok-live-server/tiktok-live-server/internal/cli.stamped=$version" \
    -o "$dir/$exe" ./cmd/tiktok-live-server
  cp README.md SECURITY.md "$dir/"
  cp docs/*.md "$dir/docs/"
  [ "$os" = linux ] && cp -r contrib "$dir/"
  find "$dir" -exec touch -h -d "@$epoch" {} +
  (
    cd "$stage"
    if [ "$os" = windows ]; then
      rm -f "$out/$name.zip"
      find "$name" -print | LC_ALL=C sort | zip -q -X -@ "$out/$name.zip"
    else
      tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" | gzip -n -9 >"$out/$name.tar.gz"
    fi
  )
done

(
  cd "$out"
  shopt -s nullglob
  files=(*.zip *.tar.gz)
  "${sum[@]}" -- "${files[@]}" >SHA256SUMS
)
echo "release $version in $out:"
(cd "$out" && ls -1 && cat SHA256SUMS)
