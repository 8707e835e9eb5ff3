// GGUF (architecture "llama") -> Config + Weights.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "io/gguf.h"
#include "model/loaders.h"

namespace shrink {
namespace {

// Per-layer integer key: a scalar applies to every layer; an array gives one value per layer.
Result<std::vector<int32_t>> GetPerLayer(const GgufFile& file, const std::string& key, int n_layers,
                                         const int32_t* fallback) {
  const GgufValue* v = file.Find(key);
  if (v == nullptr && fallback != nullptr) return std::vector<int32_t>(n_layers, *fallback);
  if (v != nullptr && v->type == GgufValueType::kArray) {
    const GgufArray& a = std::get<GgufArray>(v->data);
    if (static_cast<int>(a.elements.size()) != n_layers) {
      return Status::Errorf("{}: key '{}' has {} per-layer values, expected block_count = {}",
                            file.path(), key, a.elements.size(), n_layers);
    }
    std::vector<int32_t> out;
    for (const GgufValue& e : a.elements) {
      if (!e.is_integer()) {
        return Status::Errorf("{}: key '{}' holds {} values, expected integers", file.path(), key,
                              GgufValueTypeName(e.type));
      }
      out.push_back(static_cast<int32_t>(e.AsInt()));
    }
    return out;
  }
  SHRINK_ASSIGN_OR_RETURN(int64_t value, file.GetInt(key));
  return std::vector<int32_t>(n_layers, static_cast<int32_t>(value));
}

Result<int64_t> GetIntOr(const GgufFile& file, const std::string& key, int64_t fallback) {
  if (file.Find(key) == nullptr) return fallback;
  return file.GetInt(key);
}
Result<double> GetFloatOr(const GgufFile& file, const std::string& key, double fallback) {
  if (file.Find(key) == nullptr) return fallback;
  return file.GetFloat(key);
}

}  // namespace

Result<Config> ReadGgufConfig(const GgufFile& file) {
  Config c;
  SHRINK_ASSIGN_OR_RETURN(c.architecture, file.GetString("general.architecture"));
  if (c.architecture != "llama") {
    return Status::Errorf(
        "{}: general.architecture is '{}', expected 'llama' (the only one supported "
        "so far)",
        file.path(), c.architecture);
  }
  const std::string a = c.architecture + ".";
  SHRINK_ASSIGN_OR_RETURN(int64_t n_layers, file.GetInt(a + "block_count"));
  SHRINK_ASSIGN_OR_RETURN(int64_t d_model, file.GetInt(a + "embedding_length"));
  SHRINK_ASSIGN_OR_RETURN(int64_t context, file.GetInt(a + "context_length"));
  SHRINK_ASSIGN_OR_RETURN(double eps, file.GetFloat(a + "attention.layer_norm_rms_epsilon"));
  SHRINK_ASSIGN_OR_RETURN(double theta, GetFloatOr(file, a + "rope.freq_base", 10000.0));
  if (n_layers <= 0 || n_layers > 100000) {
    return Status::Errorf("{}: key '{}block_count' is {}, expected 1..100000", file.path(), a,
                          n_layers);
  }
  c.n_layers = static_cast<int32_t>(n_layers);
  c.d_model = static_cast<int32_t>(d_model);
  c.context_length = static_cast<int32_t>(context);
  c.rms_norm_eps = static_cast<float>(eps);
  c.rope_theta = static_cast<float>(theta);
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
  SHRINK_ASSIGN_OR_RETURN(int64_t head_dim,
                          GetIntOr(file, a + "attention.key_length", c.d_model / c.n_heads));
  c.head_dim = static_cast<int32_t>(head_dim);
  SHRINK_ASSIGN_OR_RETURN(int64_t rope_dims,
                          GetIntOr(file, a + "rope.dimension_count", c.head_dim));
  c.rope_dims = static_cast<int32_t>(rope_dims);
  // llama.cpp picks the rotation by architecture; "llama" uses ggml's "norm" (adjacent pairs), the
  // convert script having permuted Q/K rows for it.
  c.rope_ordering = RopeOrdering::kAdjacentPairs;
  c.layers.resize(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l) c.layers[l] = {heads[l], kv_heads[l], ffn[l]};

  int64_t vocab = 0;
  if (file.Find(a + "vocab_size") != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(vocab, file.GetInt(a + "vocab_size"));
  } else if (file.Find("tokenizer.ggml.tokens") != nullptr) {
    SHRINK_ASSIGN_OR_RETURN(const GgufArray* tokens, file.GetArray("tokenizer.ggml.tokens"));
    vocab = static_cast<int64_t>(tokens->elements.size());
  } else if (const GgufTensorInfo* t = file.FindTensor("token_embd.weight");
             t != nullptr && t->shape.size() == 2) {
    vocab = t->shape[1];
  } else {
    return Status::Errorf(
        "{}: no vocabulary size: none of '{}vocab_size', 'tokenizer.ggml.tokens' "
        "or tensor token_embd.weight",
        file.path(), a);
  }
  c.vocab_size = static_cast<int32_t>(vocab);
  c.tied_embeddings = file.FindTensor("output.weight") == nullptr;
  SHRINK_RETURN_IF_ERROR(c.Validate().WithContext(file.path()));
  return c;
}

Result<Weights> ReadGgufWeights(std::shared_ptr<const GgufFile> file, Config& config) {
  config.tied_embeddings = file->FindTensor("output.weight") == nullptr;
  Weights w = Weights::Skeleton(config);
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
    const TypeTraits* traits = t->traits;
    if (traits == nullptr) {
      status =
          Status::Errorf("{}: tensor {} has unknown type id {}", file->path(), v.name, t->type_id);
      return;
    }
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

Result<std::unique_ptr<Model>> LoadGgufTransformer(const std::string& path) {
  SHRINK_ASSIGN_OR_RETURN(GgufFile opened, GgufFile::Open(path));
  auto file = std::make_shared<const GgufFile>(std::move(opened));
  auto model = std::make_unique<Model>();
  SHRINK_ASSIGN_OR_RETURN(model->config, ReadGgufConfig(*file));
  SHRINK_ASSIGN_OR_RETURN(model->weights, ReadGgufWeights(file, model->config));
  return model;
}

}  // namespace shrink
