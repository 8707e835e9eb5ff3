#!/usr/bin/env bash
# `shrink generate` end to end on stories260K: greedy from BOS prints the golden text, stated in
# ../shared/docs/models.md (stories260K row) and reproduced by an independent F64 numpy forward pass
# (tests/oracles/stories_greedy_oracle.py -> tests/oracles/fixtures/stories260k_greedy.txt, read
# here); a llama2.c checkpoint without --tokenizer fails with one line and status 1.
# Usage: generate_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink="$1"
models="$2/models/stories260K"
if [[ ! -f "$models/stories260K.bin" || ! -f "$models/tok512.bin" ]]; then
  echo "skipped: $models/stories260K.bin or tok512.bin is absent"
  exit 77
fi
fixture="$(cd "$(dirname "$0")/../oracles/fixtures" && pwd)/stories260k_greedy.txt"
golden=$(sed -n 's/^text //p' "$fixture")
if [[ -z $golden ]]; then
  echo "FAIL: no 'text ' line in $fixture"
  exit 1
fi

out=$("$shrink" generate -m "$models/stories260K.bin" --tokenizer "$models/tok512.bin" -p "" -n 60 \
      --temp 0 2>/dev/null)
status=$?
if [[ $status -ne 0 ]]; then
  echo "FAIL: shrink generate exited with $status"
  exit 1
fi
if [[ "$out" != "$golden"* ]]; then
  echo "FAIL: output does not start with the golden text"
  echo "got:      $out"
  echo "expected: $golden..."
  exit 1
fi

err=$("$shrink" generate -m "$models/stories260K.bin" -n 5 2>&1 >/dev/null)
status=$?
if [[ $status -ne 1 || "$err" != "shrink: error: "*"needs its tokenizer file"* ]]; then
  echo "FAIL: without --tokenizer expected status 1 and a one-line error, got $status: $err"
  exit 1
fi
echo "PASS"
