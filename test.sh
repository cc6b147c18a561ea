#!/usr/bin/env bash
# The whole test suite: formatting, vet, and every test with the race detector.
# Twilio's OpenAPI description is read from ../shared/twilio when present.
# The last lines name every test layer that was skipped, and why.
set -euo pipefail
cd "$(dirname "$0")"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# The console's browser tests drive Debian's chromium: install it when absent
# (CI runs as root with Debian's registry reachable). Elsewhere without root
# the tests skip with a visible line; with CI=true they fail instead.
have_chromium() { command -v chromium || command -v chromium-browser || command -v google-chrome; } >/dev/null 2>&1
if ! have_chromium && [ -z "${CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium for the console browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }
  else
    echo "no chromium and cannot install it (not root, or no apt-get): the console browser tests will skip"
  fi
fi
log=$(mktemp); skips=$(mktemp)
trap 'rm -f "$log" "$skips"' EXIT
export PAGER_TEST_SKIPLOG="$skips"
set +e
go test -race -count=1 -timeout 20m ./... 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -c '^FAIL' "$log" || true)
if [ -s "$skips" ]; then
  echo "skipped layers: $(sort -u "$skips" | awk -F'\t' '{printf "%s%s (%s)", (NR>1 ? "; " : ""), $1, $2}')"
else
  echo "skipped layers: none"
fi
echo "packages: $passed passed, $failed failed"
exit "$status"
