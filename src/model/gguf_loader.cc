// GGUF (any architecture in model/architecture.h) -> Config + Weights.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "io/gguf.h"
#include "model/architecture.h"
#include "model/loaders.h"

namespace shrink {
namespace {

constexpr int64_t kMaxPerLayer = int64_t{1} << 24;

// Per-layer integer key: a scalar applies to every layer; an array gives one value per layer.
Result<std::vector<int32_t>> GetPerLayer(const GgufFile& file, const std::string& key, int n_layers,
                                         const int32_t* fallback) {
  const GgufValue* v = file.Find(key);
  if (v == nullptr && fallback != nullptr) return std::vector<int32_t>(n_layers, *fallback);
  if (v != nullptr && v->type == GgufValueType::kArray) {
    const GgufArray& a = v->AsArray();
    if (a.size() != static_cast<size_t>(n_layers)) {
      return Status::Errorf("{}: key '{}' has {} per-layer values, expected block_count = {}",
                            file.path(), key, a.size(), n_layers);
    }
    if (!GgufTypeIsInteger(a.element_type())) {
      return Status::Errorf("{}: key '{}' holds {} values, expected integers", file.path(), key,
                            GgufValueTypeName(a.element_type()));
    }
    const bool is_unsigned = GgufTypeIsUnsigned(a.element_type());
    std::vector<int32_t> out;
    for (size_t i = 0; i < a.size(); ++i) {
      // Unsigned elements are compared as such: a u64 above int64's range is an error, not a crash.
      const bool in_range = is_unsigned ? a.UintAt(i) <= static_cast<uint64_t>(kMaxPerLayer)
                                        : a.IntAt(i) >= 0 && a.IntAt(i) <= kMaxPerLayer;
      if (!in_range) {
        return Status::Errorf(
            "{}: key '{}' element {} is {}, expected 0..{}", file.path(), key, i,
            is_unsigned ? fmt::format("{}", a.UintAt(i)) : fmt::format("{}", a.IntAt(i)),
            kMaxPerLayer);
      }
      out.push_back(
          static_cast<int32_t>(is_unsigned ? static_cast<int64_t>(a.UintAt(i)) : a.IntAt(i)));
    }
    return out;
  }
  SHRINK_ASSIGN_OR_RETURN(int64_t value, file.GetInt(key));
  if (value < 0 || value > kMaxPerLayer) {
    return Status::Errorf("{}: key '{}' is {}, expected 0..{}", file.path(), key, value,
                          kMaxPerLayer);
  }
  return std::vector<int32_t>(n_layers, static_cast<int32_t>(value));
}

Result<double> GetFloatOr(const GgufFile& file, const std::string& key, double fallback) {
  if (file.Find(key) == nullptr) return fallback;
  return file.GetFloat(key);
}

// Layer l attends through a sliding window (llama.cpp's "standard" SWA) when the file sets
// <arch>.attention.sliding_window > 0: per the <arch>.attention.sliding_window_pattern key (a
// per-layer bool array, or n: every n-th layer global), else the architecture's default pattern.
Result<std::vector<bool>> SlidingLayers(const GgufFile& file, const Architecture& arch,
                                        const std::string& a, int n_layers) {
  const std::string key = a + "attention.sliding_window_pattern";
  std::vector<bool> sliding(n_layers, false);
  const GgufValue* v = file.Find(key);
  if (v != nullptr && v->type == GgufValueType::kArray) {
    const GgufArray& arr = v->AsArray();
    if (arr.size() != static_cast<size_t>(n_layers) || arr.element_type() != GgufValueType::kBool) {
      return Status::Errorf("{}: key '{}' holds {} {} values, expected {} bools (one per layer)",
                            file.path(), key, arr.size(), GgufValueTypeName(arr.element_type()),
                            n_layers);
    }
    for (int l = 0; l < n_layers; ++l) sliding[l] = arr.BoolAt(l);
    return sliding;
  }
  int64_t pattern = arch.default_swa_pattern;
  if (v != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(pattern, file.GetInt(key));
  }
  if (pattern < 0 || pattern > n_layers) {
    return Status::Errorf("{}: key '{}' is {}, expected 0..block_count ({})", file.path(), key,
                          pattern, n_layers);
  }
  // As llama.cpp: pattern 0 makes every layer sliding; n makes layer l global when l % n == n - 1.
  for (int l = 0; l < n_layers; ++l) sliding[l] = pattern == 0 || l % pattern < pattern - 1;
  return sliding;
}

// An integer key that must fit int32 and lie in [lo, hi]; the error names the key and the range.
Result<int32_t> GetBounded(const GgufFile& file, const std::string& key, int64_t lo, int64_t hi,
                           const int64_t* fallback = nullptr) {
  int64_t value = 0;
  if (fallback != nullptr && file.Find(key) == nullptr) {
    value = *fallback;
  } else {
    SHRINK_ASSIGN_OR_RETURN(value, file.GetInt(key));
  }
  if (value < lo || value > hi) {
    return Status::Errorf("{}: key '{}' is {}, expected {}..{}", file.path(), key, value, lo, hi);
  }
  return static_cast<int32_t>(value);
}

constexpr int64_t kMaxDim = int64_t{1} << 24;  // far above any real width; keeps products in int64

}  // namespace

Result<Config> ReadGgufConfig(const GgufFile& file) {
  Config c;
  SHRINK_ASSIGN_OR_RETURN(std::string arch_name, file.GetString("general.architecture"));
  SHRINK_ASSIGN_OR_RETURN(const Architecture* arch,
                          FindArchitecture(arch_name).WithContext(file.path()));
  const std::string a = arch_name + ".";
  SHRINK_ASSIGN_OR_RETURN(c.n_layers, GetBounded(file, a + "block_count", 1, 100000));
  SHRINK_ASSIGN_OR_RETURN(c.d_model, GetBounded(file, a + "embedding_length", 1, kMaxDim));
  SHRINK_ASSIGN_OR_RETURN(c.context_length,
                          GetBounded(file, a + "context_length", 1, int64_t{1} << 30));
  ApplyArchitecture(*arch, c);
  SHRINK_ASSIGN_OR_RETURN(double eps, file.GetFloat(a + "attention.layer_norm_rms_epsilon"));
  SHRINK_ASSIGN_OR_RETURN(double theta, GetFloatOr(file, a + "rope.freq_base", 10000.0));
  SHRINK_ASSIGN_OR_RETURN(double theta_swa,
                          GetFloatOr(file, a + "rope.freq_base_swa", arch->default_swa_rope_theta));
  SHRINK_ASSIGN_OR_RETURN(double rope_factor, GetFloatOr(file, a + "rope.scaling.factor", 1.0));
  SHRINK_ASSIGN_OR_RETURN(double softcap, GetFloatOr(file, a + "final_logit_softcapping", 0.0));
  c.rms_norm_eps = static_cast<float>(eps);
  c.rope_theta = static_cast<float>(theta);
  c.final_logit_softcap = static_cast<float>(softcap);
  if (file.Find(a + "rope.scaling.type") != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(std::string type, file.GetString(a + "rope.scaling.type"));
    if (type != "linear" && type != "none") {
      return Status::Errorf("{}: key '{}rope.scaling.type' is '{}', expected 'linear' or 'none'",
                            file.path(), a, type);
    }
    if (type == "none") rope_factor = 1.0;
  }
  if (!(rope_factor > 0.0)) {
    return Status::Errorf("{}: key '{}rope.scaling.factor' is {}, expected > 0", file.path(), a,
                          rope_factor);
  }
  SHRINK_ASSIGN_OR_RETURN(auto heads,
                          GetPerLayer(file, a + "attention.head_count", c.n_layers, nullptr));
  SHRINK_ASSIGN_OR_RETURN(auto kv_heads,
                          GetPerLayer(file, a + "attention.head_count_kv", c.n_layers, &heads[0]));
  if (file.Find(a + "attention.head_count_kv") == nullptr) kv_heads = heads;
  SHRINK_ASSIGN_OR_RETURN(auto ffn,
                          GetPerLayer(file, a + "feed_forward_length", c.n_layers, nullptr));
  c.n_heads = heads[0];
  c.n_kv_heads = kv_heads[0];
  c.ffn_dim = ffn[0];
  if (c.n_heads <= 0) {
    return Status::Errorf("{}: key '{}attention.head_count' is {}, expected > 0", file.path(), a,
                          c.n_heads);
  }
  const int64_t default_head_dim = c.d_model / c.n_heads;
  SHRINK_ASSIGN_OR_RETURN(
      c.head_dim, GetBounded(file, a + "attention.key_length", 1, kMaxDim, &default_head_dim));
  const int64_t default_rope_dims = c.head_dim;
  SHRINK_ASSIGN_OR_RETURN(
      c.rope_dims, GetBounded(file, a + "rope.dimension_count", 0, kMaxDim, &default_rope_dims));
  const int64_t no_window = 0;
  SHRINK_ASSIGN_OR_RETURN(int32_t window, GetBounded(file, a + "attention.sliding_window", 0,
                                                     int64_t{1} << 30, &no_window));
  if (window > 0 && arch->default_swa_pattern == 0 &&
      file.Find(a + "attention.sliding_window_pattern") == nullptr) {
    return Status::Errorf(
        "{}: key '{}attention.sliding_window' is set but architecture {} has no sliding-window "
        "layer pattern",
        file.path(), a, arch->name);
  }
  std::vector<bool> sliding(c.n_layers, false);
  if (window > 0) {
    SHRINK_ASSIGN_OR_RETURN(sliding, SlidingLayers(file, *arch, a, c.n_layers));
  }
  c.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) {
    // As llama.cpp, linear RoPE scaling applies to the global layers only; sliding-window layers
    // keep their own base and no scaling.
    c.layers[l] = {.n_heads = heads[l],
                   .n_kv_heads = kv_heads[l],
                   .ffn_dim = ffn[l],
                   .sliding_window = sliding[l] ? window : 0,
                   .rope_theta = static_cast<float>(sliding[l] ? theta_swa : theta),
                   .rope_position_scale = static_cast<float>(sliding[l] ? 1.0 : 1.0 / rope_factor)};
  }

  int64_t vocab = 0;
  if (file.Find(a + "vocab_size") != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(vocab, file.GetInt(a + "vocab_size"));
  } else if (file.Find("tokenizer.ggml.tokens") != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(const GgufArray* tokens, file.GetArray("tokenizer.ggml.tokens"));
    vocab = static_cast<int64_t>(tokens->size());
  } else if (const GgufTensorInfo* t = file.FindTensor("token_embd.weight");
             t != nullptr && t->shape.size() == 2) {
    vocab = t->shape[1];
  } else {
    return Status::Errorf(
        "{}: no vocabulary size: none of '{}vocab_size', 'tokenizer.ggml.tokens' "
        "or tensor token_embd.weight",
        file.path(), a);
  }
  if (vocab <= 0 || vocab > (int64_t{1} << 30)) {
    return Status::Errorf("{}: vocabulary size {} is outside 1..2^30", file.path(), vocab);
  }
  c.vocab_size = static_cast<int32_t>(vocab);
  c.tied_embeddings = file.FindTensor("output.weight") == nullptr;
  SHRINK_RETURN_IF_ERROR(c.Validate().WithContext(file.path()));
  return c;
}

namespace {

// A linear the file stores as a factor pair (tensor_table.h, TensorPart) becomes one in `w`, of
// the rank A's shape gives; the shape checks of the caller's visit then cover both factors.
// Errors: factors without the shrink.low_rank.version key (or another version), a whole tensor
// stored together with its factors, one factor without the other, a rank outside 1..min(m, n).
Status ReadLowRankPairs(const GgufFile& file, Weights& w) {
  bool any = false;
  for (LayerWeights& layer : w.layers) {
    for (const TensorSpec& spec : TensorTable()) {
      if (!Factorable(spec)) continue;
      TensorView& whole = layer.*spec.layer_member;
      if (!whole.listed()) continue;
      const std::string a_name = TensorName(spec.role, whole.layer, TensorPart::kLowRankA);
      const std::string b_name = TensorName(spec.role, whole.layer, TensorPart::kLowRankB);
      const GgufTensorInfo* a = file.FindTensor(a_name);
      const GgufTensorInfo* b = file.FindTensor(b_name);
      if (a == nullptr && b == nullptr) continue;
      if (a == nullptr || b == nullptr) {
        return Status::Errorf("{}: tensor {} has no partner {}", file.path(),
                              a != nullptr ? a_name : b_name, a != nullptr ? b_name : a_name);
      }
      if (file.FindTensor(whole.name) != nullptr) {
        return Status::Errorf("{}: tensor {} is stored both whole and as factors {}", file.path(),
                              whole.name, a_name);
      }
      const int64_t max_rank = std::min(whole.rows(), whole.cols());
      if (a->shape.size() != 2 || a->shape[1] < 1 || a->shape[1] > max_rank) {
        return Status::Errorf("{}: tensor {} has shape [{}], expected [{}, r] with r in 1..{}",
                              file.path(), a_name, fmt::join(a->shape, ", "), whole.cols(),
                              max_rank);
      }
      FactorizeLinear(layer, spec.role, a->shape[1]);
      any = true;
    }
  }
  if (!any) return Status::Ok();
  const std::string key(kLowRankVersionKey);
  if (file.Find(key) == nullptr) {
    return Status::Errorf("{}: low-rank factor tensors (*.lr_a, *.lr_b) but no key '{}'",
                          file.path(), key);
  }
  SHRINK_ASSIGN_OR_RETURN(const int64_t version, file.GetInt(key));
  if (version != kLowRankVersion) {
    return Status::Errorf("{}: key '{}' is {}, expected {}", file.path(), key, version,
                          kLowRankVersion);
  }
  return Status::Ok();
}

}  // namespace

Result<Weights> ReadGgufWeights(std::shared_ptr<const GgufFile> file, Config& config) {
  config.tied_embeddings = file->FindTensor("output.weight") == nullptr;
  Weights w = Weights::Skeleton(config);
  SHRINK_RETURN_IF_ERROR(ReadLowRankPairs(*file, w));
  Status status;
  w.ForEachTensor([&](TensorView& v) {
    if (!status.ok()) return;
    const GgufTensorInfo* t = file->FindTensor(v.name);
    if (t == nullptr) {
      status = Status::Errorf("{}: missing tensor {}", file->path(), v.name);
      return;
    }
    if (t->shape != v.shape) {
      status =
          Status::Errorf("{}: tensor {} has shape [{}], expected [{}] from the config",
                         file->path(), v.name, fmt::join(t->shape, ", "), fmt::join(v.shape, ", "));
      return;
    }
    const TypeTraits* traits = t->traits;  // GgufFile::Open rejected unknown type ids
    const bool is_norm = v.shape.size() == 1;
    if (is_norm && traits->type != TensorType::kF32) {
      status = Status::Errorf("{}: tensor {} has type {}, expected F32 for a norm weight",
                              file->path(), v.name, traits->name);
      return;
    }
    v.type = traits->type;
    v.data = t->data;
  });
  if (!status.ok()) return status;
  w.storage.push_back(file);
  return w;
}

Result<std::unique_ptr<Model>> ReadGgufModel(std::shared_ptr<GgufFile> file) {
  auto model = std::make_unique<Model>();
  SHRINK_ASSIGN_OR_RETURN(model->config, ReadGgufConfig(*file));
  SHRINK_ASSIGN_OR_RETURN(model->weights, ReadGgufWeights(file, model->config));
  if (file->Find("tokenizer.chat_template") != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(model->chat_template, file->GetString("tokenizer.chat_template"));
  } else {
    SHRINK_ASSIGN_OR_RETURN(const Architecture* arch, FindArchitecture(model->config.architecture));
    model->chat_template = std::string(arch->default_chat_template);
  }
  model->metadata = file->ReleaseMetadata();
  return model;
}

Result<std::unique_ptr<Model>> LoadGgufTransformer(const std::string& path) {
  SHRINK_ASSIGN_OR_RETURN(GgufFile opened, GgufFile::Open(path));
  return ReadGgufModel(std::make_shared<GgufFile>(std::move(opened)));
}

}  // namespace shrink
