#!/usr/bin/env bash
# shrink tokenize vs llama.cpp's llama-tokenize on all of WikiText-2 valid (1.1 MB), for SmolLM2-135M-Instruct
# (byte-level BPE) and Gemma-3-270M (SentencePiece-style, 262,144 pieces): the token count of each, whether
# the id sequences are identical (else the first differing position), and the wall time of each tool.
#
# Both tools read the file verbatim and print "[id, id, ...]". Each model is run twice: as llama-tokenize's
# defaults (BOS where the vocabulary adds it, special tokens parsed: WikiText's "<unk>" becomes Gemma's
# control token 3) and with --no-parse-special (the perplexity protocol: "<unk>" stays text). llama-tokenize
# gets --no-escape so that a backslash in the text is not read as an escape (shrink never processes
# escapes). A "load only" run (one-character prompt) shows how much of each time is loading the vocabulary.
#
# Usage: bench/tokenize_vs_llama_cpp.sh
# Env:   SHRINK_BIN (default build/release/src/cli/shrink, built with the release preset if absent),
#        SHRINK_CACHE (default ~/.cache/shrink), SHARED (default ../shared), WORK (default a temp folder)
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/common.sh
text="$shared/data/wikitext-2/valid.txt"
models=(smollm2-135m-instruct-q4_1.gguf gemma-3-270m-q4_k_m.gguf)
[[ -f "$text" ]] || { echo "missing $text (the shared/ folder beside the repository)" >&2; exit 1; }
for m in "${models[@]}"; do
  [[ -f "$cache/models/$m" ]] || { echo "missing $cache/models/$m" >&2; exit 1; }
done

bin="$(bench/peers/llama_cpp.sh | tail -n 1)"
shrink=$(shrink_binary)
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"

timed_stdout() {  # timed_stdout OUTFILE cmd...: as timed, but stdout alone to OUTFILE (stderr to OUTFILE.err)
  local out="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$out" 2> "$out.err" || { echo "failed: $* (see $out.err)" >&2; tail -5 "$out.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc
}

# count FILE: ids in a "[a, b, c]" line.
count() { tr -d '[]\n' < "$1" | tr ',' '\n' | grep -c '[0-9]' || true; }

# first_diff A B: "identical", or the first differing 0-based position and the ids there.
first_diff() {
  if cmp -s "$1" "$2"; then echo "identical"; return; fi
  tr -d '[]\n ' < "$1" | tr ',' '\n' > "$1.col"
  tr -d '[]\n ' < "$2" | tr ',' '\n' > "$2.col"
  local out line
  out=$(cmp "$1.col" "$2.col" 2>&1 || true)
  if grep -q EOF <<< "$out"; then
    echo "DIFFERENT: one sequence is a prefix of the other"
  else
    line=$(grep -o 'line [0-9]*' <<< "$out" | awk '{print $2}')
    echo "DIFFERENT at position $((line - 1)): llama $(sed -n "${line}p" "$1.col"), shrink $(sed -n "${line}p" "$2.col")"
  fi
}

echo "# shrink tokenize vs llama-tokenize, WikiText-2 valid ($(wc -c < "$text") bytes)"
echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'); CPU: $(cpu_model), $(nproc) cores"
echo "# shrink $(git rev-parse --short HEAD 2>/dev/null || echo '?'); llama.cpp from llama-cpp-python ${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
printf '%-32s %-17s %10s %10s %9s %9s %9s %9s  %s\n' model mode "llama tok" "shrink tok" "llama s" "shrink s" \
  "llama ld" "shrink ld" "ids"
all_same=1
for m in "${models[@]}"; do
  model="$cache/models/$m"
  name="${m%.gguf}"
  # Load only: a one-character prompt.
  ld_llama=$(timed_stdout "$work/$name.load.llama" "$bin/llama-tokenize" -m "$model" -p x --ids --log-disable)
  ld_shrink=$(timed_stdout "$work/$name.load.shrink" "$shrink" tokenize -m "$model" -p x --ids)
  for mode in default no-parse-special; do
    flags=()
    [[ "$mode" == no-parse-special ]] && flags=(--no-parse-special)
    a="$work/$name.$mode.llama"
    b="$work/$name.$mode.shrink"
    t_llama=$(timed_stdout "$a" "$bin/llama-tokenize" -m "$model" -f "$text" --ids --log-disable --no-escape "${flags[@]}")
    t_shrink=$(timed_stdout "$b" "$shrink" tokenize -m "$model" -f "$text" --ids "${flags[@]}")
    verdict=$(first_diff "$a" "$b")
    [[ "$verdict" == identical ]] || all_same=0
    printf '%-32s %-17s %10s %10s %9.2f %9.2f %9.2f %9.2f  %s\n' "$name" "$mode" "$(count "$a")" "$(count "$b")" \
      "$t_llama" "$t_shrink" "$ld_llama" "$ld_shrink" "$verdict"
  done
done
echo "# times: wall seconds of each whole process (load + tokenize + print); 'ld': the same for a 1-character prompt"
echo "# outputs in $work"
[[ "$all_same" -eq 1 ]] || exit 1
