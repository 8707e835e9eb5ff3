#!/usr/bin/env bash
# `shrink prune` end to end on stories260K (llama2.c, 5 layers):
#   - bad input: sparsity outside [0, 1), a pattern with N >= M or whose M does not divide a row, dropping
#     every layer (by count and by list), an unknown layer index, Wanda or --drop-layers without
#     calibration text, nothing to prune: status 1, one stderr line, no output file;
#   - --layers 1,3 writes a 3-layer GGUF that shrink perplexity runs; --drop-layers 2 with calibration
#     drops two layers it names; --method wanda --pattern 2:4 --type Q8_0 writes a Q8_0 file with the
#     shrink.prune.* keys and exactly two zeros in every group of four of every block linear (gguf-py,
#     when installed: an independent reader of the file);
#   - --sparsity 0 writes the weights it read: perplexity equals the source's to the printed digit;
#   - Ctrl-C mid-write (cached SmolLM2) leaves no file at the output path; a rerun clears the temp.
# Usage: prune_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/prune_lib.sh" "$2"

expect_error "sparsity 1" "--sparsity|[0, 1)" "$model" "$out" --tokenizer "$tok" --sparsity 1
expect_error "sparsity negative" "--sparsity" "$model" "$out" --tokenizer "$tok" --sparsity -0.2
expect_error "sparsity nan" "--sparsity" "$model" "$out" --tokenizer "$tok" --sparsity nan
expect_error "pattern 4:4" "--pattern|less than M" "$model" "$out" --tokenizer "$tok" --pattern 4:4
expect_error "pattern 5:4" "--pattern|less than M" "$model" "$out" --tokenizer "$tok" --pattern 5:4
expect_error "pattern junk" "--pattern|N:M" "$model" "$out" --tokenizer "$tok" --pattern two
expect_error "pattern 2:5" "rows of 64|groups of 5" "$model" "$out" --tokenizer "$tok" --pattern 2:5
expect_error "both" "--sparsity and --pattern" "$model" "$out" --tokenizer "$tok" --sparsity 0.5 \
  --pattern 2:4
expect_error "drop all by count" "--drop-layers 5|leaves none" "$model" "$out" --tokenizer "$tok" \
  --drop-layers 5 --calibration "$text"
expect_error "drop all by list" "leaves none" "$model" "$out" --tokenizer "$tok" --layers 0,1,2,3,4
expect_error "unknown layer" "layer 5 does not exist|0..4" "$model" "$out" --tokenizer "$tok" \
  --layers 1,5
expect_error "bad layer list" "--layers" "$model" "$out" --tokenizer "$tok" --layers 1,,2
expect_error "wanda without text" "--calibration" "$model" "$out" --tokenizer "$tok" \
  --method wanda --sparsity 0.5
expect_error "depth without text" "--calibration" "$model" "$out" --tokenizer "$tok" --drop-layers 1
expect_error "nothing to prune" "nothing to prune" "$model" "$out" --tokenizer "$tok"
expect_error "bad method" "--method" "$model" "$out" --tokenizer "$tok" --method random \
  --sparsity 0.5
expect_error "bad type" "Q9_9" "$model" "$out" --tokenizer "$tok" --sparsity 0.5 --type Q9_9
expect_error "percdamp 0" "--percdamp 0|> 0" "$model" "$out" --tokenizer "$tok" --method sparsegpt \
  --sparsity 0.5 --percdamp 0
expect_error "bad mask scope" "--mask-scope|block or row" "$model" "$out" --tokenizer "$tok" \
  --method sparsegpt --sparsity 0.5 --mask-scope column
expect_error "mask scope without sparsegpt" "--mask-scope|--method sparsegpt" "$model" "$out" \
  --tokenizer "$tok" --method wanda --sparsity 0.5 --mask-scope row

ppl() { grep -o "Final estimate: PPL = [0-9.]*" "$1" | awk '{print $5}'; }
"$shrink" perplexity -m "$model" --tokenizer "$tok" -f "$text" --ctx 64 --chunks 4 >"$work/p0" 2>&1 ||
  fail "perplexity of the source failed: $(tail -2 "$work/p0")"

# Sparsity 0 rewrites the weights unchanged: the same perplexity.
run_shrink prune "$model" "$work/s0.gguf" --tokenizer "$tok" --sparsity 0
[ "$rc" -eq 0 ] || fail "sparsity 0: exit $rc: $(tail -2 "$work/err")"
"$shrink" perplexity -m "$work/s0.gguf" -f "$text" --ctx 64 --chunks 4 >"$work/p1" 2>&1 ||
  fail "perplexity of the sparsity-0 file failed: $(tail -2 "$work/p1")"
[ "$(ppl "$work/p0")" = "$(ppl "$work/p1")" ] && [ -n "$(ppl "$work/p0")" ] ||
  fail "sparsity 0: PPL $(ppl "$work/p1"), the source's $(ppl "$work/p0")"

# Explicit layers: 3 of 5 remain and the file runs.
run_shrink prune "$model" "$work/l13.gguf" --tokenizer "$tok" --layers 1,3
[ "$rc" -eq 0 ] || fail "--layers 1,3: exit $rc: $(tail -2 "$work/err")"
"$shrink" perplexity -m "$work/l13.gguf" -f "$text" --ctx 64 --chunks 2 >"$work/p2" 2>&1 ||
  fail "perplexity of the 3-layer file failed: $(tail -2 "$work/p2")"
"$shrink" inspect "$work/l13.gguf" >"$work/i2" 2>&1
grep -Eq "llama.block_count +u32 +3$" "$work/i2" || fail "--layers 1,3: block_count is not 3: $(head -6 "$work/i2")"
grep -q "blk.2.ffn_down.weight" "$work/i2" && ! grep -q "blk.3." "$work/i2" ||
  fail "--layers 1,3: tensors are not renamed blk.0..2: $(grep blk "$work/i2" | head -3)"

# By influence, with --dry-run and --explain: the influence table and the two dropped layers.
run_shrink prune "$model" --tokenizer "$tok" --drop-layers 2 --calibration "$text" --ctx 64 \
  --dry-run --explain
[ "$rc" -eq 0 ] || fail "--drop-layers 2 --dry-run: exit $rc: $(tail -2 "$work/err")"
[ "$(grep -c "dropped$" "$work/out")" -eq 2 ] || fail "--drop-layers 2: not two layers marked: $(cat "$work/out")"
grep -q "dry run: nothing written" "$work/out" || fail "--dry-run: no dry-run line"

# Wanda 2:4 into Q8_0, checked by gguf-py.
run_shrink prune "$model" "$work/w24.gguf" --tokenizer "$tok" --method wanda --pattern 2:4 --type Q8_0 \
  --calibration "$text" --ctx 64 --explain
[ "$rc" -eq 0 ] || fail "wanda 2:4 Q8_0: exit $rc: $(tail -2 "$work/err")"
grep -q "blk.0.attn_q.weight .*Q8_0 kept 0.5000" "$work/out" ||
  fail "--explain: no 'blk.0.attn_q.weight Q8_0 kept 0.5000' line: $(head -5 "$work/out")"
if python3 -c 'import gguf, numpy' 2>/dev/null; then
  python3 - "$work/w24.gguf" >"$work/py" 2>&1 <<'PY' || fail "gguf-py check of the 2:4 Q8_0 file: $(cat "$work/py")"
import sys
import numpy as np
import gguf
from gguf.quants import dequantize
r = gguf.GGUFReader(sys.argv[1])
kv = {f.name: f for f in r.fields.values()}
def s(name): return bytes(kv[name].parts[kv[name].data[0]]).decode()
assert s("shrink.prune.method") == "wanda", s("shrink.prune.method")
assert s("shrink.prune.pattern") == "2:4"
linears = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
n = 0
for t in r.tensors:
    w = dequantize(t.data, t.tensor_type).reshape(-1, 4)
    zeros = (w == 0).sum(axis=1)
    if t.name.startswith("blk.") and t.name.split(".")[2] in linears:
        # Rows of 172 (ffn_down) are not whole Q8_0 blocks: the plan's fallback type holds them.
        if t.shape[0] % 32 == 0:
            assert t.tensor_type == gguf.GGMLQuantizationType.Q8_0, t.name
        assert (zeros >= 2).all(), f"{t.name}: a group keeps more than 2"
        n += 1
assert n == 35, n
print("ok")
PY
else
  echo "note: python3 with gguf and numpy is absent: the gguf-py check is skipped"
fi

# SparseGPT with --mask-scope row: every block linear (5 layers × 7) keeps exactly half of each row.
run_shrink prune "$model" "$work/sg.gguf" --tokenizer "$tok" --method sparsegpt --sparsity 0.5 \
  --mask-scope row --percdamp 0.05 --calibration "$text" --ctx 64 --explain
[ "$rc" -eq 0 ] || fail "sparsegpt row scope: exit $rc: $(tail -2 "$work/err")"
[ "$(grep -c "kept 0.5000$" "$work/out")" -eq 35 ] ||
  fail "sparsegpt row scope: not 35 tensors at kept 0.5000: $(head -5 "$work/out")"

# Ctrl-C (SIGINT) mid-write leaves nothing at the output path, and a rerun writes it and clears the dead
# run's temp (io/atomic_file.h). Needs the cached SmolLM2 (a run long enough to interrupt).
smollm2="${SHRINK_CACHE:-$HOME/.cache/shrink}/models/smollm2-135m-instruct-q4_1.gguf"
if [[ -f "$smollm2" ]]; then
  mkdir -p "$work/int"
  # A background job of a script starts with SIGINT ignored; restore the default, as a terminal's
  # foreground process has it, before exec'ing shrink.
  python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$shrink" prune "$smollm2" "$work/int/out.gguf" --sparsity 0.5 >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    compgen -G "$work/int/out.gguf.tmp.*" >/dev/null && break
    sleep 0.05
  done
  kill -INT "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ ! -e "$work/int/out.gguf" ] || fail "Ctrl-C: a file was left at the output path"
  "$shrink" prune "$smollm2" "$work/int/out.gguf" --sparsity 0.5 --type Q8_0 >/dev/null 2>&1 ||
    fail "Ctrl-C: the rerun failed"
  [ -f "$work/int/out.gguf" ] || fail "Ctrl-C: the rerun wrote no file"
  left=$(find "$work/int" -name 'out.gguf.tmp.*' | wc -l)
  [ "$left" -eq 0 ] || fail "Ctrl-C: $left temp files remain after the rerun"
else
  echo "note: $smollm2 is absent: the Ctrl-C check is skipped"
  skipped=1
fi

finish prune_test
