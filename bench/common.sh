# Sourced by the bench/ scripts (from the repository root): where models, texts, shrink and the llama.cpp
# peer are, the flags every bench takes, and a timer. Env: SHRINK_CACHE (default ~/.cache/shrink), SHARED
# (default ../shared), SHRINK_BIN (default build/release/src/cli/shrink, built with the release preset when
# absent), WORK (default a new temp folder: where a bench keeps its outputs).

cache="${SHRINK_CACHE:-$HOME/.cache/shrink}"
shared="${SHARED:-$(cd .. && pwd)/shared}"

# model_path NAME: the cached file of a scripts/fetch-models name (smollm2, gemma3-270m), else NAME itself.
model_path() {
  case "$1" in
    smollm2) echo "$cache/models/smollm2-135m-instruct-q4_1.gguf" ;;
    gemma3-270m) echo "$cache/models/gemma-3-270m-q4_k_m.gguf" ;;
    *) echo "$1" ;;
  esac
}

# require_file PATH HINT: exits with a message naming PATH when it is absent.
require_file() { [[ -f "$1" ]] || { echo "missing $1: $2" >&2; exit 1; }; }

# shrink_binary: the shrink to measure, built when absent.
shrink_binary() {
  local shrink="${SHRINK_BIN:-build/release/src/cli/shrink}"
  if [[ ! -x "$shrink" ]]; then
    cmake --preset release >&2 && cmake --build build/release --target shrink >&2
  fi
  echo "$shrink"
}

# timed OUTFILE cmd...: runs cmd with stdout and stderr to OUTFILE, prints its wall seconds.
timed() {
  local out="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$out" 2>&1 || { echo "failed: $* (see $out)" >&2; tail -5 "$out" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

cpu_model() { lscpu | sed -n 's/^Model name: *//p'; }

# measured OUT cmd...: runs cmd under /usr/bin/time -v (output to OUT); prints "wall_s peak_rss_mb".
measured() {
  local out="$1"; shift
  /usr/bin/time -v "$@" >"$out" 2>&1 || { echo "failed: $* (see $out)" >&2; tail -5 "$out" >&2; exit 1; }
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out" \
         | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out")
  echo "$wall $(echo "scale=1; $rss / 1024" | bc)"
}

# field FILE LABEL: the first number after the last line of FILE containing LABEL (shrink perplexity
# --kl-divergence's "Mean    KLD", "Same top p", "Mean PPL(Q) "), without a % sign.
field() { grep "$2" "$1" | tail -1 | sed 's/.*: *//' | awk '{print $1}' | tr -d '%'; }

# final FILE: llama-perplexity's "Final estimate: PPL = X" from FILE.
final() { grep -o "Final estimate: PPL = [0-9.]*" "$1" | tail -1 | awk '{print $5}'; }

# load_average: the 1-minute load average and the core count ("13.46 on 2 cores").
load_average() { echo "$(cut -d' ' -f1 /proc/loadavg) on $(nproc) cores"; }

# common_flag ARG...: when $1 is a flag several benches take, sets its variable from $2 and shift_by to 2
# (the caller shifts); else returns 1. --model NAME|PATH (model_arg), --threads N (threads), --chunks N
# (chunks). Each bench sets its defaults before parsing:
#   while [[ $# -gt 0 ]]; do
#     common_flag "$@" && { shift "$shift_by"; continue; }
#     case "$1" in --own-flag) ...;; *) echo "$usage" >&2; exit 2 ;; esac
#   done
common_flag() {
  case "$1" in
    --model | --threads | --chunks)
      [[ $# -ge 2 ]] || { echo "$0: $1 needs a value" >&2; exit 2; }
      case "$1" in
        --model) model_arg="$2" ;;
        --threads) threads="$2" ;;
        --chunks) chunks="$2" ;;
      esac
      shift_by=2 ;;
    *) return 1 ;;
  esac
}

# bench_setup [--text] [--peer]: after parsing, sets model (the file of $model_arg, which must exist),
# shrink (the binary, built when absent) and work ($WORK or a new temp folder, created); with --text, text
# (WikiText-2 valid, which must exist); with --peer, bin (llama.cpp's tools folder, built when absent).
bench_setup() {
  model=$(model_path "$model_arg")
  require_file "$model" "run scripts/fetch-models [gemma3-270m]"
  local arg
  for arg in "$@"; do
    case "$arg" in
      --text)
        text="$shared/data/wikitext-2/valid.txt"
        require_file "$text" "the shared/ folder beside the repository" ;;
      --peer) bin="$(bench/peers/llama_cpp.sh | tail -n 1)" ;;
      *) echo "bench_setup: unknown option $arg" >&2; exit 2 ;;
    esac
  done
  shrink=$(shrink_binary)
  work="${WORK:-$(mktemp -d)}"
  mkdir -p "$work"
}

# make_base THREADS: $work/base.gguf, the model ($model) dequantized to F32 by shrink quantize (the
# base every comparison starts from); kept when already there.
make_base() {
  [[ -f "$work/base.gguf" ]] && return
  echo "== base: $model -> F32" >&2
  "$shrink" quantize "$model" "$work/base.gguf" --type F32 --threads "$1" >"$work/base.txt" 2>&1
}

# base_logits CHUNKS THREADS: $work/base.logits, the base's log-probs on $text (ctx 512); sets ppl_base.
base_logits() {
  if [[ ! -f "$work/base.logits" ]]; then
    echo "== base log-probs ($1 chunks)" >&2
    "$shrink" perplexity -m "$work/base.gguf" -f "$text" --ctx 512 --chunks "$1" --threads "$2" \
      --save-logits "$work/base.logits" >"$work/base_ppl.txt" 2>&1
  fi
  ppl_base=$(final "$work/base_ppl.txt")
}

# kld_of FILE THREADS: scores FILE against $work/base.logits with shrink perplexity --kl-divergence
# (output to FILE.kld); prints "mean_kld top1_percent ppl_q".
kld_of() {
  "$shrink" perplexity -m "$1" --kl-divergence "$work/base.logits" --threads "$2" >"$1.kld" 2>&1 \
    || { echo "shrink perplexity failed on $1 (see $1.kld)" >&2; exit 1; }
  echo "$(field "$1.kld" "Mean    KLD") $(field "$1.kld" "Same top p") $(field "$1.kld" "Mean PPL(Q) ")"
}
