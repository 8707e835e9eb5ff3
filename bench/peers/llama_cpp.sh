#!/usr/bin/env bash
# Builds llama.cpp's tools (llama-perplexity, llama-quantize, llama-imatrix, llama-bench, llama-completion,
# llama-tokenize) from the llama-cpp-python sdist on PyPI into a cache folder, then prints their version.
# Benchmarks use it side by side with shrink; tests never need it.
#
# Usage: bench/peers/llama_cpp.sh            # build if needed; prints the bin folder on the last line
# Env:   SHRINK_CACHE (default ~/.cache/shrink), LLAMA_CPP_PYTHON_VERSION (default 0.3.36)
set -euo pipefail

version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
cache="${SHRINK_CACHE:-$HOME/.cache/shrink}/peers/llama-cpp-python-$version"
bin="$cache/build/bin"
tools=(llama-perplexity llama-quantize llama-imatrix llama-bench llama-completion llama-tokenize)

have_all() { for t in "${tools[@]}"; do [[ -x "$bin/$t" ]] || return 1; done; }

if ! have_all; then
  mkdir -p "$cache"
  sdist="$cache/llama_cpp_python-$version.tar.gz"
  if [[ ! -f "$sdist" ]]; then
    echo "llama_cpp.sh: downloading llama-cpp-python==$version sdist from PyPI" >&2
    pip download --quiet --no-deps --no-binary=:all: "llama-cpp-python==$version" -d "$cache" \
      || { echo "llama_cpp.sh: cannot download llama-cpp-python==$version from PyPI (is PyPI reachable?)" >&2; exit 1; }
  fi
  src="$cache/src"
  if [[ ! -d "$src/vendor/llama.cpp" ]]; then
    rm -rf "$src" && mkdir -p "$src"
    tar -xzf "$sdist" -C "$src" --strip-components=1
  fi
  echo "llama_cpp.sh: building llama.cpp tools into $cache/build (several minutes)" >&2
  cmake -S "$src/vendor/llama.cpp" -B "$cache/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build "$cache/build" --target "${tools[@]}" >&2
fi

"$bin/llama-perplexity" --version 2>&1 | grep -E "version|built with" >&2 || true
echo "$bin"
