#!/usr/bin/env bash
# shrink bench vs llama-bench on the same model files, in the same run, interleaved (issue 8):
# prompt processing (ppP) and generation (tgN) tokens/s at each thread count, the ratios shrink / llama.cpp
# (per thread count, and best thread count against best thread count), and each tool's peak RSS
# (/usr/bin/time -v). `uptime` is printed before every measurement: on a shared machine the load of other
# processes moves both tools, which is why they alternate (llama, shrink, llama, shrink...) and each
# figure is the mean over rounds of each tool's mean over -r repetitions.
#
# Generation is bound by memory bandwidth: every token reads all the weights. A STREAM-style read of 96 MiB
# per thread (kernels_benchmark's StreamRead, or ParallelStreamRead at t threads; wall time) runs between
# the tools in each round at each thread count, and each tg row shows the file's bytes × tokens/s as a
# share of the read bandwidth at its thread count.
#
# llama-bench runs with its defaults (repacked kernels on). Where that crashes (this llama.cpp build dies in
# its AMX repack kernels on VMs that do not enable AMX tiles) it is rerun with --repack 0, and the table
# says so.
#
# --load N starts N busy-loop CPU burners (one shell each, at the script's priority) before the
# first run and kills them on exit, so both tools run beside the same competing load for the whole
# run (issue 8: "with a 2-thread CPU load running beside both, shrink's generation keeps its
# lead"). The summary says so.
#
# --kv-type f16 runs shrink with an F16 KV cache (llama-bench's default cache is F16 too).
#
# Usage: bench/runtime_vs_llama_cpp.sh [--models "smollm2 gemma3-270m PATH..."] [-p 512] [-n 128]
#                                      [-t 1,2] [-r 3] [--rounds 2] [--load N] [--kv-type f16]
#                                      [--summary-only]
# --summary-only prints the tables again from the logs of an earlier run in WORK (same arguments).
# Env:   SHRINK_BIN, SHRINK_CACHE, SHARED (bench/common.sh); WORK (default a temp folder, for the logs)
set -euo pipefail
cd "$(dirname "$0")/.."

models="smollm2"
prompt=512
gen=128
threads="1,2"
reps=3
rounds=2
summary_only=0
load=0
kv_type=f32
while [[ $# -gt 0 ]]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    -p) prompt="$2"; shift 2 ;;
    -n) gen="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    -r) reps="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --load) load="$2"; shift 2 ;;
    --kv-type) kv_type="$2"; shift 2 ;;
    --summary-only) summary_only=1; shift ;;
    *) echo "usage: $0 [--models \"M...\"] [-p P] [-n N] [-t T,T] [-r R] [--rounds K] [--load N] [--kv-type f16]" >&2; exit 2 ;;
  esac
done

source bench/common.sh
bin="$(bench/peers/llama_cpp.sh | tail -n 1)"
shrink=$(shrink_binary)
stream_bin="$(dirname "$shrink")/../kernels/kernels_benchmark"
[[ -x "$stream_bin" ]] || cmake --build build/release --target kernels_benchmark >&2
work="${WORK:-$(mktemp -d)}"
mkdir -p "$work"
echo "CPU: $(cpu_model); $(nproc) cores; $(date -u '+%F %H:%M UTC'); work $work" >&2
echo "shrink: $("$shrink" --version)" >&2

# The competing load: N busy loops, killed (by their process ids) however this script ends.
burners=()
stop_burners() { [[ ${#burners[@]} -gt 0 ]] && kill "${burners[@]}" 2>/dev/null; burners=(); }
trap stop_burners EXIT
if [[ $load -gt 0 && $summary_only == 0 ]]; then
  for _ in $(seq 1 "$load"); do
    bash -c 'while :; do :; done' &
    burners+=($!)
  done
  echo "competing load: $load busy-loop processes (pids ${burners[*]})" >&2
fi

# rate FILE TEST: the mean t/s of the row whose test column is TEST in a llama-bench-style table.
rate() { awk -F'|' -v t="$2" '/^\|/ { gsub(/ /, "", $(NF-2)); if ($(NF-2) == t) { split($(NF-1), a, "±"); gsub(/ /, "", a[1]); print a[1] } }' "$1" | tail -1; }
# peak_mb FILE: the maximum resident set size /usr/bin/time -v reported, in MiB.
peak_mb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1" | awk '{ printf "%.1f", $1 / 1024 }'; }
# stream_gbs FILE: StreamRead's GB/s.
stream_gbs() { sed -n 's/.*GB\/s=\([0-9.]*\)G\/s.*/\1/p' "$1" | tail -1; }
mean() { awk '{ s += $1; n++ } END { if (n) printf "%.2f", s / n; else print "n/a" }'; }

summary="$work/summary.md"
: > "$summary"
IFS=',' read -r -a thread_list <<< "$threads"
for model_arg in $models; do
  model=$(model_path "$model_arg")
  require_file "$model" "run scripts/fetch-models [gemma3-270m]"
  name=$(basename "$model")
  bytes=$(stat -c %s "$model")
  llama_flags=()
  if [[ $summary_only == 1 ]]; then
    # llama-bench adds an "rpk" column when repacking is not its default.
    grep -q " rpk " "$work/${name}_llama_t${thread_list[0]}_r1.txt" && llama_flags=(--repack 0)
  else
  # One short probe with the defaults: does this build's repacking run here?
  if ! "$bin/llama-bench" -m "$model" -p 8 -n 0 -t 1 -r 1 > "$work/probe.txt" 2>&1; then
    llama_flags=(--repack 0)
    echo "llama-bench crashed with its defaults on $name (see $work/probe.txt): using --repack 0" >&2
  fi
  for t in "${thread_list[@]}"; do
    for round in $(seq 1 "$rounds"); do
      for tool in llama shrink; do
        out="$work/${name}_${tool}_t${t}_r${round}.txt"
        echo "$(uptime | sed 's/^ *//')  <- before $tool -t $t, round $round, $name" >&2
        if [[ $tool == llama ]]; then
          /usr/bin/time -v "$bin/llama-bench" -m "$model" -t "$t" -p "$prompt" -n "$gen" -r "$reps" \
            "${llama_flags[@]}" > "$out" 2>&1 || { echo "llama-bench failed (see $out)" >&2; exit 1; }
        else
          /usr/bin/time -v "$shrink" bench -m "$model" -t "$t" -p "$prompt" -n "$gen" -r "$reps" \
            --kv-type "$kv_type" > "$out" 2>&1 || { echo "shrink bench failed (see $out)" >&2; exit 1; }
        fi
        grep '^|' "$out" | tail -n +3 >&2
      done
      stream_filter='^StreamRead'
      ((t > 1)) && stream_filter="^ParallelStreamRead/real_time/threads:$t\$"
      "$stream_bin" --benchmark_filter="$stream_filter" --benchmark_min_time=1 \
        > "$work/${name}_stream_t${t}_r${round}.txt" 2>&1 || true
    done
  done
  fi

  # Per thread count and test: each tool's mean over rounds, the ratio, and the peak RSS.
  {
    echo
    echo "### $name"
    echo
    [[ ${#llama_flags[@]} -gt 0 ]] && echo "llama-bench ran with --repack 0: its defaults crash on this machine." && echo
    [[ $load -gt 0 ]] && echo "Both tools ran beside a competing load of $load busy-loop processes (--load $load)." && echo
    [[ $kv_type != f32 ]] && echo "shrink ran with --kv-type $kv_type." && echo
    echo "| threads | test | llama.cpp t/s | shrink t/s | shrink / llama.cpp | llama.cpp peak RSS | shrink peak RSS | shrink tg: share of read bandwidth |"
    echo "|---:|---|---:|---:|---:|---:|---:|---:|"
  } >> "$summary"
  declare -A best_llama=() best_shrink=()
  for t in "${thread_list[@]}"; do
    for test in "pp$prompt" "tg$gen"; do
      l=$(for r in $(seq 1 "$rounds"); do rate "$work/${name}_llama_t${t}_r${r}.txt" "$test"; done | mean)
      s=$(for r in $(seq 1 "$rounds"); do rate "$work/${name}_shrink_t${t}_r${r}.txt" "$test"; done | mean)
      lm=$(for r in $(seq 1 "$rounds"); do peak_mb "$work/${name}_llama_t${t}_r${r}.txt"; echo; done | sort -n | tail -1)
      sm=$(for r in $(seq 1 "$rounds"); do peak_mb "$work/${name}_shrink_t${t}_r${r}.txt"; echo; done | sort -n | tail -1)
      ratio=$(echo "scale=2; $s / $l" | bc)
      share=""
      if [[ $test == tg* ]]; then
        bw=$(for r in $(seq 1 "$rounds"); do stream_gbs "$work/${name}_stream_t${t}_r${r}.txt"; done | mean)
        [[ $bw != n/a ]] && share="$(echo "scale=3; $bytes * $s / ($bw * 1000000000) * 100" | bc | awk '{ printf "%.0f", $1 }') % of ${bw} GB/s"
      fi
      echo "| $t | $test | $l | $s | ${ratio}× | ${lm} MiB | ${sm} MiB | $share |" >> "$summary"
      if [[ -z "${best_llama[$test]:-}" ]] || (( $(echo "$l > ${best_llama[$test]}" | bc) )); then best_llama[$test]=$l; fi
      if [[ -z "${best_shrink[$test]:-}" ]] || (( $(echo "$s > ${best_shrink[$test]}" | bc) )); then best_shrink[$test]=$s; fi
    done
  done
  for test in "pp$prompt" "tg$gen"; do
    echo "| best | $test | ${best_llama[$test]} | ${best_shrink[$test]} | $(echo "scale=2; ${best_shrink[$test]} / ${best_llama[$test]}" | bc)× | | | |" >> "$summary"
  done
  unset best_llama best_shrink
  echo "file: $(stat -c %s "$model" | awk '{ printf "%.1f MiB", $1 / 1048576 }')" >> "$summary"
done
echo
cat "$summary"
