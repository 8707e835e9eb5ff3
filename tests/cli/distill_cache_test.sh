#!/usr/bin/env bash
# `shrink distill --teacher-top-k K --teacher-cache FILE` end to end on stories260K (teacher and
# student the same GGUF):
#   - a run writing a fresh cache, a run reading it, and a run without a cache print the same losses
#     and validation lines and write byte-identical GGUFs (same seed, same threads); the reading run
#     runs the teacher for no window, the writing one for every window;
#   - a cache holding only a shorter run's windows (a stopped run) is continued: the longer run
#     reads those, runs the teacher for the rest, and writes the same GGUF as the others;
#   - the full-vocabulary loss gives another output (the top-k loss is what trains);
#   - a cache made with another --temperature, --teacher-top-k, --seq, teacher file or --data is
#     refused naming that field (one stderr line, exit 1, no output); so is a truncated record
#     (naming its offset), --teacher-cache without --teacher-top-k, --loss reverse-kl with it, and
#     a K above the vocabulary.
# Usage: distill_cache_test.sh SHRINK_BINARY SHARED_DIR
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
source "$(dirname "$0")/lib.sh"
head -c 20000 "$text" >"$work/text.txt"
head -c 15000 "$text" >"$work/other.txt"
"$shrink" quantize "$stories/stories260K.bin" "$work/s.gguf" --type F32 \
  --tokenizer "$stories/tok512.bin" >/dev/null 2>&1 || { echo "quantize to GGUF failed"; exit 1; }
"$shrink" quantize "$work/s.gguf" "$work/t8.gguf" --type Q8_0 >/dev/null 2>&1 \
  || { echo "quantize to Q8_0 failed"; exit 1; }
# A=(the distill arguments) with TEACHER DATA SEQ K (CLI11 refuses a flag given twice).
set_args() {
  A=(distill --teacher "$1" --student "$work/s.gguf" --data "$2" --seq "$3" --teacher-top-k "$4"
     --batch 4 --threads 2 --seed 3 --val-data "$work/text.txt" --val-every 4)
}
set_args "$work/s.gguf" "$work/text.txt" 64 16
run=("${A[@]}")

# The loss and validation lines without the timing parts.
losses() { grep -E "step [0-9]+/|validation at step" "$1" | sed 's/ | .*//'; }

run_shrink "${run[@]}" --tokens 2048 --teacher-cache "$work/c.tkc" --out "$work/a.gguf"
cp "$work/err" "$work/a.log"
[ "$rc" -eq 0 ] || fail "writing run: $(tail -1 "$work/a.log")"
expect_stderr_has "writing run" "teacher as its top 16 tokens per position plus the rest" \
  "0 of " "0 windows read from the cache, 32 run and appended (32 of "
run_shrink "${run[@]}" --tokens 2048 --teacher-cache "$work/c.tkc" --out "$work/b.gguf"
cp "$work/err" "$work/b.log"
[ "$rc" -eq 0 ] || fail "reading run: $(tail -1 "$work/b.log")"
expect_stderr_has "reading run" "32 windows read from the cache, 0 run"
run_shrink "${run[@]}" --tokens 2048 --out "$work/n.gguf"
cp "$work/err" "$work/n.log"
[ "$rc" -eq 0 ] || fail "run without a cache: $(tail -1 "$work/n.log")"
[ -n "$(losses "$work/a.log")" ] || fail "no loss lines in the writing run"
[ "$(losses "$work/a.log")" == "$(losses "$work/b.log")" ] \
  || fail "the reading run's losses differ: $(diff <(losses "$work/a.log") <(losses "$work/b.log") | head -4)"
[ "$(losses "$work/a.log")" == "$(losses "$work/n.log")" ] || fail "the run without a cache differs"
cmp -s "$work/a.gguf" "$work/b.gguf" || fail "the reading run's output differs"
cmp -s "$work/a.gguf" "$work/n.gguf" || fail "the run without a cache wrote another output"

# A cache holding the first 16 windows only (what a stopped run leaves) is continued.
run_shrink "${run[@]}" --tokens 1024 --teacher-cache "$work/p.tkc" --out "$work/p1.gguf"
[ "$rc" -eq 0 ] || fail "short run: $(tail -1 "$work/err")"
run_shrink "${run[@]}" --tokens 2048 --teacher-cache "$work/p.tkc" --out "$work/p2.gguf"
[ "$rc" -eq 0 ] || fail "continued run: $(tail -1 "$work/err")"
expect_stderr_has "continued run" "16 of " "16 windows read from the cache, 16 run and appended"
cmp -s "$work/a.gguf" "$work/p2.gguf" || fail "the continued run's output differs"
cmp -s "$work/c.tkc" "$work/p.tkc" || fail "the continued cache differs from the one-run cache"

run_shrink distill --teacher "$work/s.gguf" --student "$work/s.gguf" --data "$work/text.txt" \
  --seq 64 --batch 4 --threads 2 --seed 3 --tokens 2048 --out "$work/f.gguf"
[ "$rc" -eq 0 ] || fail "full-vocabulary run: $(tail -1 "$work/err")"
cmp -s "$work/a.gguf" "$work/f.gguf" && fail "the top-k run wrote the full-vocabulary run's output"

# Mismatches: each names its field, and nothing is written.
c=(--tokens 2048 --teacher-cache "$work/c.tkc" --out "$work/x.gguf")
expect_one_line_error "other temperature" "${run[@]}" "${c[@]}" --temperature 1 \
  && expect_stderr_has "other temperature" "made with --temperature 2, this run has 1"
set_args "$work/s.gguf" "$work/text.txt" 64 8
expect_one_line_error "other k" "${A[@]}" "${c[@]}" \
  && expect_stderr_has "other k" "made with --teacher-top-k 16, this run has 8"
set_args "$work/s.gguf" "$work/text.txt" 32 16
expect_one_line_error "other seq" "${A[@]}" "${c[@]}" \
  && expect_stderr_has "other seq" "made with --seq 64, this run has 32"
set_args "$work/t8.gguf" "$work/text.txt" 64 16
expect_one_line_error "other teacher" "${A[@]}" "${c[@]}" \
  && expect_stderr_has "other teacher" "made with teacher file ("
set_args "$work/s.gguf" "$work/other.txt" 64 16
expect_one_line_error "other data" "${A[@]}" "${c[@]}" \
  && expect_stderr_has "other data" "made with --data of "
expect_one_line_error "cache without k" distill --teacher "$work/s.gguf" --student "$work/s.gguf" \
  --data "$work/text.txt" "${c[@]}" \
  && expect_stderr_has "cache without k" "--teacher-cache needs --teacher-top-k"
expect_one_line_error "reverse kl" "${run[@]}" "${c[@]}" --loss reverse-kl \
  && expect_stderr_has "reverse kl" "--teacher-top-k works with --loss kl only"
set_args "$work/s.gguf" "$work/text.txt" 64 513
expect_one_line_error "k above vocabulary" "${A[@]}" "${c[@]}" \
  && expect_stderr_has "k above vocabulary" "--teacher-top-k is 513, above the vocabulary's 512"
size=$(stat -c %s "$work/c.tkc")
truncate -s $((size - 10)) "$work/c.tkc"
expect_one_line_error "truncated record" "${run[@]}" "${c[@]}" \
  && expect_stderr_has "truncated record" "is truncated (" "truncate -s "
[ ! -e "$work/x.gguf" ] || fail "a refused run left an output"
finish distill_cache_test
