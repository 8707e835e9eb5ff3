#!/usr/bin/env bash
# `shrink distill` end to end on stories260K (teacher and student the same GGUF):
#   - data shorter than one sequence: status 1, one stderr line, no output file;
#   - a run prints validation and progress lines and writes a GGUF;
#   - --checkpoint-every + --resume: the resumed run writes a file byte-identical to the
#     uninterrupted one; --resume with a changed --lr or --threads names the flag;
#   - --quantize Q4_0 (quantization-aware distillation) writes attn_q/attn_output as Q4_0 (ffn_down's
#     172-wide rows fall back); --type naming another type is refused;
#   - --rounding exact: one step that moves no weight (--lr 1e-30) writes the tensors `quantize
#     --rounding exact` writes, byte for byte (step 0 reads the exact-step grid); a run resumed
#     from a checkpoint writes the same file as an uninterrupted one; without --quantize, or with
#     a rounding it does not know, it is a one-line error;
#   - Ctrl-C (SIGINT) during `shrink train --checkpoint` writes the checkpoint, says how to resume,
#     exits 1 and writes no output;
#   - --student-config: a student cut from the teacher (3 of 5 layers, width 32, 4 heads, FFN 96)
#     trains and is written with that shape (gguf-py reads it back); both or neither of --student
#     and --student-config, and a shape the teacher cannot give, are one-line errors with no output.
# Usage: distill_test.sh SHRINK_BINARY SHARED_DIR
set -u
shrink=$(realpath "$1")
shared=$2
stories="$shared/models/stories260K"
text="$shared/data/tinyshakespeare/input.txt"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ ! -f "$stories/stories260K.bin" ] || [ ! -f "$text" ]; then
  echo "skipped: $stories/stories260K.bin or $text is absent"
  exit 77
fi
fail() { echo "distill_test: $*" >&2; exit 1; }
head -c 20000 "$text" >"$work/text.txt"
printf 'To be' >"$work/short.txt"
"$shrink" quantize "$stories/stories260K.bin" "$work/s.gguf" --type F32 \
  --tokenizer "$stories/tok512.bin" >/dev/null 2>&1 || fail "quantize to GGUF failed"
run=(--teacher "$work/s.gguf" --student "$work/s.gguf" --tokens 2048
     --seq 64 --batch 4 --threads 2 --val-data "$work/text.txt" --val-every 4)
data=(--data "$work/text.txt")

"$shrink" distill "${run[@]}" --data "$work/short.txt" --out "$work/x.gguf" 2>"$work/err" \
  && fail "short data accepted"
[ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "needs at least 65" "$work/err" \
  || fail "short data: $(cat "$work/err")"
[ ! -e "$work/x.gguf" ] || fail "short data left an output"

"$shrink" distill "${run[@]}" "${data[@]}" --out "$work/a.gguf" --checkpoint "$work/c.ckpt" \
  --checkpoint-every 4 2>"$work/a.log" || fail "distill failed: $(tail -1 "$work/a.log")"
grep -q "validation at step 8: PPL" "$work/a.log" || fail "no validation line"
grep -q "step 8/8 loss .* (KL .* CE .*) .* tokens/s | ETA" "$work/a.log" || fail "no progress line"
grep -q "checkpoint at step 4" "$work/a.log" || fail "no checkpoint line"
"$shrink" distill "${run[@]}" "${data[@]}" --out "$work/b.gguf" --resume "$work/c.ckpt" 2>"$work/b.log" \
  || fail "resume failed: $(tail -1 "$work/b.log")"
grep -q "resumed from .* at step 4/8" "$work/b.log" || fail "no resume line"
cmp -s "$work/a.gguf" "$work/b.gguf" || fail "the resumed run's output differs"
"$shrink" distill "${run[@]}" "${data[@]}" --lr 2e-4 --out "$work/c.gguf" --resume "$work/c.ckpt" \
  2>"$work/err" && fail "changed --lr accepted"
grep -q -- "--lr is 0.0002, the checkpoint's run used 0.0001" "$work/err" || fail "$(cat "$work/err")"
one_thread=("${run[@]}")
for i in "${!one_thread[@]}"; do [[ "${one_thread[i]}" == --threads ]] && one_thread[i + 1]=1; done
"$shrink" distill "${one_thread[@]}" "${data[@]}" --out "$work/c.gguf" --resume "$work/c.ckpt" \
  2>"$work/err" && fail "changed --threads accepted"
grep -q -- "--threads is 1, the checkpoint's run used 2" "$work/err" || fail "$(cat "$work/err")"

"$shrink" train -m "$work/s.gguf" --data "$work/text.txt" --steps 100000 --seq 64 --threads 2 \
  --out "$work/t.gguf" --checkpoint "$work/t.ckpt" 2>"$work/t.log" &
pid=$!
for _ in $(seq 100); do grep -q "step" "$work/t.log" 2>/dev/null && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid" && fail "interrupted train exited 0"
grep -q "interrupted at step .*; continue with --resume" "$work/t.log" || fail "$(tail -1 "$work/t.log")"
[ -f "$work/t.ckpt" ] || fail "no checkpoint after Ctrl-C"
[ ! -e "$work/t.gguf" ] || fail "interrupted train left an output"
"$shrink" distill "${run[@]}" "${data[@]}" --quantize Q4_0 --out "$work/q.gguf" 2>"$work/q.log" \
  || fail "distill --quantize failed: $(tail -1 "$work/q.log")"
grep -q "quantization-aware: [1-9][0-9]* of .* tensors fake-quantized as the Q4_0 plan" "$work/q.log" \
  || fail "no quantization-aware line: $(grep quantization "$work/q.log")"
python3 - "$work/q.gguf" <<'PY' || fail "the QAT output's block linears are not Q4_0"
import sys
from gguf import GGUFReader
types = {t.name: t.tensor_type.name for t in GGUFReader(sys.argv[1]).tensors}
linears = [n for n in types if n.startswith("blk.") and n.endswith(("attn_q.weight", "attn_output.weight"))]
sys.exit(0 if linears and all(types[n] == "Q4_0" for n in linears) else 1)
PY
"$shrink" quantize "$work/s.gguf" "$work/qx.gguf" --type Q4_0 --rounding exact >/dev/null 2>&1 \
  || fail "quantize --rounding exact failed"
"$shrink" distill --teacher "$work/s.gguf" --student "$work/s.gguf" --tokens 256 --seq 64 --batch 4 \
  --threads 2 "${data[@]}" --quantize Q4_0 --rounding exact --lr 1e-30 --out "$work/x0.gguf" \
  2>"$work/x0.log" || fail "distill --rounding exact failed: $(tail -1 "$work/x0.log")"
grep -q -- "--rounding exact: the one-scale blocks' steps searched exactly" "$work/x0.log" \
  || fail "no exact-steps line: $(grep rounding "$work/x0.log")"
python3 - "$work/qx.gguf" "$work/x0.gguf" <<'PY' || fail "step 0 of --rounding exact is not quantize --rounding exact's grid"
import sys
from gguf import GGUFReader
a, b = (GGUFReader(p).tensors for p in sys.argv[1:3])
assert [t.name for t in a] == [t.name for t in b]
assert any(t.tensor_type.name == "Q4_0" for t in a)
for s, t in zip(a, b):
    assert s.tensor_type == t.tensor_type and bytes(s.data.tobytes()) == bytes(t.data.tobytes()), s.name
PY
xrun=("${run[@]}" "${data[@]}" --quantize Q4_0 --rounding exact)
"$shrink" distill "${xrun[@]}" --out "$work/xa.gguf" --checkpoint "$work/x.ckpt" --checkpoint-every 4 \
  2>"$work/xa.log" || fail "distill --rounding exact failed: $(tail -1 "$work/xa.log")"
"$shrink" distill "${xrun[@]}" --out "$work/xb.gguf" --resume "$work/x.ckpt" 2>"$work/xb.log" \
  || fail "resume --rounding exact failed: $(tail -1 "$work/xb.log")"
cmp -s "$work/xa.gguf" "$work/xb.gguf" || fail "the resumed --rounding exact run's output differs"
cmp -s "$work/xa.gguf" "$work/q.gguf" && fail "--rounding exact changed nothing in the QAT file"
"$shrink" distill "${run[@]}" "${data[@]}" --rounding exact --out "$work/r.gguf" 2>"$work/err" \
  && fail "--rounding exact without --quantize accepted"
grep -q -- "--rounding exact .* needs --quantize" "$work/err" || fail "$(cat "$work/err")"
"$shrink" distill "${run[@]}" "${data[@]}" --quantize Q4_0 --rounding best --out "$work/r.gguf" \
  2>"$work/err" && fail "--rounding best accepted"
grep -q -- '--rounding is "best", expected ggml or exact' "$work/err" || fail "$(cat "$work/err")"
"$shrink" distill "${run[@]}" "${data[@]}" --quantize Q4_0 --type Q8_0 --out "$work/r.gguf" \
  2>"$work/err" && fail "--type Q8_0 with --quantize Q4_0 accepted"
grep -q "the output type is the trained one" "$work/err" || fail "$(cat "$work/err")"
cfg=(--teacher "$work/s.gguf" --tokens 256 --seq 64 --batch 2 --threads 2 "${data[@]}")
"$shrink" distill "${cfg[@]}" --student-config layers=3,width=32,heads=4,ffn=96 \
  --out "$work/small.gguf" 2>"$work/small.log" || fail "--student-config failed: $(tail -1 "$work/small.log")"
grep -q "student --student-config layers=3,width=32,heads=4,ffn=96 (llama: 3 layers, d_model 32" \
  "$work/small.log" || fail "no student line: $(grep student "$work/small.log")"
python3 - "$work/small.gguf" <<'PY' || fail "the student's shape in the GGUF is wrong"
import sys
from gguf import GGUFReader
r = GGUFReader(sys.argv[1])
def value(key):
    f = r.fields[key]
    return int(f.parts[f.data[0]][0])
shape = {t.name: [int(x) for x in t.shape] for t in r.tensors}
ok = (value("llama.block_count") == 3 and value("llama.embedding_length") == 32
      and value("llama.feed_forward_length") == 96 and value("llama.attention.head_count") == 4
      and shape["blk.2.ffn_gate.weight"] == [32, 96] and "blk.3.ffn_gate.weight" not in shape)
sys.exit(0 if ok else 1)
PY
"$shrink" distill "${cfg[@]}" --student "$work/s.gguf" --student-config layers=3 --out "$work/y.gguf" \
  2>"$work/err" && fail "--student with --student-config accepted"
grep -q "one of the two" "$work/err" || fail "$(cat "$work/err")"
"$shrink" distill "${cfg[@]}" --out "$work/y.gguf" 2>"$work/err" && fail "no student accepted"
grep -q "one of the two" "$work/err" || fail "$(cat "$work/err")"
"$shrink" distill "${cfg[@]}" --student-config layers=9 --out "$work/y.gguf" 2>"$work/err" \
  && fail "layers=9 accepted"
[ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "layers=9: the teacher has 5 layers" "$work/err" \
  || fail "layers=9: $(cat "$work/err")"
"$shrink" distill "${cfg[@]}" --student-config layers=3,depth=2 --out "$work/y.gguf" 2>"$work/err" \
  && fail "an unknown key accepted"
grep -q "unknown key 'depth'" "$work/err" || fail "$(cat "$work/err")"
[ ! -e "$work/y.gguf" ] || fail "a refused run left an output"
echo "distill_test: all checks passed"
