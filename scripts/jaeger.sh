#!/usr/bin/env bash
# Builds the Jaeger v2 binary pinned by tools/jaeger (github.com/jaegertracing/jaeger
# cmd/jaeger v1.76.0) once into a cache directory and prints its path. The tracing
# end-to-end test runs it; `make jaeger` (a prerequisite of `make test`) builds it
# ahead, outside the tests' timeout. The first build takes minutes on two cores;
# later calls find the binary and return at once.
#
# SOCIALSYNC_CACHE_DIR overrides the cache directory (default: the user's cache dir).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mod="$root/tools/jaeger"
# The key changes with the pinned versions and the Go toolchain.
key="$(cat "$mod/go.mod" "$mod/go.sum" <(go env GOVERSION GOOS GOARCH) | sha256sum | cut -c1-16)"
dir="${SOCIALSYNC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/socialsync}/jaeger-$key"
bin="$dir/jaeger"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  echo "building jaeger (v1.76.0) into $dir; once, it takes a few minutes" >&2
  tmp="$(mktemp "$dir/jaeger.XXXXXX")"
  trap 'rm -f "$tmp"' EXIT
  (cd "$mod" && GOWORK=off go build -o "$tmp" github.com/jaegertracing/jaeger/cmd/jaeger)
  chmod +x "$tmp"
  mv -f "$tmp" "$bin"
  trap - EXIT
fi
echo "$bin"
