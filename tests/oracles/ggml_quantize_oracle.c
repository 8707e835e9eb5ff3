// Test oracle (never part of shrink): quantizes rows with llama.cpp's own ggml library, so that
// make_ggml_quant_vectors.py can record what llama-quantize writes for given inputs.
//
//   ggml_quantize_oracle TYPE_ID N_PER_ROW N_ROWS WEIGHTED < input > blocks
//
// input: N_ROWS * N_PER_ROW little-endian f32 values, then (WEIGHTED = 1) N_PER_ROW f32 importance
// weights (one imatrix row, applied to every row, as llama-quantize passes it). Output: the
// quantized rows, exactly as ggml_quantize_chunk writes them.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ggml.h"

static void read_exactly(void* p, size_t bytes) {
  if (fread(p, 1, bytes, stdin) != bytes) {
    fprintf(stderr, "ggml_quantize_oracle: short input\n");
    exit(1);
  }
}

int main(int argc, char** argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: %s TYPE_ID N_PER_ROW N_ROWS WEIGHTED < input > blocks\n", argv[0]);
    return 2;
  }
  const enum ggml_type type = (enum ggml_type)atoi(argv[1]);
  const int64_t n_per_row = atoll(argv[2]);
  const int64_t n_rows = atoll(argv[3]);
  const int weighted = atoi(argv[4]);
  float* x = malloc(sizeof(float) * n_per_row * n_rows);
  float* w = weighted ? malloc(sizeof(float) * n_per_row) : NULL;
  read_exactly(x, sizeof(float) * n_per_row * n_rows);
  if (w) read_exactly(w, sizeof(float) * n_per_row);
  const size_t bytes = ggml_row_size(type, n_per_row) * n_rows;
  void* out = calloc(1, bytes);
  const size_t written = ggml_quantize_chunk(type, x, out, 0, n_rows, n_per_row, w);
  if (written != bytes) {
    fprintf(stderr, "ggml_quantize_oracle: wrote %zu bytes, expected %zu\n", written, bytes);
    return 1;
  }
  fwrite(out, 1, bytes, stdout);
  return 0;
}
