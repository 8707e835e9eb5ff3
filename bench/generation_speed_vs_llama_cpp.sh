#!/usr/bin/env bash
# Generation speed: `shrink generate` against llama-bench's tg test on the same GGUF file, in the same run,
# per thread count: tokens per second of both and the ratio shrink/llama.cpp (the table in BENCHMARKS.md's
# "Generation speed" section and README's generation figure).
#
# shrink: `shrink generate -m MODEL -p PROMPT -n N --temp 0 -t T`, REPS times; its timing line
# ("generated: N tokens in S s (R tok/s)") gives the decode speed, prompt excluded, as tg excludes it.
# llama.cpp: `llama-bench -m MODEL -p 0 -n N -t T1,T2 -r REPS --repack 0` (tg only, empty context; --repack 0:
# the plain CPU kernels, as this build's AMX repacking dies of SIGILL on VMs without AMX tiles).
# Both sides are greedy/argmax over one sequence; llama-bench generates from an empty context, shrink after a
# 6-token prompt, which changes the attention span by 6 of ~130 positions (under 5% of the attention work,
# itself a small part of a 135M model's token).
#
# The machine's load (uptime) is printed with the figures: on a shared machine they are indicative, and the
# ratio from one run (both tools under the same load, interleaved per thread count) is what to quote.
#
# Usage: bench/generation_speed_vs_llama_cpp.sh [--model smollm2|gemma3-270m|PATH] [--threads 1,2]
#                                               [-n 128] [--reps 2] [--prompt TEXT]
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh), WORK (default a temp folder: the raw outputs)
set -euo pipefail
cd "$(dirname "$0")/.."

model_arg=smollm2
threads=1,2
n=128
reps=2
prompt="The history of the Roman Empire"
usage="usage: $0 [--model smollm2|gemma3-270m|PATH] [--threads 1,2] [-n 128] [--reps 2] [--prompt TEXT]"
source bench/common.sh
while [[ $# -gt 0 ]]; do
  common_flag "$@" && { shift "$shift_by"; continue; }
  case "$1" in
    -n) n="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --prompt) prompt="$2"; shift 2 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
[[ $threads =~ ^[0-9]+(,[0-9]+)*$ && $n =~ ^[1-9][0-9]*$ && $reps =~ ^[1-9][0-9]*$ ]] ||
  { echo "$usage (--threads a comma-separated list, -n and --reps positive)" >&2; exit 2; }

bench_setup --peer

echo "model: $(basename "$model"); CPU: $(cpu_model) ($(nproc) cores); $(date -u '+%F %H:%M UTC')"
echo "load before: $(uptime | sed 's/.*load average/load average/')"

# shrink_tps T: mean decode tok/s over REPS runs with T threads (each run's figure to stderr).
shrink_tps() {
  local t=$1 r out sum=0 tps
  for ((r = 1; r <= reps; r++)); do
    out="$work/shrink_t${t}_r$r.txt"
    "$shrink" generate -m "$model" -p "$prompt" -n "$n" --temp 0 -t "$t" >"$out" 2>&1 ||
      { echo "shrink generate failed (see $out)" >&2; tail -3 "$out" >&2; exit 1; }
    local line
    line=$(grep -o "generated: [0-9]* tokens in [0-9.]* s ([0-9.]* tok/s)" "$out" | tail -1)
    [[ -n $line ]] || { echo "no timing line in $out" >&2; exit 1; }
    local count
    count=$(awk '{print $2}' <<<"$line")
    [[ $count -eq $n ]] || echo "note: shrink stopped after $count of $n tokens (end of text)" >&2
    tps=$(awk '{print $2 / $5}' <<<"$line")  # count / seconds: more digits than the rounded tok/s
    echo "  shrink -t $t run $r: $line" >&2
    sum=$(echo "$sum + $tps" | bc -l)
  done
  printf '%.2f\n' "$(echo "$sum / $reps" | bc -l)"
}

# llama_tps T: llama-bench tg N with T threads: "AVG STDDEV" tok/s (CSV columns avg_ts, stddev_ts).
llama_tps() {
  local t=$1 out="$work/llama_bench_t$1.csv"
  "$bin/llama-bench" -m "$model" -p 0 -n "$n" -t "$t" -r "$reps" --repack 0 -o csv >"$out" 2>"$work/llama_bench_t$t.err" ||
    { echo "llama-bench failed (see $work/llama_bench_t$t.err)" >&2; tail -3 "$work/llama_bench_t$t.err" >&2; exit 1; }
  python3 - "$out" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
tg = [r for r in rows if r["n_gen"] != "0" and r["n_prompt"] == "0"]
if len(tg) != 1:
    sys.exit(f"expected one tg row in {sys.argv[1]}, got {len(tg)}")
print(f'{float(tg[0]["avg_ts"]):.2f} {float(tg[0]["stddev_ts"]):.2f}')
EOF
}

printf '\n| threads | llama.cpp tg%s | shrink | ratio shrink/llama.cpp |\n|---|---|---|---|\n' "$n" >"$work/table.md"
IFS=, read -r -a thread_list <<<"$threads"
for t in "${thread_list[@]}"; do
  read -r l_avg l_sd <<<"$(llama_tps "$t")"
  s_avg=$(shrink_tps "$t")
  ratio=$(printf '%.2f' "$(echo "$s_avg / $l_avg" | bc -l)")
  printf '| %s | %s ± %s tok/s | %s tok/s | %sx |\n' "$t" "$l_avg" "$l_sd" "$s_avg" "$ratio" >>"$work/table.md"
done
cat "$work/table.md"
echo
echo "load after: $(uptime | sed 's/.*load average/load average/')"
echo "shrink: generate -p \"$prompt\" -n $n --temp 0 -t T, mean of $reps runs (decode only); llama.cpp: llama-bench -p 0 -n $n -t T -r $reps --repack 0"
echo "outputs: $work"
