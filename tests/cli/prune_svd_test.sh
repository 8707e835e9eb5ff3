#!/usr/bin/env bash
# `shrink prune --method svd` end to end on stories260K (llama2.c, 5 layers, width 64, FFN 172):
#   - bad input: neither or both of --rank-ratio / --target-params, a ratio outside (0, 1], a target at or
#     above the model's size or below what rank 1 everywhere reaches, a malformed count, --rank-ratio
#     without --method svd, svd mixed with sparsity: status 1, one stderr line, no output file;
#   - --rank-ratio 0.25 writes factor pairs (blk.N.<linear>.weight.lr_a/.lr_b) that shrink perplexity
#     runs and `shrink inspect` reports as shrink-only; gguf-py (an independent reader) sees the pairs'
#     shapes and shrink.low_rank.version = 1;
#   - --target-params: the written file's parameter count (shrink inspect) is at most the target, also
#     whitened with --calibration.
# Usage: prune_svd_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/prune_lib.sh" "$2"

params() { "$shrink" inspect "$1" | sed -n 's/^total: .* bytes (.*), \([0-9]*\) parameters.*/\1/p'; }
"$shrink" prune "$model" "$work/s0.gguf" --tokenizer "$tok" --sparsity 0 >/dev/null 2>&1
total=$(params "$work/s0.gguf")
[ -n "$total" ] || fail "no parameter count for the source"
"$shrink" inspect "$work/s0.gguf" | grep -q "^runtimes: shrink yes; llama.cpp yes" ||
  fail "inspect: a file without factors is not reported as loading in llama.cpp"

expect_error "neither" "--rank-ratio|--target-params" "$model" "$out" --tokenizer "$tok" --method svd
expect_error "both" "exactly one" "$model" "$out" --tokenizer "$tok" --method svd --rank-ratio 0.5 \
  --target-params 100K
expect_error "ratio 0" "--rank-ratio|(0, 1]" "$model" "$out" --tokenizer "$tok" --method svd --rank-ratio 0
expect_error "ratio 1.5" "--rank-ratio|(0, 1]" "$model" "$out" --tokenizer "$tok" --method svd \
  --rank-ratio 1.5
expect_error "target above" "--target-params|nothing to remove" "$model" "$out" --tokenizer "$tok" \
  --method svd --target-params 1G
expect_error "target below" "--target-params|below what low rank reaches" "$model" "$out" \
  --tokenizer "$tok" --method svd --target-params 1000
expect_error "target junk" "--target-params|100M" "$model" "$out" --tokenizer "$tok" --method svd \
  --target-params 12abc
expect_error "ratio without svd" "--method svd" "$model" "$out" --tokenizer "$tok" --rank-ratio 0.5
expect_error "svd and sparsity" "--method svd" "$model" "$out" --tokenizer "$tok" --method svd \
  --rank-ratio 0.5 --sparsity 0.5

# Rank ratio: every linear at a quarter of its rank; the file runs in shrink, not in llama.cpp.
run_shrink prune "$model" "$work/r25.gguf" --tokenizer "$tok" --method svd --rank-ratio 0.25 --explain
[ "$rc" -eq 0 ] || fail "--rank-ratio 0.25: exit $rc: $(tail -2 "$work/err")"
grep -q "blk.0.ffn_up.weight .*rank *16 of 64" "$work/out" ||
  fail "--explain: no 'blk.0.ffn_up.weight rank 16 of 64' line: $(head -4 "$work/out")"
"$shrink" inspect "$work/r25.gguf" >"$work/i" 2>&1
grep -q "^runtimes: shrink yes; llama.cpp no (35 linears" "$work/i" ||
  fail "inspect: no shrink-only runtimes line: $(grep runtimes "$work/i")"
"$shrink" perplexity -m "$work/r25.gguf" -f "$text" --ctx 64 --chunks 2 >"$work/p" 2>&1 ||
  fail "perplexity of the factored file failed: $(tail -2 "$work/p")"
[ "$(params "$work/r25.gguf")" -lt "$total" ] || fail "--rank-ratio 0.25 removed nothing"
if python3 -c 'import gguf' 2>/dev/null; then
  python3 - "$work/r25.gguf" >"$work/py" 2>&1 <<'PY' || fail "gguf-py check of the factored file: $(cat "$work/py")"
import sys
import gguf
r = gguf.GGUFReader(sys.argv[1])
kv = {f.name: f for f in r.fields.values()}
assert int(kv["shrink.low_rank.version"].parts[-1][0]) == 1
t = {x.name: x for x in r.tensors}
# ggml shapes: W (172, 64) stored ne = [64, 172]; A: ne [64, r], B: ne [r, 172].
a, b = t["blk.2.ffn_up.weight.lr_a"], t["blk.2.ffn_up.weight.lr_b"]
assert list(a.shape) == [64, 16] and list(b.shape) == [16, 172], (a.shape, b.shape)
assert "blk.2.ffn_up.weight" not in t
assert list(t["blk.2.ffn_down.weight.lr_a"].shape) == [172, 16]
print("ok")
PY
fi

# Parameter budgets, plain and whitened: the file has at most the target.
target=$((total * 3 / 4))
run_shrink prune "$model" "$work/t.gguf" --tokenizer "$tok" --method svd --target-params "$target"
[ "$rc" -eq 0 ] || fail "--target-params $target: exit $rc: $(tail -2 "$work/err")"
[ "$(params "$work/t.gguf")" -le "$target" ] || fail "--target-params $target: $(params "$work/t.gguf") parameters"
run_shrink prune "$model" "$work/w.gguf" --tokenizer "$tok" --method svd --target-params "$target" \
  --calibration "$text" --ctx 64
[ "$rc" -eq 0 ] || fail "whitened --target-params: exit $rc: $(tail -2 "$work/err")"
[ "$(params "$work/w.gguf")" -le "$target" ] || fail "whitened: $(params "$work/w.gguf") parameters"
"$shrink" perplexity -m "$work/w.gguf" -f "$text" --ctx 64 --chunks 2 >"$work/p" 2>&1 ||
  fail "perplexity of the whitened file failed: $(tail -2 "$work/p")"

finish prune_svd_test
