#!/usr/bin/env bash
# CLI test of `shrink inspect`: bad files give exit status 1 and exactly one stderr line
# "shrink: error: <file>: ... offset ..."; a good file gives status 0 and the totals line. Exits 77
# (skipped) when SmolLM2 is absent, after the checks that do not need it.
# Usage: inspect_test.sh SHRINK_BINARY SOURCE_DIR
set -u
shrink=$1
src=$2
fixture="$src/tests/oracles/fixtures/gguf_py_all_types.gguf"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error FILE WORD...: status 1, one stderr line starting "shrink: error: FILE: " with each WORD.
expect_error() {
  local file=$1; shift
  "$shrink" inspect "$file" >"$work/out" 2>"$work/err"
  local rc=$?
  [ "$rc" -eq 1 ] || fail "$file: exit status $rc, expected 1"
  local lines
  lines=$(wc -l <"$work/err")
  [ "$lines" -eq 1 ] || fail "$file: $lines stderr lines, expected 1: $(cat "$work/err")"
  grep -q "^shrink: error: $file: " "$work/err" || fail "$file: stderr lacks 'shrink: error: $file: ': $(cat "$work/err")"
  for word in "$@"; do
    grep -qF -- "$word" "$work/err" || fail "$file: stderr lacks '$word': $(cat "$work/err")"
  done
}

# Truncated in the metadata, in the tensor table, and in the tensor data.
for cut in 10 100 1000 1300; do
  head -c "$cut" "$fixture" >"$work/cut$cut.gguf"
  expect_error "$work/cut$cut.gguf" "offset"
done
printf 'not a gguf file at all' >"$work/text.gguf"
expect_error "$work/text.gguf" "magic at offset 0" 'expected "GGUF"'

# One tensor 'w' (shape [32]) of unknown type id 77: the entry starts at offset 24 and its type field
# at 45 (name 8 + 1 bytes, n_dims 4, one dimension 8); then offset 0, padding to 64, 128 data bytes.
{
  printf 'GGUF\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  printf '\x01\x00\x00\x00\x00\x00\x00\x00w\x01\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00'
  printf '\x4d\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  head -c 135 /dev/zero
} >"$work/unknown_type.gguf"
expect_error "$work/unknown_type.gguf" \
  "tensor 'w' (entry 0 at offset 24): type at offset 45: unknown tensor type id 77"

# A good file: status 0, every tensor listed, the totals line.
if "$shrink" inspect "$fixture" >"$work/out" 2>"$work/err"; then
  grep -q "^total: 3 tensors, " "$work/out" || fail "fixture: no totals line: $(cat "$work/out")"
  grep -q "n.nested\|n.ints" "$work/out" || fail "fixture: nested array key missing"
else
  fail "fixture: exit status $?, stderr: $(cat "$work/err")"
fi

skipped=0

# Memory (issue 6): a 20 MB file holding one 20-million-element u8 array made inspect use 964 MB (each
# element a whole GgufValue). Peak RSS over that of the same file with 5 elements must stay within
# 2.5 × the file's size: the mapped file (20 MB, touched once) plus the array's one 20 MB buffer, with
# room for allocator rounding, but far from one word per element (160 MB).
# u8_array_gguf COUNT OUT: no tensors, one key "big.array", an array of COUNT zero u8s.
u8_array_gguf() {
  local n=$1 le=""
  for shift in 0 8 16 24 32 40 48 56; do le+=$(printf '\\x%02x' $(((n >> shift) & 255))); done
  {
    printf 'GGUF\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00'
    printf '\x09\x00\x00\x00\x00\x00\x00\x00big.array\x09\x00\x00\x00\x00\x00\x00\x00'
    printf "$le"
    head -c "$n" /dev/zero
  } >"$2"
}
# peak_rss_kib FILE: inspect's maximum resident set (KiB); its stdout goes to $work/out.
peak_rss_kib() {
  /usr/bin/time -f '%M' -o "$work/rss" "$shrink" inspect "$1" >"$work/out" 2>"$work/err" ||
    { fail "$1: exit status $?, stderr: $(cat "$work/err")"; echo 0; return; }
  tail -n 1 "$work/rss"
}
if [ -x /usr/bin/time ]; then
  u8_array_gguf 5 "$work/small_array.gguf"
  u8_array_gguf 20000000 "$work/big_array.gguf"
  small=$(peak_rss_kib "$work/small_array.gguf")
  big=$(peak_rss_kib "$work/big_array.gguf")
  grep -q "big.array .*array\[u8\] .*20000000 elements: \[0, 0, 0, 0, 0, \.\.\.\]" "$work/out" ||
    fail "big array: unexpected listing: $(grep big.array "$work/out")"
  size_kib=$(($(stat -c %s "$work/big_array.gguf") / 1024))
  growth=$((big - small))
  echo "inspect peak RSS: ${small} KiB (5 elements), ${big} KiB (20M elements, file ${size_kib} KiB)"
  [ "$growth" -le $((size_kib * 5 / 2)) ] ||
    fail "20M-element array: peak RSS grew by ${growth} KiB, expected at most 2.5 x ${size_kib} KiB"
else
  echo "skipped: /usr/bin/time is absent (the peak-RSS check needs it)"
  skipped=1
fi

model="${SHRINK_CACHE:-$HOME/.cache/shrink}/models/smollm2-135m-instruct-q4_1.gguf"
if [ -f "$model" ]; then
  if "$shrink" inspect "$model" >"$work/out" 2>"$work/err"; then
    # From gguf-py's GGUFReader: 272 tensors, sum of n_bytes 96576768, sum of n_elements 134515008,
    # so 8 * 96576768 / 134515008 = 5.7437 bits per weight.
    grep -q "^total: 272 tensors, 96576768 bytes .* 134515008 parameters, 5.7437 bits per weight" "$work/out" ||
      fail "SmolLM2: unexpected totals: $(grep '^total' "$work/out")"
  else
    fail "SmolLM2: exit status $?, stderr: $(cat "$work/err")"
  fi
else
  echo "skipped: $model is absent (scripts/fetch-models gets it)"
  skipped=1
fi

# A failure wins; else a skipped part makes the whole test Skipped (77, SKIP_RETURN_CODE), not Passed.
[ "$failures" -eq 0 ] || exit 1
[ "$skipped" -eq 0 ] || exit 77
echo "inspect_test: all checks passed"
