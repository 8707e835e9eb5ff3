#!/usr/bin/env bash
# `shrink quantize` end to end (docs/numerics.md, "Quantizing a model"):
#   - bad input: an unknown type (the error lists the valid ones), an output path in a missing
#     folder, an input that is not a model, no output path: status 1, one stderr line, no file;
#   - stories260K (llama2.c) to every type with an encoder: gguf-py reads each file, decodes every
#     tensor to the values shrink's decoder gives and encodes the F32 base to the same bytes (not
#     for IQ4_NL/IQ4_XS, which gguf-py cannot encode) (tests/oracles/quantize_oracle.py); --dry-run's size is the written size; the F32 GGUF scores
#     the perplexity of the checkpoint it came from;
#   - SmolLM2 (when cached): --type Q4_1 rewrites the Q4_1 file byte for byte, from the file itself
#     (tensors copied) and from its F32 dequantization (every tensor re-encoded); Q4_0 of the F32
#     base passes the gguf-py oracle; so do Q4_K_M and pure Q2_K, Q3_K_S and Q5_K_S (gguf-py decodes
#     their k-quant tensors to shrink's values; it cannot encode k-quants, ggml's vectors test that).
# Usage: quantize_test.sh SHRINK_BINARY SOURCE_DIR SHARED_DIR
set -u
shrink=$1
src=$2
stories="$3/models/stories260K"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

oracle_ok=0
python3 -c 'import gguf, numpy' 2>/dev/null && oracle_ok=1
[ $oracle_ok = 1 ] || echo "note: python3 with gguf and numpy is absent: the gguf-py checks are skipped"

# expect_error WORDS... -- ARGS...: `shrink quantize ARGS` exits 1 with one stderr line holding WORDS.
expect_error() {
  local words=()
  while [ "$1" != "--" ]; do words+=("$1"); shift; done
  shift
  "$shrink" quantize "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  [ $rc -eq 1 ] || fail "quantize $*: exit status $rc, expected 1"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "quantize $*: stderr is not one line: $(cat "$work/err")"
  grep -q "^shrink: error: " "$work/err" || fail "quantize $*: no 'shrink: error: ': $(cat "$work/err")"
  for w in "${words[@]}"; do
    grep -qF -- "$w" "$work/err" || fail "quantize $*: stderr lacks '$w': $(cat "$work/err")"
  done
}

if [[ ! -f "$stories/stories260K.bin" || ! -f "$stories/tok512.bin" ]]; then
  echo "skipped: $stories/stories260K.bin or tok512.bin is absent"
  exit 77
fi
ckpt=("$stories/stories260K.bin" --tokenizer "$stories/tok512.bin")

# Bad input.
expect_error "unknown quantization type 'Q4_K_X'" "valid types: F32, F16, Q4_0" "Q4_K_M" "IQ4_XS" \
  -- "${ckpt[@]}" "$work/x.gguf" --type Q4_K_X
expect_error "$work/missing/x.gguf: the output folder '$work/missing' does not exist" \
  -- "${ckpt[@]}" "$work/missing/x.gguf" --type Q8_0
printf 'These words are not a model, but they are longer than a llama2.c header.\n' >"$work/text.txt"
expect_error "$work/text.txt has no GGUF magic, so it was read as a llama2.c checkpoint" \
  -- "$work/text.txt" "$work/x.gguf" --type Q8_0
expect_error "needs an output path" -- "${ckpt[@]}" --type Q8_0
[ -e "$work/x.gguf" ] && fail "a failed quantize left $work/x.gguf"

# Size budgets (quant/budget_run.h). stories260K's rows of 64 fit no k-quant, so its smallest file
# has the matrices at Q4_0/IQ4_NL and ffn_down (rows of 172) at F16: 7.0 bits per weight.
expect_error "exactly one of --type T, --target-size SIZE or --target-bpw B" \
  -- "${ckpt[@]}" "$work/x.gguf" --type Q8_0 --target-bpw 5
expect_error "--target-bpw 1 is below the smallest this model can have" "bits per weight" \
  "not a multiple of 256" -- "${ckpt[@]}" "$work/x.gguf" --target-bpw 1
expect_error "--target-size 1000 bytes is below the smallest file this model can have" \
  -- "${ckpt[@]}" "$work/x.gguf" --target-size 1000
expect_error "size '12XB' is not a positive size" -- "${ckpt[@]}" "$work/x.gguf" --target-size 12XB
[ -e "$work/x.gguf" ] && fail "a failed budget left $work/x.gguf"
for budget in "--target-bpw 8" "--target-size 500000"; do
  # shellcheck disable=SC2086
  "$shrink" quantize "${ckpt[@]}" "$work/b.gguf" $budget >"$work/b.txt" 2>"$work/err" \
    || fail "quantize $budget: $(cat "$work/err")"
  size=$(sed -n 's/.*; file \([0-9]*\) bytes.*/\1/p' "$work/b.txt")
  bpw=$(sed -n 's/.*bytes ([0-9.]* MiB), \([0-9.]*\) bits per weight.*/\1/p' "$work/b.txt" | head -1)
  [ "$size" = "$(stat -c %s "$work/b.gguf")" ] || fail "$budget: the plan says $size bytes, the file has $(stat -c %s "$work/b.gguf")"
  case "$budget" in
    --target-bpw*) awk -v b="$bpw" 'BEGIN { exit !(b <= 8.0 && b > 7.5) }' \
                     || fail "$budget: $bpw bits per weight (expected in (7.5, 8]: the budget is nearly used)" ;;
    --target-size*) [ "$size" -le 500000 ] || fail "$budget: file of $size bytes" ;;
  esac
  "$shrink" perplexity -m "$work/b.gguf" -f "$3/data/tinyshakespeare/input.txt" --ctx 64 \
    --chunks 2 >/dev/null 2>"$work/err" || fail "$budget: shrink perplexity cannot run the file: $(tail -1 "$work/err")"
done

# --rounding exact (formats/exact_scale.h): same size as the reference encoding, different bytes, the
# file decodes (the format is unchanged); an unknown rounding is a one-line error.
for type in Q4_0 Q5_0 IQ4_NL; do
  "$shrink" quantize "${ckpt[@]}" "$work/ref-$type.gguf" --type $type >/dev/null 2>&1 || fail "$type"
  if "$shrink" quantize "${ckpt[@]}" "$work/exact-$type.gguf" --type $type --rounding exact \
       >"$work/log" 2>&1; then
    [ "$(stat -c %s "$work/exact-$type.gguf")" = "$(stat -c %s "$work/ref-$type.gguf")" ] \
      || fail "--rounding exact $type: the size differs from the reference encoding's"
    cmp -s "$work/exact-$type.gguf" "$work/ref-$type.gguf" \
      && fail "--rounding exact $type: the same bytes as the reference encoding"
    "$shrink" quantize "$work/exact-$type.gguf" "$work/exact-dec.gguf" --type F32 >/dev/null 2>&1 \
      || fail "--rounding exact $type: the output does not decode"
  else
    fail "--rounding exact $type: $(cat "$work/log")"
  fi
done
if "$shrink" quantize "${ckpt[@]}" "$work/x.gguf" --type Q4_0 --rounding best >/dev/null 2>&1; then
  fail "--rounding best was accepted"
fi

# stories260K to every type with an encoder.
"$shrink" quantize "${ckpt[@]}" "$work/base.gguf" --type F32 >/dev/null 2>"$work/err" \
  || fail "stories260K -> F32: $(cat "$work/err")"
for type in F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 IQ4_NL IQ4_XS; do
  out="$work/st-$type.gguf"
  if ! "$shrink" quantize "${ckpt[@]}" "$out" --type $type >"$work/log" 2>&1; then
    fail "stories260K -> $type: $(cat "$work/log")"
    continue
  fi
  size=$("$shrink" quantize "${ckpt[@]}" --type $type --dry-run 2>/dev/null \
         | sed -n 's/.*; file \([0-9]*\) bytes.*/\1/p')
  [ "$size" = "$(stat -c %s "$out")" ] || fail "$type: --dry-run says $size bytes, the file has $(stat -c %s "$out")"
  "$shrink" quantize "$out" "$work/dec.gguf" --type F32 >/dev/null 2>&1 || fail "$type -> F32"
  if [ $oracle_ok = 1 ]; then
    # gguf-py has no IQ4 quantizer: for those the oracle checks the decode side only (their bytes
    # are checked against ggml's by format_vectors_test).
    base_arg=("$work/base.gguf")
    case $type in IQ4_*) base_arg=() ;; esac
    python3 "$src/tests/oracles/quantize_oracle.py" "$out" "$work/dec.gguf" "${base_arg[@]}" \
      >"$work/oracle" 2>&1 || fail "$type: $(cat "$work/oracle")"
  fi
done
head -c 30000 "$3/data/tinyshakespeare/input.txt" >"$work/text.txt" 2>/dev/null || true
if [ -s "$work/text.txt" ]; then
  a=$("$shrink" perplexity -m "${ckpt[0]}" --tokenizer "${ckpt[2]}" -f "$work/text.txt" --ctx 128 \
      --chunks 4 2>/dev/null | grep "Final estimate")
  b=$("$shrink" perplexity -m "$work/base.gguf" -f "$work/text.txt" --ctx 128 --chunks 4 \
      2>/dev/null | grep "Final estimate")
  [ -n "$a" ] && [ "$a" = "$b" ] || fail "F32 GGUF of stories260K: '$b', the checkpoint: '$a'"
fi

# SmolLM2.
model="${SHRINK_CACHE:-$HOME/.cache/shrink}/models/smollm2-135m-instruct-q4_1.gguf"
if [ -f "$model" ]; then
  "$shrink" quantize "$model" "$work/copy.gguf" --type Q4_1 >/dev/null 2>&1 || fail "SmolLM2 -> Q4_1"
  cmp -s "$model" "$work/copy.gguf" || fail "SmolLM2 Q4_1 -> Q4_1 is not byte-identical"
  rm -f "$work/copy.gguf"
  "$shrink" quantize "$model" "$work/sm-f32.gguf" --type F32 >/dev/null 2>&1 || fail "SmolLM2 -> F32"
  "$shrink" quantize "$work/sm-f32.gguf" "$work/again.gguf" --type Q4_1 >/dev/null 2>&1 \
    || fail "SmolLM2 F32 -> Q4_1"
  cmp -s "$model" "$work/again.gguf" || fail "SmolLM2 Q4_1 -> F32 -> Q4_1 is not byte-identical"
  rm -f "$work/again.gguf"
  "$shrink" quantize "$work/sm-f32.gguf" "$work/sm-q4_0.gguf" --type Q4_0 >/dev/null 2>&1 \
    || fail "SmolLM2 F32 -> Q4_0"
  if [ $oracle_ok = 1 ]; then
    "$shrink" quantize "$work/sm-q4_0.gguf" "$work/sm-dec.gguf" --type F32 >/dev/null 2>&1
    python3 "$src/tests/oracles/quantize_oracle.py" "$work/sm-q4_0.gguf" "$work/sm-dec.gguf" \
      "$work/sm-f32.gguf" >"$work/oracle" 2>&1 || fail "SmolLM2 Q4_0: $(cat "$work/oracle")"
  fi
  # The k-quants: SmolLM2's rows of 1536 (ffn_down) take them, the others fall back to block-32
  # types. Q4_K_M gives Q4_K and Q6_K; --pure Q2_K, Q3_K_S and Q5_K_S the other three.
  for args in "Q4_K_M" "Q2_K --pure" "Q3_K_S --pure" "Q5_K_S --pure"; do
    # shellcheck disable=SC2086
    "$shrink" quantize "$work/sm-f32.gguf" "$work/kq.gguf" --type $args >"$work/log" 2>&1 \
      || { fail "SmolLM2 F32 -> $args: $(cat "$work/log")"; continue; }
    [ $oracle_ok = 1 ] || continue
    "$shrink" quantize "$work/kq.gguf" "$work/kq-dec.gguf" --type F32 >/dev/null 2>&1
    python3 "$src/tests/oracles/quantize_oracle.py" "$work/kq.gguf" "$work/kq-dec.gguf" \
      "$work/sm-f32.gguf" >"$work/oracle" 2>&1 || fail "SmolLM2 $args: $(cat "$work/oracle")"
    grep -q "gguf-py has no quantizer for" "$work/oracle" \
      || fail "SmolLM2 $args: no k-quant tensor was checked: $(cat "$work/oracle")"
  done
else
  echo "note: $model is absent: the SmolLM2 checks are skipped"
fi

if [ $failures -gt 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "quantize_test: all checks passed"
