#!/usr/bin/env bash
# The whole test suite: formatting, vet, and every test with the race detector.
# Twilio's OpenAPI description is read from ../shared/twilio when present.
set -euo pipefail
cd "$(dirname "$0")"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
go test -race -count=1 -timeout 20m ./... 2>&1 | tee /tmp/pager-test.$$.log
status=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' /tmp/pager-test.$$.log || true)
failed=$(grep -c '^FAIL' /tmp/pager-test.$$.log || true)
rm -f /tmp/pager-test.$$.log
echo "packages: $passed passed, $failed failed"
exit "$status"
