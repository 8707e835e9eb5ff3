#!/usr/bin/env bash
# `shrink bench` on stories260K: llama-bench's table layout (header, separator, one row per thread
# count and test with "mean ± stddev"), the peak RSS line, and the scalar path forced by SHRINK_CPU
# shows in the backend column.
# Usage: bench_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink=$1
models="$2/models/stories260K"
if [[ ! -f "$models/stories260K.bin" || ! -f "$models/tok512.bin" ]]; then
  echo "skipped: needs $models/stories260K.bin and tok512.bin"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

run=(bench -m "$models/stories260K.bin" --tokenizer "$models/tok512.bin" -p 16 -n 8 -r 2)
"$shrink" "${run[@]}" -t 1,2 >"$work/out" 2>"$work/err" || fail "bench: status $?: $(cat "$work/err")"
head -1 "$work/out" | grep -qE '^\| model +\| +size \| +params \| backend +\| threads \| +test \| +t/s \|$' ||
  fail "header: $(head -1 "$work/out")"
sed -n 2p "$work/out" | grep -qE '^\| -+ \| -+: \| -+: \| -+ \| -+: \| -+: \| -+: \|$' ||
  fail "separator: $(sed -n 2p "$work/out")"
rows=$(grep -cE '^\| llama 260K F32 +\| +0\.99 MiB \| +0\.26 M \| CPU [a-z0-9_]+ +\| +[12] \| +(pp16|tg8) \| +[0-9.]+ ± [0-9.]+ \|$' "$work/out")
[ "$rows" -eq 4 ] || fail "expected 4 result rows (2 threads × pp16, tg8), got $rows: $(cat "$work/out")"
grep -qE '^peak RSS: [0-9.]+ MiB \(model tensors 0\.99 MiB\)$' "$work/out" || fail "no peak RSS line"

SHRINK_CPU=scalar "$shrink" "${run[@]}" -t 1 >"$work/out" 2>"$work/err" || fail "scalar: status $?"
[ "$(grep -c '| CPU scalar ' "$work/out")" -eq 2 ] || fail "SHRINK_CPU=scalar: $(cat "$work/out")"

[ "$failures" -eq 0 ] || exit 1
echo "bench_test: all checks passed"
