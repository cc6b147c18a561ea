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
