#include "train/fake_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "base/check.h"
#include "formats/block_grid.h"
#include "formats/exact_scale.h"
#include "kernels/kernel_threads.h"

namespace shrink::train {
namespace {

// A row with a NaN or infinity has no grid point: its fake-quantized copy is all NaN, so the loss
// says so at once. Returns whether that happened (then the caller skips the row).
bool NanRowIfNotFinite(const float* in, float* out, int64_t cols) {
  for (int64_t c = 0; c < cols; ++c) {
    if (!std::isfinite(in[c])) {
      std::fill(out, out + cols, std::numeric_limits<float>::quiet_NaN());
      return true;
    }
  }
  return false;
}

}  // namespace

Status CheckFakeQuantTensor(const FakeQuantTensor& t, std::string_view name, int64_t cols,
                            bool matrix) {
  if (t.type == TensorType::kF32) {
    if (!t.importance.empty()) {
      return Status::Errorf("{}: importance weights given for an F32 (not quantized) tensor", name);
    }
    return Status::Ok();
  }
  const TypeTraits& traits = Traits(t.type);
  if (!matrix) {
    return Status::Errorf("{}: a vector is kept in F32, not fake-quantized to {}", name,
                          traits.name);
  }
  if (traits.encode == nullptr) {
    return Status::Errorf("{}: no encoder for {} to fake-quantize with", name, traits.name);
  }
  if (cols % traits.block_elements != 0) {
    return Status::Errorf("{}: rows of {} are not a multiple of {}'s block of {}", name, cols,
                          traits.name, traits.block_elements);
  }
  if (t.rounding == FakeQuantRounding::kExactFrozenSteps && !HasExactScaleEncoder(traits)) {
    return Status::Errorf("{}: {} has no exact step search (Q4_0, Q5_0 and IQ4_NL have)", name,
                          traits.name);
  }
  if (t.importance.empty()) return Status::Ok();
  if (traits.encode_weighted == nullptr) {
    return Status::Errorf("{}: {} has no importance-weighted encoder", name, traits.name);
  }
  if (static_cast<int64_t>(t.importance.size()) != cols) {
    return Status::Errorf("{}: {} importance weights for rows of {}", name, t.importance.size(),
                          cols);
  }
  for (size_t i = 0; i < t.importance.size(); ++i) {
    if (!std::isfinite(t.importance[i]) || t.importance[i] < 0.0f) {
      return Status::Errorf("{}: importance weight {} is {}, expected finite and >= 0", name, i,
                            t.importance[i]);
    }
  }
  return Status::Ok();
}

void FakeQuantizeRows(const TypeTraits& traits, const float* src, float* dst, int64_t rows,
                      int64_t cols, std::span<const float> importance) {
  SHRINK_CHECK(traits.encode != nullptr && cols % traits.block_elements == 0);
  SHRINK_CHECK(importance.empty() || (traits.encode_weighted != nullptr &&
                                      static_cast<int64_t>(importance.size()) == cols));
  const int64_t row_bytes = cols / traits.block_elements * traits.block_bytes;
  // Rows per chunk: enough work (a few thousand elements) that claiming a chunk costs nothing.
  const int64_t grain = std::max<int64_t>(1, 16384 / cols);
  KernelThreads().Run(rows, grain, [&](int64_t begin, int64_t end, int) {
    std::unique_ptr<uint8_t[]> blocks = std::make_unique_for_overwrite<uint8_t[]>(row_bytes);
    for (int64_t r = begin; r < end; ++r) {
      const float* in = src + r * cols;
      float* out = dst + r * cols;
      if (NanRowIfNotFinite(in, out, cols)) continue;
      if (importance.empty()) {
        traits.encode(in, blocks.get(), cols);
      } else {
        traits.encode_weighted(in, blocks.get(), cols, importance.data());
      }
      traits.decode(blocks.get(), out, cols);
    }
  });
}

void EncodeExactScaleRows(const TypeTraits& traits, const float* src, uint8_t* blocks, int64_t rows,
                          int64_t cols, std::span<const float> importance) {
  SHRINK_CHECK(HasExactScaleEncoder(traits) && cols % traits.block_elements == 0);
  SHRINK_CHECK(importance.empty() || static_cast<int64_t>(importance.size()) == cols);
  const int64_t row_bytes = cols / traits.block_elements * traits.block_bytes;
  // The search costs ~20x the reference encoder per element: a row or two per chunk is plenty.
  const int64_t grain = std::max<int64_t>(1, 2048 / cols);
  KernelThreads().Run(rows, grain, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      EncodeRowExactScale(traits, src + r * cols, blocks + r * row_bytes, cols,
                          importance.empty() ? nullptr : importance.data());
    }
  });
}

void RoundRowsOntoGrid(const TypeTraits& traits, const float* src, uint8_t* blocks, float* dst,
                       int64_t rows, int64_t cols) {
  SHRINK_CHECK(traits.grid != nullptr && cols % traits.block_elements == 0);
  const BlockGrid& grid = *traits.grid;
  const int64_t B = traits.block_elements;
  const int64_t row_bytes = cols / B * traits.block_bytes;
  const int64_t grain = std::max<int64_t>(1, 16384 / cols);
  // A one-scale format (Q4_0, Q5_0, IQ4_NL) decodes code q to the same level in every element, so
  // one decode of a probe block whose element q holds code q gives the whole level table; the
  // generic grid.levels decodes the block once per code (a third of a QAT step's time in perf).
  const bool one_scale = grid.set_scale != nullptr && grid.n_levels <= B;
  KernelThreads().Run(rows, grain, [&](int64_t begin, int64_t end, int) {
    std::vector<float> levels(static_cast<size_t>(grid.n_levels * B)), unit(B);
    std::vector<uint8_t> probe(traits.block_bytes);
    for (int64_t r = begin; r < end; ++r) {
      const float* in = src + r * cols;
      float* out = dst + r * cols;
      uint8_t* row = blocks + r * row_bytes;
      if (NanRowIfNotFinite(in, out, cols)) continue;
      for (int64_t b = 0; b < cols / B; ++b) {
        uint8_t* block = row + b * traits.block_bytes;
        if (one_scale) {
          std::memcpy(probe.data(), block, probe.size());
          for (int q = 0; q < grid.n_levels; ++q) grid.set_code(probe.data(), q, q);
          traits.decode(probe.data(), unit.data(), B);
          for (int q = 0; q < grid.n_levels; ++q) {
            std::fill_n(levels.data() + q * B, B, unit[q]);
          }
        } else {
          grid.levels(block, levels.data());  // from the block's parameters; its codes ignored
        }
        for (int e = 0; e < B; ++e) RoundElement(grid, levels.data(), B, block, e, in[b * B + e]);
      }
      traits.decode(row, out, cols);
    }
  });
}

}  // namespace shrink::train
