#!/usr/bin/env bash
# Tests of the CI checks on files made in a scratch folder (never in the tree):
#   format: scripts/check-format fails on a misformatted .cc and passes on formatted ones, keeps
#           comment tables longer than the column limit as written (ReflowComments: false), and
#           passes on the headers whose layout tables were repaired by hand.
#   layers: scripts/check-layers fails on an upward include (base -> model), an include between
#           siblings and testing/ outside a test, passes on downward includes, and passes on the tree.
# Usage: check_scripts_test.sh format|layers SOURCE_DIR. Exit 77 (skip) when clang-format is missing.
set -u
mode=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect STATUS WORDS -- COMMAND...: COMMAND exits with STATUS and its stdout holds each of WORDS
# (one per argument); $work/out and $work/err keep its output.
expect() {
  local status=$1; shift
  local words=()
  while [[ $1 != -- ]]; do words+=("$1"); shift; done
  shift
  "$@" >"$work/out" 2>"$work/err"
  local rc=$?
  [[ $rc -eq $status ]] || fail "$*: exit status $rc, expected $status; output: $(cat "$work/out" "$work/err")"
  for word in "${words[@]}"; do
    grep -qF -- "$word" "$work/out" || fail "$*: stdout lacks '$word': $(cat "$work/out")"
  done
}

case $mode in
  format)
    if ! command -v "${CLANG_FORMAT:-clang-format}" >/dev/null 2>&1; then
      echo "skipped: clang-format not installed (scripts/install-deps installs it)"
      exit 77
    fi
    check="$src/scripts/check-format"
    mkdir -p "$work/tree/sub"
    printf 'int  main( ){return 0;}\n' >"$work/tree/sub/bad.cc"
    printf 'int main() { return 0; }\n' >"$work/tree/good.cc"
    # A layout table wider than the 100-column limit: reflow would break its first row.
    cat >"$work/tree/table.h" <<'EOF'
// Byte layouts:
//   Q4_0 (18 B): d, qs[16];          y[j] = d * ((qs[j] & 15) - 8),  y[j+16] = d * ((qs[j] >> 4) - 8)
//   Q8_0 (34 B): d, qs[32] (int8);   y[j] = d * qs[j]
#pragma once

inline int Answer() { return 42; }
EOF
    expect 1 "$work/tree/sub/bad.cc: not clang-formatted" -- "$check" "$work/tree/sub/bad.cc"
    expect 0 -- "$check" "$work/tree/good.cc" "$work/tree/table.h"
    expect 1 "bad.cc: not clang-formatted" -- "$check" "$work/tree"
    grep -q "good.cc\|table.h" "$work/out" && fail "check-format listed a formatted file: $(cat "$work/out")"
    expect 1 "@@" -- "$check" --diff "$work/tree/sub/bad.cc"
    expect 2 -- env CLANG_FORMAT=/nonexistent/clang-format "$check" "$work/tree/good.cc"
    grep -q "not found" "$work/err" || fail "missing clang-format: no clear message: $(cat "$work/err")"
    repaired=(src/io/gguf.h src/formats/legacy_quants.h src/formats/k_quants.h
              src/formats/iq_quants.h src/formats/float_types.h src/formats/block_codec.h
              src/kernels/matmul.h src/eval/logits_file.h src/io/llama2c_checkpoint.h
              src/text/tokenizer.h src/text/pre_tokenizer.h src/model/sampler.h src/model/model.h)
    expect 0 -- "$check" "${repaired[@]/#/$src/}"
    ;;
  layers)
    check="$src/scripts/check-layers"
    bad="$work/bad"
    mkdir -p "$bad/src/base" "$bad/src/model" "$bad/src/quant" "$bad/src/eval"
    printf '#include <vector>\n\n#include "model/model.h"\n' >"$bad/src/base/upward.cc"
    printf '#include "base/status.h"\n' >"$bad/src/model/model.h"
    expect 1 "$bad/src/base/upward.cc:3: includes model/model.h from higher layer model" \
      -- "$check" "$bad"
    expect 1 "$bad/src/base/upward.cc:3: includes model/model.h from higher layer model" \
      -- "$check" "$bad/src/base/upward.cc"
    expect 0 -- "$check" "$bad/src/model/model.h"

    siblings="$work/siblings"
    mkdir -p "$siblings/src/quant" "$siblings/src/eval"
    printf '#include "eval/perplexity.h"\n' >"$siblings/src/quant/search.cc"
    printf '#include "testing/test_paths.h"\n' >"$siblings/src/eval/perplexity.h"
    expect 1 "src/quant/search.cc:1: includes eval/perplexity.h from sibling layer eval" \
             "src/eval/perplexity.h:1: includes testing/test_paths.h outside a test file" \
      -- "$check" "$siblings"

    good="$work/good"
    mkdir -p "$good/src/base" "$good/src/model" "$good/src/cli"
    printf '#pragma once\n' >"$good/src/base/status.h"
    printf '#include "base/status.h"\n#include "model/model.h"\n' >"$good/src/model/model.cc"
    printf '#include "model/model.h"\n#include "testing/test_paths.h"\n' >"$good/src/model/model_test.cc"
    printf '#include "model/model.h"\n#include "text/tokenizer.h"\n' >"$good/src/cli/main.cc"
    expect 0 -- "$check" "$good"

    mkdir -p "$good/src/widgets"
    expect 1 "src/widgets/: not a layer" -- "$check" "$good"

    # The tree itself.
    expect 0 -- "$check" "$src"
    ;;
  *)
    echo "usage: $0 format|layers SOURCE_DIR" >&2
    exit 2
    ;;
esac

if ((failures)); then
  echo "$failures failures"
  exit 1
fi
echo "check-$mode: all cases pass"
