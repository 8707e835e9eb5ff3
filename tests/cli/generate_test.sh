#!/usr/bin/env bash
# `shrink generate` end to end on stories260K: greedy from BOS prints the golden text of docs/models.md
# (llama2.c run.c's output); a llama2.c checkpoint without --tokenizer fails with one line and status 1.
# Usage: generate_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink="$1"
models="$2/models/stories260K"
if [[ ! -f "$models/stories260K.bin" || ! -f "$models/tok512.bin" ]]; then
  echo "skipped: $models/stories260K.bin or tok512.bin is absent"
  exit 77
fi
golden="Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high"

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
