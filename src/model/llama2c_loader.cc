// llama2.c checkpoint -> Config + Weights (F32 views into the mapped file).
#include "io/llama2c_checkpoint.h"
#include "model/architecture.h"
#include "model/loaders.h"

namespace shrink {
namespace {

std::span<const uint8_t> Bytes(std::span<const float> f) {
  return {reinterpret_cast<const uint8_t*>(f.data()), f.size_bytes()};
}

// Layer l's slice of an array stacked over layers.
std::span<const uint8_t> LayerSlice(std::span<const float> stacked, int n_layers, int l) {
  const size_t per_layer = stacked.size() / n_layers;
  return Bytes(stacked.subspan(l * per_layer, per_layer));
}

}  // namespace

Result<std::unique_ptr<Model>> LoadLlama2cTransformer(const std::string& path) {
  SHRINK_ASSIGN_OR_RETURN(Llama2cCheckpoint ckpt, Llama2cCheckpoint::Open(path));
  const Llama2cHeader& h = ckpt.header;
  auto model = std::make_unique<Model>();
  Config& c = model->config;
  c.n_layers = h.n_layers;
  c.d_model = h.dim;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  c.head_dim = h.head_size();
  c.ffn_dim = h.hidden_dim;
  c.vocab_size = h.vocab_size;
  c.context_length = h.seq_len;
  // run.c is the llama architecture: adjacent-pair RoPE (it rotates (x[i], x[i+1]) for even i),
  // SwiGLU, pre-norms only.
  SHRINK_ASSIGN_OR_RETURN(const Architecture* llama, FindArchitecture("llama"));
  ApplyArchitecture(*llama, c);
  c.rms_norm_eps = 1e-5f;   // run.c's rmsnorm
  c.rope_theta = 10000.0f;  // run.c: 1 / 10000^(head_dim_index / head_size)
  c.rope_dims = c.head_dim;
  c.tied_embeddings = h.shared_classifier;
  c.SetUniformLayers();
  SHRINK_RETURN_IF_ERROR(c.Validate().WithContext(path));

  Weights& w = model->weights;
  w = Weights::Skeleton(c);
  w.token_embd.data = Bytes(ckpt.token_embedding);
  for (int l = 0; l < c.n_layers; ++l) {
    LayerWeights& lw = w.layers[l];
    lw.attn_norm.data = LayerSlice(ckpt.rms_att, c.n_layers, l);
    lw.attn_q.data = LayerSlice(ckpt.wq, c.n_layers, l);
    lw.attn_k.data = LayerSlice(ckpt.wk, c.n_layers, l);
    lw.attn_v.data = LayerSlice(ckpt.wv, c.n_layers, l);
    lw.attn_output.data = LayerSlice(ckpt.wo, c.n_layers, l);
    lw.ffn_norm.data = LayerSlice(ckpt.rms_ffn, c.n_layers, l);
    lw.ffn_gate.data = LayerSlice(ckpt.w1, c.n_layers, l);
    lw.ffn_down.data = LayerSlice(ckpt.w2, c.n_layers, l);
    lw.ffn_up.data = LayerSlice(ckpt.w3, c.n_layers, l);
  }
  w.output_norm.data = Bytes(ckpt.rms_final);
  if (w.output.listed()) w.output.data = Bytes(ckpt.wcls);
  w.storage.push_back(ckpt.file);
  return model;
}

}  // namespace shrink
