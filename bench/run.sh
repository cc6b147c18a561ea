#!/usr/bin/env bash
# Runs the pager's benchmarks in benchstat-friendly form:
#   ./bench/run.sh > bench/new.txt && go run golang.org/x/perf/cmd/benchstat@latest bench/new.txt
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-6}  # baseline.txt was taken with COUNT=5
go test -run '^$' -bench . -benchmem -count "$count" \
  ./app/ ./app/jobs/ ./app/notify/... ./app/team/ ./store/... ./app/alerts/... 2>/dev/null
