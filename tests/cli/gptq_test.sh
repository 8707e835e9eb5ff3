#!/usr/bin/env bash
# `shrink quantize --method gptq` end to end on stories260K (issue 7, GPTQ and calibration flags):
#   - bad input, each a one-line error with status 1 and no output file: gptq without --calibration,
#     a calibration text shorter than one chunk (the error names the tokens it has and needs),
#     an empty calibration text, --calibration with the default rtn method, an unknown method (the
#     error lists the valid ones);
#   - a GPTQ Q4_0 file of the F32 model: written, re-read by shrink perplexity, the same size as
#     the round-to-nearest Q4_0 but different bytes, and byte-identical on 1 and 2 threads (rows are
#     independent given the Hessian, and the forward does not depend on the thread count).
# Usage: gptq_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink=$(realpath "$1")
shared=$2
stories="$shared/models/stories260K"
text_src="$shared/data/tinyshakespeare/input.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/lib.sh"

if [[ ! -f "$stories/stories260K.bin" || ! -f "$stories/tok512.bin" || ! -f "$text_src" ]]; then
  echo "skipped: stories260K or tinyshakespeare is absent under $shared"
  exit 77
fi
model="$work/stories-f32.gguf"
"$shrink" quantize "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin" "$model" \
  --type F32 >/dev/null 2>&1 || fail "stories260K -> F32"
text="$work/calibration.txt"
head -c 20000 "$text_src" >"$text"
out="$work/out.gguf"

# no_output NAME: the failed run left nothing at $out.
no_output() { [ ! -e "$out" ] || { fail "$1: left $out behind"; rm -f "$out"; }; }

expect_one_line_error "gptq without calibration" quantize "$model" "$out" --type Q4_0 --method gptq &&
  expect_stderr_has "gptq without calibration" "--method gptq needs calibration text" "--calibration"
no_output "gptq without calibration"

head -c 200 "$text_src" >"$work/short.txt"
expect_one_line_error "short calibration" quantize "$model" "$out" --type Q4_0 --method gptq \
  --calibration "$work/short.txt" --ctx 256 &&
  expect_stderr_has "short calibration" "short.txt" "fewer than one chunk" "needs at least 256"
no_output "short calibration"

: >"$work/empty.txt"
expect_one_line_error "empty calibration" quantize "$model" "$out" --type Q4_0 --method gptq \
  --calibration "$work/empty.txt" && expect_stderr_has "empty calibration" "empty.txt" "empty"
no_output "empty calibration"

expect_one_line_error "calibration with rtn" quantize "$model" "$out" --type Q4_0 \
  --calibration "$text" && expect_stderr_has "calibration with rtn" "--method gptq"
expect_one_line_error "unknown method" quantize "$model" "$out" --type Q4_0 --method gptx \
  --calibration "$text" && expect_stderr_has "unknown method" "rtn, gptq, awq, awq+gptq"
expect_one_line_error "awq without calibration" quantize "$model" "$out" --type Q4_0 --method awq &&
  expect_stderr_has "awq without calibration" "--method awq needs calibration text"
no_output "bad methods"

# The happy path: 4 chunks of 64 tokens.
gptq_args=(--type Q4_0 --method gptq --calibration "$text" --ctx 64 --chunks 4)
"$shrink" quantize "$model" "$work/g1.gguf" "${gptq_args[@]}" --threads 1 >"$work/log1" 2>&1 ||
  fail "gptq Q4_0 (1 thread): $(tail -3 "$work/log1")"
"$shrink" quantize "$model" "$work/g2.gguf" "${gptq_args[@]}" --threads 2 >"$work/log2" 2>&1 ||
  fail "gptq Q4_0 (2 threads): $(tail -3 "$work/log2")"
grep -q "gptq quantized" "$work/log1" || fail "no GPTQ summary line: $(tail -3 "$work/log1")"
cmp -s "$work/g1.gguf" "$work/g2.gguf" || fail "gptq output differs between 1 and 2 threads"
"$shrink" quantize "$model" "$work/r.gguf" --type Q4_0 >/dev/null 2>&1 || fail "rtn Q4_0"
[ "$(stat -c %s "$work/g1.gguf")" = "$(stat -c %s "$work/r.gguf")" ] ||
  fail "gptq and rtn Q4_0 differ in size"
cmp -s "$work/g1.gguf" "$work/r.gguf" && fail "gptq wrote the same bytes as round-to-nearest"
tail -c 3000 "$text_src" >"$work/eval.txt"
"$shrink" perplexity -m "$work/g1.gguf" -f "$work/eval.txt" --ctx 64 >"$work/ppl" 2>&1 ||
  fail "shrink perplexity cannot read the gptq file: $(tail -3 "$work/ppl")"

# AWQ (alone, with GPTQ, with an imatrix and exact rounding): written, the rtn file's size, other
# bytes, the same on 1 and 2 threads, and readable.
for m in awq awq+gptq; do
  awq_args=(--type Q4_0 --method "$m" --calibration "$text" --ctx 64 --chunks 4)
  "$shrink" quantize "$model" "$work/a1.gguf" "${awq_args[@]}" --threads 1 >"$work/alog1" 2>&1 ||
    fail "$m Q4_0 (1 thread): $(tail -3 "$work/alog1")"
  "$shrink" quantize "$model" "$work/a2.gguf" "${awq_args[@]}" --threads 2 --rounding exact \
    >"$work/alog2" 2>&1 || fail "$m Q4_0 --rounding exact (2 threads): $(tail -3 "$work/alog2")"
  "$shrink" quantize "$model" "$work/a3.gguf" "${awq_args[@]}" --threads 2 >"$work/alog3" 2>&1 ||
    fail "$m Q4_0 (2 threads): $(tail -3 "$work/alog3")"
  grep -q "AWQ scaled" "$work/alog1" || fail "$m: no AWQ summary line: $(tail -3 "$work/alog1")"
  cmp -s "$work/a1.gguf" "$work/a3.gguf" || fail "$m output differs between 1 and 2 threads"
  [ "$(stat -c %s "$work/a1.gguf")" = "$(stat -c %s "$work/r.gguf")" ] ||
    fail "$m and rtn Q4_0 differ in size"
  cmp -s "$work/a1.gguf" "$work/r.gguf" && fail "$m wrote the same bytes as round-to-nearest"
  cmp -s "$work/a1.gguf" "$work/a2.gguf" && fail "$m: --rounding exact changed nothing"
  "$shrink" perplexity -m "$work/a2.gguf" -f "$work/eval.txt" --ctx 64 >"$work/ppl" 2>&1 ||
    fail "shrink perplexity cannot read the $m file: $(tail -3 "$work/ppl")"
done

finish "gptq"
