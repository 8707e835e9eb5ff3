#include "model/architecture.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

namespace shrink {
namespace {

constexpr Architecture kLlama{.name = "llama",
                              .rope_ordering = RopeOrdering::kAdjacentPairs,
                              .activation = Activation::kSilu,
                              .qk_norm = false,
                              .post_norms = false,
                              .scale_embedding = false,
                              .default_swa_pattern = 0,
                              .default_swa_rope_theta = 10000.0f,
                              .default_chat_template = ""};

// The same graph under another GGUF architecture name.
constexpr Architecture Renamed(Architecture arch, std::string_view name) {
  arch.name = name;
  return arch;
}

constexpr std::array kArchitectures = {
    kLlama,
    Architecture{.name = "gemma3",
                 .rope_ordering = RopeOrdering::kHalves,
                 .activation = Activation::kGeluTanh,
                 .qk_norm = true,
                 .post_norms = true,
                 .scale_embedding = true,
                 .default_swa_pattern = 6,
                 .default_swa_rope_theta = 10000.0f,
                 .default_chat_template = "gemma"},
    // Nemotron-NAS (llama.cpp's "deci"): llama's tensors and graph with per-layer head counts and
    // FFN widths; width-pruned llama models with per-layer widths are written as it
    // (prune/width.h), since llama.cpp's "llama" loader sizes every layer from layer 0.
    Renamed(kLlama, "deci"),
};

}  // namespace

std::span<const Architecture> Architectures() { return kArchitectures; }

Result<const Architecture*> FindArchitecture(std::string_view name) {
  std::vector<std::string_view> names;
  for (const Architecture& a : kArchitectures) {
    if (a.name == name) return &a;
    names.push_back(a.name);
  }
  return Status::Errorf("architecture '{}' is not supported (supported: {})", name,
                        fmt::join(names, ", "));
}

void ApplyArchitecture(const Architecture& arch, Config& config) {
  config.architecture = std::string(arch.name);
  config.rope_ordering = arch.rope_ordering;
  config.activation = arch.activation;
  config.qk_norm = arch.qk_norm;
  config.post_norms = arch.post_norms;
  // llama.cpp scales by sqrtf(n_embd) in F32.
  config.embedding_scale =
      arch.scale_embedding ? std::sqrt(static_cast<float>(config.d_model)) : 1.0f;
}

}  // namespace shrink
