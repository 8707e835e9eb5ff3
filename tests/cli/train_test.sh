#!/usr/bin/env bash
# `shrink train` end to end on stories260K:
#   - bad input: data shorter than one sequence (the error says how many tokens are needed),
#     nonsense hyperparameters (--accum not dividing --batch, --seq past the context, --warmup past
#     --steps, --lr 0 or NaN, an unknown --type), a missing output folder: status 1, one stderr
#     line, no output file;
#   - a short run prints progress lines with loss, tokens/s and ETA, writes a GGUF that
#     `shrink perplexity` loads, and the same command twice (same seed) writes byte-identical files;
#     another seed gives another file;
#   - training on the text lowers the model's loss on it (first vs last progress line).
# Usage: train_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink=$(realpath "$1")
shared=$2
stories="$shared/models/stories260K"
text="$shared/data/tinyshakespeare/input.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/lib.sh"

if [ ! -f "$stories/stories260K.bin" ] || [ ! -f "$text" ]; then
  echo "skipped: $stories/stories260K.bin or $text is absent"
  exit 77
fi
model=(-m "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin")
head -c 20000 "$text" >"$work/text.txt"
printf 'To be' >"$work/short.txt"

# expect_error NAME WORD... -- ARG...: one-line error holding every WORD, and no output file.
expect_error() {
  local name=$1
  shift
  local words=()
  while [ "$1" != "--" ]; do
    words+=("$1")
    shift
  done
  shift
  rm -f "$work/bad.gguf"
  expect_one_line_error "$name" "$@" && expect_stderr_has "$name" "${words[@]}"
  [ -e "$work/bad.gguf" ] && fail "$name: left an output file"
}

expect_error short-data "short.txt" "needs at least 65" -- \
  train "${model[@]}" --data "$work/short.txt" --steps 1 --seq 64 --out "$work/bad.gguf"
expect_error accum "--accum 3" "--batch 4" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 1 --batch 4 --accum 3 --out "$work/bad.gguf"
expect_error seq "--seq" "context length 512" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 1 --seq 1000 --out "$work/bad.gguf"
expect_error warmup "--warmup" "--steps 2" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 2 --warmup 5 --out "$work/bad.gguf"
expect_error lr-zero "--lr" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 1 --lr 0 --out "$work/bad.gguf"
expect_error lr-nan "--lr" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 1 --lr nan --out "$work/bad.gguf"
expect_error steps "--steps" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 0 --out "$work/bad.gguf"
expect_error type "Q9_9" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 1 --type Q9_9 --out "$work/bad.gguf"
expect_error folder "no/such/folder" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 1 --out "$work/no/such/folder/x.gguf"
expect_error quantize-type "--type Q8_0" "--quantize Q4_0" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 1 --type Q8_0 --quantize Q4_0 --out "$work/bad.gguf"
expect_error quantize-unknown "Q9_9" -- \
  train "${model[@]}" --data "$work/text.txt" --steps 1 --quantize Q9_9 --out "$work/bad.gguf"
expect_error missing-data "missing.txt" -- \
  train "${model[@]}" --data "$work/missing.txt" --steps 1 --out "$work/bad.gguf"

# A real run, twice with one seed and once with another.
args=(train "${model[@]}" --data "$work/text.txt" --steps 12 --batch 4 --accum 2 --seq 64
      --lr 3e-3 --warmup 2 --threads 2)
run_shrink "${args[@]}" --seed 5 --out "$work/a.gguf"
if [ "$rc" -ne 0 ]; then
  fail "train run: exit status $rc: $(head -c 800 "$work/err")"
else
  expect_stderr_has run "step 12/12" "tokens/s" "ETA" "loss"
  first=$(grep -m1 -o 'step 1/12 loss [0-9.]*' "$work/err" | awk '{print $4}')
  last=$(grep -o 'step 12/12 loss [0-9.]*' "$work/err" | awk '{print $4}')
  awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.1) }' ||
    fail "training did not lower the loss: first $first, last $last"
  run_shrink "${args[@]}" --seed 5 --out "$work/b.gguf"
  cmp -s "$work/a.gguf" "$work/b.gguf" || fail "same seed, different files"
  run_shrink "${args[@]}" --seed 6 --out "$work/c.gguf"
  cmp -s "$work/a.gguf" "$work/c.gguf" && fail "another seed, the same file"
  run_shrink perplexity -m "$work/a.gguf" -f "$work/text.txt" --ctx 128 --chunks 2
  [ "$rc" -eq 0 ] || fail "perplexity on the trained file: status $rc: $(head -c 600 "$work/err")"
  # Quantization-aware training into Q4_0: a quantized file (file type 2) that loads and whose
  # training loss fell (the loss of the fake-quantized forward, i.e. of the file's weights).
  run_shrink "${args[@]}" --seed 5 --quantize Q4_0 --out "$work/q.gguf"
  if [ "$rc" -ne 0 ]; then
    fail "train --quantize: exit status $rc: $(head -c 800 "$work/err")"
  else
    expect_stderr_has quantize "quantization-aware" "fake-quantized" "step 12/12" "(Q4_0)"
    first=$(grep -m1 -o 'step 1/12 loss [0-9.]*' "$work/err" | awk '{print $4}')
    last=$(grep -o 'step 12/12 loss [0-9.]*' "$work/err" | awk '{print $4}')
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.1) }' ||
      fail "QAT did not lower the loss: first $first, last $last"
    run_shrink inspect "$work/q.gguf"
    grep -q "Q4_0" "$work/out" || fail "inspect shows no Q4_0 tensor in the QAT file"
    run_shrink perplexity -m "$work/q.gguf" -f "$work/text.txt" --ctx 128 --chunks 2
    [ "$rc" -eq 0 ] || fail "perplexity on the QAT file: status $rc: $(head -c 600 "$work/err")"
  fi
  # With an importance matrix: the rounding of training and file is importance-weighted, so the
  # file differs from the unweighted one, and it records the imatrix like quantize --imatrix.
  run_shrink imatrix "${model[@]}" -f "$work/text.txt" -o "$work/im.gguf" --ctx 128 --chunks 4
  [ "$rc" -eq 0 ] || fail "imatrix: status $rc: $(head -c 600 "$work/err")"
  run_shrink "${args[@]}" --seed 5 --quantize Q4_0 --imatrix "$work/im.gguf" --out "$work/qi.gguf"
  if [ "$rc" -ne 0 ]; then
    fail "train --quantize --imatrix: exit status $rc: $(head -c 800 "$work/err")"
  else
    expect_stderr_has quantize-imatrix "importance-weighted"
    cmp -s "$work/q.gguf" "$work/qi.gguf" && fail "--imatrix changed nothing in the QAT file"
    run_shrink inspect "$work/qi.gguf"
    grep -q "quantize.imatrix.file" "$work/out" || fail "the QAT file does not record its imatrix"
  fi
fi
finish train_test
