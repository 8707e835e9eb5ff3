#!/usr/bin/env bash
# Interruption (issue 6): `shrink perplexity --save-logits OUT` killed with SIGKILL at random moments
# leaves OUT either absent / as the previous complete file, or as the complete new file (byte-
# identical to a reference written by a run that finished), and never a temp file that breaks or
# outlives the next complete run.
#
#   phase 1: no OUT before; after each kill OUT is absent or identical to the reference.
#   phase 2: OUT holds a different complete file (fewer chunks); after each kill OUT is that file
#            or the reference.
#   After each phase a complete run must succeed, write the reference and leave no temp file.
# Between kills a temp file next to OUT is accepted (the killed run's "OUT.tmp.<pid>", removed by the
# next run's writer as its pid is dead: io/atomic_file.h), but never more than one: temp files must
# not accumulate.
#
# Phase 3 (`shrink quantize`, the GGUF writer; needs the cached SmolLM2): the run is SIGKILLed once its
# "OUT.tmp.<pid>" exists (mid-write), which leaves that temp; a rerun must write the complete file
# (identical to a reference run) and remove the dead run's temp (io/atomic_file.h), leaving no stray.
#
# Usage: interrupt_test.sh SHRINK_BINARY SHARED_DIR [KILLS_PER_PHASE (default 5)] [SEED]
# Exit 77 (skip) when stories260K or the text is absent, or (after the other phases pass) SmolLM2.
set -u
shrink=$1
shared=$2
kills=${3:-5}
seed=${4:-$(( $(date +%s) % 32768 ))}
models=$shared/models/stories260K
text=$shared/data/tinyshakespeare/input.txt
for f in "$models/stories260K.bin" "$models/tok512.bin" "$text"; do
  if [[ ! -f $f ]]; then
    echo "skipped: $f is absent"
    exit 77
  fi
done
RANDOM=$seed
echo "seed $seed (rerun with: $0 $shrink $shared $kills $seed)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

run() {  # CHUNKS OUT: a complete run with output to OUT
  "$shrink" perplexity -m "$models/stories260K.bin" --tokenizer "$models/tok512.bin" -f "$text" \
    --ctx 64 --chunks "$1" --threads 1 --save-logits "$2" >/dev/null 2>&1
}

# Files next to OUT other than OUT itself (temp files a writer left).
strays() { find "$work/out" -mindepth 1 -maxdepth 1 ! -name out.logits -printf '%f\n' | sort; }

start_ns=$(date +%s%N)
run 200 "$work/reference.logits" || { echo "FAIL: the reference run failed"; exit 1; }
duration_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
run 50 "$work/previous.logits" || { echo "FAIL: the previous-file run failed"; exit 1; }
echo "reference run: ${duration_ms} ms; killing at random moments in [0, $((duration_ms * 6 / 5))] ms"
if ((duration_ms < 300)); then
  echo "note: the run is short (${duration_ms} ms); kills may mostly land after it ends"
fi
mkdir "$work/out"
out=$work/out/out.logits

kill_once() {  # PHASE N: start a run, SIGKILL it after a random delay, check what is left
  local phase=$1 n=$2 delay_ms pid
  delay_ms=$(( (RANDOM * 32768 + RANDOM) % (duration_ms * 6 / 5 + 1) ))
  "$shrink" perplexity -m "$models/stories260K.bin" --tokenizer "$models/tok512.bin" -f "$text" \
    --ctx 64 --chunks 200 --threads 1 --save-logits "$out" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  local state
  if [[ ! -e $out ]]; then
    state=absent
  elif cmp -s "$out" "$work/reference.logits"; then
    state=complete
  elif cmp -s "$out" "$work/previous.logits"; then
    state=previous
  else
    state="PARTIAL ($(stat -c %s "$out") bytes)"
  fi
  local left
  left=$(strays | tr '\n' ' ')
  echo "phase $phase kill $n at ${delay_ms} ms: OUT $state; temp files: ${left:-none}"
  case $phase:$state in
    1:absent | 1:complete | 2:previous | 2:complete) ;;
    *) fail "phase $phase kill $n at ${delay_ms} ms left OUT $state" ;;
  esac
  if (($(strays | wc -l) > 1)); then
    fail "temp files accumulate next to OUT: $left"
  fi
}

finish_phase() {  # PHASE: a complete run must succeed, write the reference and clean up
  if ! run 200 "$out"; then
    fail "phase $1: the complete run after the kills failed"
  elif ! cmp -s "$out" "$work/reference.logits"; then
    fail "phase $1: the complete run after the kills wrote a different file"
  fi
  local left
  left=$(strays | tr '\n' ' ')
  [[ -z $left ]] || fail "phase $1: temp files left after a complete run: $left"
}

for ((i = 1; i <= kills; i++)); do
  rm -f "$out"  # no OUT before; temp files of earlier kills stay
  kill_once 1 "$i"
done
finish_phase 1
for ((i = 1; i <= kills; i++)); do
  cp "$work/previous.logits" "$out"
  kill_once 2 "$i"
done
finish_phase 2

# Phase 3: quantize SIGKILLed mid-write, then rerun.
smollm2="${SHRINK_CACHE:-$HOME/.cache/shrink}/models/smollm2-135m-instruct-q4_1.gguf"
skipped=0
quantize() {  # OUT: SmolLM2 to Q8_0 (about 145 MB written)
  "$shrink" quantize "$smollm2" "$1" --type Q8_0 --threads 1 >/dev/null 2>&1
}
if [[ -f $smollm2 ]]; then
  mkdir "$work/q"
  quantize "$work/reference.gguf" || fail "phase 3: the reference quantize run failed"
  qout=$work/q/out.gguf
  for ((i = 1; i <= 2; i++)); do
    "$shrink" quantize "$smollm2" "$qout" --type Q8_0 --threads 1 >/dev/null 2>&1 &
    pid=$!  # shrink itself (not a subshell), whose pid names the temp
    # Wait (up to 20 s) for the writer's temp, then kill after a further 0..199 ms.
    for ((t = 0; t < 2000; t++)); do
      [[ -e $qout.tmp.$pid ]] && break
      sleep 0.01
    done
    sleep "0.$(printf '%03d' $((RANDOM % 200)))"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    temps=$(find "$work/q" -name 'out.gguf.tmp.*' -printf '%f ')
    echo "phase 3 kill $i: temp files after the kill: ${temps:-none}"
    [[ -e $qout.tmp.$pid ]] || echo "note: the run ended before the kill (no temp of pid $pid)"
    [[ -e $qout ]] && fail "phase 3 kill $i: OUT exists after a killed first write"
    if ! quantize "$qout"; then
      fail "phase 3 rerun $i failed"
    elif ! cmp -s "$qout" "$work/reference.gguf"; then
      fail "phase 3 rerun $i wrote a different file"
    fi
    left=$(find "$work/q" -mindepth 1 ! -name out.gguf -printf '%f ')
    [[ -z $left ]] || fail "phase 3 rerun $i left stray files: $left"
    rm -f "$qout"
  done
else
  echo "skipped: phase 3 (quantize), $smollm2 is absent (scripts/fetch-models gets it)"
  skipped=1
fi

if ((failures)); then
  echo "$failures failures (seed $seed)"
  exit 1
fi
echo "PASS: $((2 * kills)) kills, OUT always absent, the previous file or complete"
((skipped == 0)) || exit 77
