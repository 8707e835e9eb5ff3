#!/usr/bin/env bash
# `shrink prune` width pruning end to end on stories260K (llama2.c: 5 layers, width 64, 8 query heads
# and 4 key/value heads of 8, FFN 172):
#   - bad input: more heads kept than exist, --kv-heads not dividing --heads, heads that are not whole
#     GQA groups, --ffn 0, a width the output type's block cannot hold (the nearest valid values named),
#     width without calibration text, --target-params without --method width, width with sparsity:
#     status 1, one stderr line, no output file;
#   - uniform --ffn 96 --heads 4 --hidden 48 writes a llama file whose shapes gguf-py reads as pruned
#     (an independent reader), with key_length 8 stated; shrink perplexity runs it;
#   - --method width --target-params writes per-layer widths as architecture deci with i32 arrays that
#     agree with every tensor's shape (gguf-py); shrink perplexity runs it.
# Usage: prune_width_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/prune_lib.sh" "$2"
calib=(--calibration "$text" --ctx 64 --chunks 4)
expect_error "heads 10" "--heads 10|8 query heads" "$model" "$out" --tokenizer "$tok" --heads 10 "${calib[@]}"
expect_error "kv 5" "--kv-heads 5|4 key/value heads" "$model" "$out" --tokenizer "$tok" \
  --kv-heads 5 "${calib[@]}"
expect_error "kv not dividing" "--kv-heads 3 does not divide --heads 4" "$model" "$out" --tokenizer "$tok" \
  --heads 4 --kv-heads 3 "${calib[@]}"
expect_error "heads not whole groups" "whole groups|multiple of 2" "$model" "$out" --tokenizer "$tok" \
  --heads 3 "${calib[@]}"
expect_error "ffn 0" "--ffn 0|at least one FFN channel" "$model" "$out" --tokenizer "$tok" --ffn 0 "${calib[@]}"
expect_error "ffn misfit" "--ffn 100|32-element blocks of Q4_0|nearest valid: 96 or 128" "$model" "$out" \
  --tokenizer "$tok" --ffn 100 --type Q4_0 "${calib[@]}"
expect_error "no calibration" "--calibration" "$model" "$out" --tokenizer "$tok" --ffn 96
expect_error "target without method" "--target-params needs --method width" "$model" "$out" \
  --tokenizer "$tok" --target-params 200k "${calib[@]}"
expect_error "width and sparsity" "width pruning runs alone" "$model" "$out" --tokenizer "$tok" \
  --ffn 96 --sparsity 0.5 "${calib[@]}"
expect_error "target too small" "smallest this width pruning reaches" "$model" "$out" --tokenizer "$tok" \
  --method width --target-params 1000 "${calib[@]}"

ppl() { grep -o "Final estimate: PPL = [0-9.]*" "$1" | awk '{print $5}'; }

run_shrink prune "$model" "$work/u.gguf" --tokenizer "$tok" --ffn 96 --heads 4 --hidden 48 "${calib[@]}"
[ "$rc" -eq 0 ] || fail "uniform: exit $rc: $(tail -2 "$work/err")"
"$shrink" perplexity -m "$work/u.gguf" -f "$text" --ctx 64 --chunks 2 >"$work/pu" 2>&1 && [ -n "$(ppl "$work/pu")" ] ||
  fail "perplexity of the uniform file failed: $(tail -2 "$work/pu")"

run_shrink prune "$model" "$work/b.gguf" --tokenizer "$tok" --method width --target-params 150k --explain \
  "${calib[@]}"
[ "$rc" -eq 0 ] || fail "budget: exit $rc: $(tail -2 "$work/err")"
grep -q "^blk.0 " "$work/out" || fail "--explain: no per-layer width table: $(head -5 "$work/out")"
"$shrink" perplexity -m "$work/b.gguf" -f "$text" --ctx 64 --chunks 2 >"$work/pb" 2>&1 && [ -n "$(ppl "$work/pb")" ] ||
  fail "perplexity of the per-layer file failed: $(tail -2 "$work/pb")"

if python3 -c 'import gguf, numpy' 2>/dev/null; then
  python3 - "$work/u.gguf" "$work/b.gguf" >"$work/py" 2>&1 <<'PY' || fail "gguf-py check: $(cat "$work/py")"
import sys
import numpy as np
import gguf

def read(path):
    r = gguf.GGUFReader(path)
    kv = {}
    for f in r.fields.values():
        if f.types and f.types[0] == gguf.GGUFValueType.STRING:
            kv[f.name] = bytes(f.parts[f.data[0]]).decode()
        elif f.types and f.types[0] == gguf.GGUFValueType.ARRAY and len(f.types) > 1 \
                and f.types[1] != gguf.GGUFValueType.STRING:
            kv[f.name] = [int(f.parts[i][0]) for i in f.data]
        elif f.data:
            kv[f.name] = f.parts[f.data[0]].tolist()[0]
    shapes = {t.name: [int(x) for x in t.shape] for t in r.tensors}
    return kv, shapes

def per_layer(v, n):
    return v if isinstance(v, list) else [v] * n

def check(path, want_arch):
    kv, shapes = read(path)
    arch = kv["general.architecture"]
    assert arch == want_arch, (path, arch)
    a = arch + "."
    n = kv[a + "block_count"]
    C = kv[a + "embedding_length"]
    hd = kv[a + "attention.key_length"]
    assert kv[a + "attention.value_length"] == hd
    ffn = per_layer(kv[a + "feed_forward_length"], n)
    heads = per_layer(kv[a + "attention.head_count"], n)
    kvh = per_layer(kv[a + "attention.head_count_kv"], n)
    assert shapes["token_embd.weight"][0] == C
    for l in range(n):
        s = lambda name: shapes[f"blk.{l}.{name}.weight"]
        assert s("attn_norm") == [C] and s("ffn_norm") == [C], l
        assert s("attn_q") == [C, heads[l] * hd], (l, s("attn_q"))
        assert s("attn_k") == [C, kvh[l] * hd] and s("attn_v") == [C, kvh[l] * hd], l
        assert s("attn_output") == [heads[l] * hd, C], l
        assert s("ffn_gate") == [C, ffn[l]] and s("ffn_up") == [C, ffn[l]], l
        assert s("ffn_down") == [ffn[l], C], l
        assert heads[l] % kvh[l] == 0
    return kv, ffn, heads

kv, ffn, heads = check(sys.argv[1], "llama")
assert kv["llama.embedding_length"] == 48 and kv["llama.attention.key_length"] == 8
assert ffn == [96] * 5 and heads == [4] * 5
kv, ffn, heads = check(sys.argv[2], "deci")
assert isinstance(kv["deci.feed_forward_length"], list), "per-layer widths are not an array"
assert all(f % 32 == 0 or f == 172 for f in ffn), ffn
assert not any(k.startswith("llama.") for k in kv), "llama.* keys left beside deci.*"
print("ok")
PY
else
  echo "note: python3 with gguf and numpy is absent: the gguf-py check is skipped"
fi

finish prune_width_test
