#!/usr/bin/env bash
# `shrink imatrix` and `shrink quantize --imatrix` end to end (docs/formats.md, "Importance matrix
# files"; docs/numerics.md, "Calibration statistics"):
#   - bad input: a text shorter than one chunk (the error says how many tokens are needed), an
#     empty or missing text, an output folder that does not exist, a bad --format or --ctx; for
#     quantize: a missing, truncated or foreign (model, text) imatrix, an imatrix of another model
#     (wrong sizes, missing entries): status 1, one stderr line, no output file;
#   - stories260K (the F32 GGUF of tests/oracles/make_imatrix_fixtures.sh) over the fixture's text
#     and settings: our GGUF and .dat files have exactly the sizes of llama-imatrix's (same keys,
#     tensors and dataset name), and with python3 + gguf-py + numpy, gguf-py reads our GGUF and its
#     means agree with llama-imatrix's within the bound derived in src/calib/imatrix_peer_test.cc;
#     our .dat gives the same means as our GGUF;
#   - quantize --imatrix takes llama-imatrix's files and ours in both formats, --explain says per
#     tensor whether the imatrix applies, and the output carries llama-quantize's
#     quantize.imatrix.* keys;
#   - only when the llama.cpp peer is built (LLAMA_BIN or ~/.cache/shrink/peers/...): llama-quantize
#     accepts both of our files.
# Usage: imatrix_test.sh SHRINK_BINARY SOURCE_DIR SHARED_DIR
set -u
shrink=$(realpath "$1")
src=$2
shared=$3
stories="$shared/models/stories260K"
fixtures="$src/tests/oracles/fixtures/imatrix"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_error NAME 'WORD|WORD...' ARG...: `shrink ARG...` exits 1 with one stderr line
# "shrink: error: ..." holding every WORD.
expect_error() {
  local name=$1 words=$2
  shift 2
  "$shrink" "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  if [ $rc -ne 1 ] || [ "$(wc -l <"$work/err")" -ne 1 ] || ! grep -q "^shrink: error: " "$work/err"; then
    fail "$name: exit status $rc, expected 1 and one 'shrink: error: ' line: $(head -c 800 "$work/err")"
    return
  fi
  local IFS='|'
  for w in $words; do
    grep -qF -- "$w" "$work/err" || fail "$name: stderr lacks '$w': $(cat "$work/err")"
  done
}

# le32 N...: N as little-endian int32 bytes.
le32() {
  local n
  for n in "$@"; do
    n=$(((n + 4294967296) % 4294967296))
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n & 255)) $(((n >> 8) & 255)) \
      $(((n >> 16) & 255)) $(((n >> 24) & 255)))"
  done
}
# dat_entry NAME NCALL NVAL: one legacy .dat entry whose NVAL values are all 1.0f.
dat_entry() {
  le32 ${#1}
  printf '%s' "$1"
  le32 "$2" "$3"
  local i
  for ((i = 0; i < $3; i++)); do le32 1065353216; done
}

if [[ ! -f "$stories/stories260K.bin" || ! -f "$stories/tok512.bin" ||
      ! -f "$shared/data/tinyshakespeare/input.txt" ]]; then
  echo "skipped: stories260K or tinyshakespeare is absent under $shared"
  exit 77
fi
oracle_ok=0
python3 -c 'import gguf, numpy' 2>/dev/null && oracle_ok=1
[ $oracle_ok = 1 ] || echo "note: python3 with gguf and numpy is absent: the gguf-py checks are skipped"

# The fixture's model and text, under the names the fixtures record.
model="$work/stories260k-f32.gguf"
"$shrink" quantize "$stories/stories260K.bin" --tokenizer "$stories/tok512.bin" "$model" \
  --type F32 >/dev/null 2>&1 || fail "stories260K -> F32"
text="$work/tinyshakespeare-40k.txt"
head -c 40000 "$shared/data/tinyshakespeare/input.txt" >"$text"

# ---- shrink imatrix: bad input ----
printf 'Once upon a time there was a cat.\n' >"$work/short.txt"
expect_error "short text" "short.txt: the text has|fewer than one chunk: --ctx 128 needs at least 128 tokens" \
  imatrix -m "$model" -f "$work/short.txt" -o "$work/x.gguf" --ctx 128
: >"$work/empty.txt"
expect_error "empty text" "empty.txt: the text is empty" \
  imatrix -m "$model" -f "$work/empty.txt" -o "$work/x.gguf"
expect_error "missing text" "$work/none.txt" imatrix -m "$model" -f "$work/none.txt" -o "$work/x.gguf"
expect_error "missing folder" "$work/no/x.gguf: the output folder '$work/no' does not exist" \
  imatrix -m "$model" -f "$text" -o "$work/no/x.gguf"
expect_error "bad format" "--format" imatrix -m "$model" -f "$text" -o "$work/x.gguf" --format xml
expect_error "small ctx" "--ctx: expected an integer from 16" \
  imatrix -m "$model" -f "$text" -o "$work/x.gguf" --ctx 8
expect_error "missing model" "$work/none.gguf" imatrix -m "$work/none.gguf" -f "$text" -o "$work/x.gguf"
[ -e "$work/x.gguf" ] && fail "a failed imatrix left $work/x.gguf"

# ---- shrink imatrix on the fixture's model, text and settings ----
(cd "$work" && "$shrink" imatrix -m stories260k-f32.gguf -f tinyshakespeare-40k.txt \
  -o ours.imatrix.gguf --ctx 128 --chunks 4 >/dev/null 2>"$work/log") || fail "imatrix: $(cat "$work/log")"
grep -q "imatrix: 4/4 chunks" "$work/log" || fail "no progress line: $(cat "$work/log")"
(cd "$work" && "$shrink" imatrix -m stories260k-f32.gguf -f tinyshakespeare-40k.txt \
  -o ours.imatrix.dat --ctx 128 --chunks 4 >/dev/null 2>&1) || fail "imatrix (.dat)"
(cd "$work" && "$shrink" imatrix -m stories260k-f32.gguf -f tinyshakespeare-40k.txt \
  -o ours-dat.imatrix --format dat --ctx 128 --chunks 4 >/dev/null 2>&1) || fail "imatrix --format dat"
cmp -s "$work/ours.imatrix.dat" "$work/ours-dat.imatrix" || fail "--format dat differs from a .dat output"
for ext in gguf dat; do
  want=$(stat -c %s "$fixtures/stories260k.imatrix.$ext")
  got=$(stat -c %s "$work/ours.imatrix.$ext" 2>/dev/null)
  [ "$got" = "$want" ] || fail "our .$ext imatrix has $got bytes, llama-imatrix's $want"
done
if [ $oracle_ok = 1 ]; then
  python3 - "$work/ours.imatrix.gguf" "$fixtures/stories260k.imatrix.gguf" "$work/ours.imatrix.dat" \
    >"$work/cmp" 2>&1 <<'EOF' || fail "values: $(cat "$work/cmp")"
# gguf-py reads both GGUF files; the legacy .dat is read with numpy (layout in docs/formats.md).
import struct, sys
import numpy as np
import gguf

def read_gguf(path):
    r = gguf.GGUFReader(path)
    assert r.fields["general.type"].contents() == "imatrix", path
    t = {x.name: np.array(x.data, dtype=np.float64) for x in r.tensors}
    names = sorted(n[:-len(".in_sum2")] for n in t if n.endswith(".in_sum2"))
    return {n: t[n + ".in_sum2"] / t[n + ".counts"][0] for n in names}, r

def read_dat(path):
    b = open(path, "rb").read()
    (n,), pos, out = struct.unpack_from("<i", b), 4, {}
    for _ in range(n):
        (ln,) = struct.unpack_from("<i", b, pos); pos += 4
        name = b[pos:pos + ln].decode(); pos += ln
        ncall, nval = struct.unpack_from("<ii", b, pos); pos += 8
        out[name] = np.frombuffer(b, "<f4", nval, pos).astype(np.float64) / ncall; pos += 4 * nval
    return out

ours, r = read_gguf(sys.argv[1])
peer, _ = read_gguf(sys.argv[2])
dat = read_dat(sys.argv[3])
assert list(r.fields["imatrix.datasets"].contents()) == ["tinyshakespeare-40k.txt"]
assert r.fields["imatrix.chunk_count"].contents() == 4 and r.fields["imatrix.chunk_size"].contents() == 128
assert sorted(ours) == sorted(peer) == sorted(dat), "tensor names differ"
# The bound of src/calib/imatrix_peer_test.cc: 8 * 2^-11 (llama.cpp's F16 KV cache).
worst = max(float(np.max(np.abs(ours[n] - peer[n]) / peer[n])) for n in peer)
assert worst <= 8 * 2**-11, f"max relative difference to llama-imatrix {worst:.3g}"
# Our .dat: (sum / 512) * 4 in F32, divided by 4 here: within 2 F32 ulps of the GGUF's means.
dat_worst = max(float(np.max(np.abs(dat[n] - ours[n]) / ours[n])) for n in ours)
assert dat_worst <= 2 * 2**-23, f".dat vs GGUF means differ by {dat_worst:.3g}"
print(f"max relative difference to llama-imatrix {worst:.3g}")
EOF
fi

# ---- quantize --imatrix ----
for im in "$fixtures/stories260k.imatrix.gguf" "$fixtures/stories260k.imatrix.dat" \
          "$work/ours.imatrix.gguf" "$work/ours.imatrix.dat"; do
  out="$work/q.gguf"
  rm -f "$out"
  "$shrink" quantize "$model" "$out" --type Q4_0 --imatrix "$im" --explain >"$work/plan" 2>"$work/log" ||
    { fail "quantize --imatrix $im: $(cat "$work/log")"; continue; }
  grep -q "quantize: imatrix $im (.*35 entries, 4 chunks" "$work/log" ||
    fail "$im: no imatrix summary: $(cat "$work/log")"
  grep -q "^blk.0.attn_q.weight .*Q4_0 base type: Q4_0; imatrix: importance-weighted" "$work/plan" ||
    fail "$im: --explain says nothing of the imatrix for blk.0.attn_q: $(grep attn_q "$work/plan" | head -1)"
  grep -q "^token_embd.weight .*imatrix has no entry for it" "$work/plan" ||
    fail "$im: --explain says nothing of token_embd's missing entry"
  grep -q "the imatrix weighs 30 of the 36 re-encoded matrices" "$work/plan" ||
    fail "$im: the summary does not count 30 weighted tensors (ffn_down falls back to F16): $(tail -1 "$work/plan")"
  if [ $oracle_ok = 1 ]; then
    python3 -c '
import sys, gguf
f = gguf.GGUFReader(sys.argv[1]).fields
assert f["quantize.imatrix.file"].contents() == sys.argv[2], f["quantize.imatrix.file"].contents()
assert f["quantize.imatrix.entries_count"].contents() == 35
assert f["quantize.imatrix.chunks_count"].contents() == 4
assert f["quantize.imatrix.dataset"].contents() == "tinyshakespeare-40k.txt"' "$out" "$im" \
      >"$work/kv" 2>&1 || fail "$im: quantize.imatrix.* keys: $(tail -3 "$work/kv")"
  fi
done

# ---- quantize --imatrix: bad input, all found before any tensor is written ----
q=(quantize "$model" "$work/bad.gguf" --type Q4_0)
expect_error "missing imatrix" "$work/none.dat" "${q[@]}" --imatrix "$work/none.dat"
head -c 1000 "$fixtures/stories260k.imatrix.gguf" >"$work/cut.gguf"
expect_error "truncated GGUF imatrix" "$work/cut.gguf: " "${q[@]}" --imatrix "$work/cut.gguf"
head -c 5000 "$fixtures/stories260k.imatrix.dat" >"$work/cut.dat"
expect_error "truncated .dat imatrix" "$work/cut.dat: entry|truncated" "${q[@]}" --imatrix "$work/cut.dat"
expect_error "model as imatrix" "general.type is missing, expected 'imatrix'" \
  "${q[@]}" --imatrix "$model"
expect_error "text as imatrix" "$text: entry count at offset 0|legacy .dat" \
  "${q[@]}" --imatrix "$text"
{ le32 1; dat_entry blk.0.attn_q.weight 4 32; } >"$work/narrow.dat"
expect_error "imatrix of another width" \
  "narrow.dat: entry 'blk.0.attn_q.weight' has 32 columns, but the model's tensor has rows of 64|another model" \
  "${q[@]}" --imatrix "$work/narrow.dat"
{ le32 1; dat_entry blk.0.attn_q.weight 4 64; } >"$work/partial.dat"
expect_error "imatrix missing entries" \
  "partial.dat: no entry for 'blk.0.attn_k.weight'|the imatrix has 1 entries" \
  "${q[@]}" --imatrix "$work/partial.dat"
[ -e "$work/bad.gguf" ] && fail "a failed quantize --imatrix left $work/bad.gguf"
sm="${SHRINK_CACHE:-$HOME/.cache/shrink}/models/smollm2-135m-instruct-q4_1.gguf"
if [ -f "$sm" ]; then
  expect_error "stories imatrix on SmolLM2" "has 64 columns, but the model's tensor has rows of 576" \
    quantize "$sm" "$work/bad.gguf" --type Q4_0 --imatrix "$fixtures/stories260k.imatrix.gguf"
  [ -e "$work/bad.gguf" ] && fail "quantize with a foreign imatrix left $work/bad.gguf"
fi

# ---- the llama.cpp peer reads our files (optional) ----
peer=${LLAMA_BIN:-${SHRINK_CACHE:-$HOME/.cache/shrink}/peers/llama-cpp-python-0.3.36/build/bin}
if [ -x "$peer/llama-quantize" ]; then
  for ext in gguf dat; do
    "$peer/llama-quantize" --imatrix "$work/ours.imatrix.$ext" "$model" "$work/peer.gguf" Q4_0 \
      >"$work/peer.log" 2>&1 || fail "llama-quantize --imatrix ours.imatrix.$ext: $(tail -3 "$work/peer.log")"
    grep -q "loaded 35 importance matrix entries from $work/ours.imatrix.$ext computed on 4 chunks" \
      "$work/peer.log" || fail "llama-quantize did not load ours.imatrix.$ext: $(grep -i imatrix "$work/peer.log")"
  done
else
  echo "note: llama-quantize is absent under $peer: the peer checks are skipped"
fi

if [ $failures -gt 0 ]; then
  echo "$failures failures"
  exit 1
fi
echo "imatrix_test: all checks passed"
