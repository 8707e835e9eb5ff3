# Sourced by the bench/prune_*.sh scripts after bench/common.sh and bench_setup: the F32 base every pruned
# file starts from, its saved log-probs, and the prune-and-score steps they all run. The caller sets
# threads, chunks (evaluation chunks of 512) and work before calling these.
# Env: BASE=PATH of an F32 base and BASE_LOGITS=PATH of its saved log-probs skip making them (the chunk
# count and PPL are read beside the log-probs: BASE_LOGITS without .logits + .chunks / _ppl.txt).

# calibration_text: sets calib, the calibration text (tinyshakespeare: never the evaluation text).
calibration_text() {
  calib="$shared/data/tinyshakespeare/input.txt"
  require_file "$calib" "the shared/ folder beside the repository"
}

# prune_base: sets base (the model dequantized to F32 by `shrink quantize --type F32`, made when absent),
# base_logits (its log-probs on $text, ctx 512, over at least $chunks chunks: made again when the saved ones
# cover fewer), ppl_base (the base's PPL over the first $chunks chunks) and size_base (its bytes).
prune_base() {
  base="${BASE:-$work/base.gguf}"
  base_logits="${BASE_LOGITS:-$work/base.logits}"
  local stem="${base_logits%.logits}"
  if [[ ! -f "$base" ]]; then
    echo "== base: $model -> F32" >&2
    "$shrink" quantize "$model" "$base" --type F32 --threads "$threads" >"${base%.gguf}.txt" 2>&1 \
      || { echo "quantize to F32 failed (see ${base%.gguf}.txt)" >&2; exit 1; }
  fi
  if [[ ! -f "$base_logits" || "$(cat "$stem.chunks" 2>/dev/null || echo 0)" -lt "$chunks" ]]; then
    echo "== base log-probs ($chunks chunks)" >&2
    nice "$shrink" perplexity -m "$base" -f "$text" --ctx 512 --chunks "$chunks" --threads "$threads" \
      --save-logits "$base_logits" >"${stem}_ppl.txt" 2>&1 \
      || { echo "base perplexity failed (see ${stem}_ppl.txt)" >&2; exit 1; }
    echo "$chunks" >"$stem.chunks"
  fi
  ppl_base=$(base_ppl_at "$chunks")
  size_base=$(stat -c %s "$base")
}

# base_ppl_at N: the base's PPL over its first N chunks, the running estimate shrink perplexity printed
# after chunk N ("[10]15.8706,") when its log-probs were saved.
base_ppl_at() {
  local ppl
  ppl=$(grep -o "\[$1\][0-9.]*" "${base_logits%.logits}_ppl.txt" | head -1 | sed "s/^\[$1\]//")
  [[ -n "$ppl" ]] || { echo "no PPL after chunk $1 in ${base_logits%.logits}_ppl.txt" >&2; exit 1; }
  echo "$ppl"
}

# kld_fields FILE: "ppl kld top1" from a `shrink perplexity --kl-divergence` output.
kld_fields() { echo "$(field "$1" "Mean PPL(Q) ") $(field "$1" "Mean    KLD") $(field "$1" "Same top p")"; }

# score NAME|FILE.gguf: scores $work/NAME.gguf (or FILE.gguf) against $base_logits over the first $chunks
# chunks with `shrink perplexity --kl-divergence` (output beside it, .kld); prints "ppl kld top1".
score() {
  local file="$1"
  [[ "$file" == *.gguf ]] || file="$work/$1.gguf"
  local out="${file%.gguf}.kld"
  nice "$shrink" perplexity -m "$file" --kl-divergence "$base_logits" --chunks "$chunks" \
    --threads "$threads" >"$out" 2>&1 || { echo "perplexity failed on $file (see $out)" >&2; exit 1; }
  kld_fields "$out"
}

# prune_timed NAME ARG...: `shrink prune $base $work/NAME.gguf --threads $threads ARG...` (output to
# $work/NAME.txt; the input is $prune_input instead of $base when set); prints its wall seconds (also kept in $work/NAME.secs; the file's bytes and parameters
# in $work/NAME.size and NAME.params, which outlive the file: see size_of, pruned_params).
prune_timed() {
  local name=$1
  shift
  local t0
  t0=$(date +%s.%N)
  nice "$shrink" prune "${prune_input:-$base}" "$work/$name.gguf" --threads "$threads" "$@" \
    >"$work/$name.txt" 2>&1 \
    || { echo "prune failed: $* (see $work/$name.txt)" >&2; tail -3 "$work/$name.txt" >&2; exit 1; }
  stat -c %s "$work/$name.gguf" >"$work/$name.size"
  params_of "$work/$name.gguf" >"$work/$name.params"
  printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)" | tee "$work/$name.secs"
}

# prune_and_score NAME ARG...: prune_timed, then score; prints "secs ppl kld top1". A rerun with the same
# WORK reuses a NAME already pruned and scored (its .secs and a complete .kld) instead of redoing it.
# Call it as an assignment (result=$(prune_and_score ...)) so that a failure stops the bench under set -e.
prune_and_score() {
  local name=$1
  shift
  if [[ -f "$work/$name.secs" ]] && grep -q "Mean    KLD" "$work/$name.kld" 2>/dev/null; then
    echo "== $name: pruned and scored by an earlier run, reused" >&2
  else
    prune_timed "$name" "$@" >/dev/null
    score "$name" >/dev/null
  fi
  echo "$(cat "$work/$name.secs") $(kld_fields "$work/$name.kld")"
}

# size_of NAME: the bytes of $work/NAME.gguf as written by prune_timed (kept after the file is deleted).
size_of() { cat "$work/$1.size"; }
# pruned_params NAME: the parameters of $work/NAME.gguf as written by prune_timed (params_of).
pruned_params() { cat "$work/$1.params"; }

# params_of FILE: the parameter count `shrink inspect` gives for FILE (low-rank pairs counted as stored).
params_of() {
  "$shrink" inspect "$1" | sed -n 's/^total: .* bytes (.*), \([0-9]*\) parameters.*/\1/p'
}

# block_order FLAG...: sets order, the block indexes from least to most influential on the residual stream
# over the calibration text (FLAG...: --calibration etc.), measured once by `shrink prune --drop-layers 1
# --dry-run --explain` (output to $work/influence.txt); --drop-layers N drops the first N of this order.
# A rerun with the same WORK, base and FLAG... reuses the measurement (the key in $work/influence.key).
block_order() {
  local key="$base $*"
  if [[ "$(cat "$work/influence.key" 2>/dev/null)" == "$key" ]] && grep -qE '^  blk\.' "$work/influence.txt"; then
    echo "== block influence: measured by an earlier run, reused" >&2
  else
    echo "== block influence" >&2
    rm -f "$work/influence.key"
    nice "$shrink" prune "$base" --drop-layers 1 "$@" --threads "$threads" --dry-run --explain \
      >"$work/influence.txt" 2>&1 || { echo "influence failed (see $work/influence.txt)" >&2; exit 1; }
    echo "$key" >"$work/influence.key"
  fi
  order=($(grep -E '^  blk\.' "$work/influence.txt" | sort -g -k2 | awk '{print $1}' | sed 's/blk\.//'))
  [[ ${#order[@]} -gt 0 ]] || { echo "no block influence in $work/influence.txt" >&2; exit 1; }
}

# first_blocks N: the first N of $order as a sorted comma list (what --layers takes).
first_blocks() { printf '%s\n' "${order[@]:0:$1}" | sort -n | paste -sd,; }

# add_row ARRAY ROW: appends ROW to the named array and to $work/rows.md (a long run's figures survive
# an interruption there).
add_row() {
  local -n rows_ref=$1
  rows_ref+=("$2")
  echo "$2" | tee -a "$work/rows.md" >&2
}

# llama_ppl OUT ARG...: `$bin/llama-perplexity -nr ARG...` with its output in OUT; fails when it fails.
# llama.cpp's logger prints from a worker thread that is not joined at exit (common/log.cpp leaks it on
# purpose), so on a loaded machine the last lines, "Final estimate" included, are sometimes lost
# (seen here: a file ending at "[1]283.8980,"); the run is then repeated, up to 3 times in all.
llama_ppl() {
  local out=$1 try
  shift
  for try in 1 2 3; do
    "$bin/llama-perplexity" -nr "$@" >"$out" 2>&1 || return 1
    grep -q "Final estimate: PPL" "$out" && return 0
    echo "llama-perplexity: no final estimate in $out (its log lost at exit), run $try of 3" >&2
  done
}
