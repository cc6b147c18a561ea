#!/usr/bin/env bash
# Runs the pager's benchmarks in benchstat-friendly form:
#   ./bench/run.sh > bench/new.txt && go run golang.org/x/perf/cmd/benchstat@latest bench/new.txt
#   ./bench/run.sh hot     the hot paths side by side (issue 10): WHO vs bare
#                          in-process, over loopback and as the server
#                          process's CPU per request, HALP, wrong-number
#                          reply, recording callback on the local store and
#                          on the in-process S3 server with store calls per
#                          answer, SMS segments of every built-in text
#   ./bench/run.sh burst   600 voicemail callbacks at once (one op, ~1 min)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${COUNT:-6}  # baseline.txt was taken with COUNT=5
case "${1:-all}" in
hot)
  go test -run '^$' -bench 'Webhook|Loopback|RecordingCallback|Segments' -benchmem -count "$count" \
    ./app/ ./test/e2e/ 2>/dev/null
  # 150 pairs of rounds (120,000 requests): a garbage collection or not in
  # a round moves the server's CPU per request by a few per cent.
  go test -run '^$' -bench 'ServerCPU' -benchtime 150x -count "$count" ./app/ 2>/dev/null ;;
burst)
  BENCH_BURST=1 go test -run '^$' -bench 'VoicemailBurst' -benchtime 1x -count 1 -timeout 30m ./test/e2e/ 2>/dev/null ;;
all)
  go test -run '^$' -bench . -benchmem -count "$count" ./app/... ./store/... ./test/e2e/ 2>/dev/null ;;
*)
  echo "usage: bench/run.sh [all|hot|burst]" >&2; exit 2 ;;
esac
