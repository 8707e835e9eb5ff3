// Every training op's backward against central differences of its forward
// (train/grad_check_test_util.h explains the tolerance).
#include "train/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/grad_check_test_util.h"

namespace shrink::train {
namespace {

using testing::ExpectGradient;
using testing::LossValue;
using testing::Project;
using testing::RandomVector;

TEST(TrainOpsTest, EmbeddingGradient) {
  const int64_t V = 7, C = 5, N = 6;
  const std::vector<int32_t> tokens = {3, 1, 3, 6, 0, 3};  // repeats: gradients add
  std::vector<float> wte = RandomVector(V * C, 1), out(N * C), r = RandomVector(N * C, 2);
  std::vector<float> dwte(V * C, 0.0f);
  const float scale = 1.7f;
  EmbeddingBackward(dwte.data(), r.data(), tokens.data(), N, C, scale);
  ExpectGradient(
      "wte", wte, dwte,
      [&] {
        EmbeddingForward(out.data(), tokens.data(), wte.data(), N, C, scale);
        return Project(out, r);
      },
      1, 1e-2, 1000);
}

TEST(TrainOpsTest, RmsNormGradient) {
  const int64_t N = 4, C = 24;
  std::vector<float> x = RandomVector(N * C, 3), w = RandomVector(C, 4), r = RandomVector(N * C, 5);
  std::vector<float> out(N * C), rstd(N), dx(N * C, 0.0f), dw(C, 0.0f);
  auto loss = [&] {
    RmsNormForward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
    return Project(out, r);
  };
  loss();
  RmsNormBackward(dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(), N, C);
  ExpectGradient("x", x, dx, loss, C);
  ExpectGradient("w", w, dw, loss, C);
}

TEST(TrainOpsTest, LinearGradient) {
  const int64_t N = 5, C = 12, OC = 9;
  std::vector<float> x = RandomVector(N * C, 6), W = RandomVector(OC * C, 7);
  std::vector<float> r = RandomVector(N * OC, 8), out(N * OC);
  // Non-zero starting gradients: the backward op must add, not overwrite.
  std::vector<float> dx(N * C, 0.5f), dW(OC * C, -0.25f);
  LinearBackward(dx.data(), dW.data(), r.data(), x.data(), W.data(), N, C, OC);
  for (float& v : dx) v -= 0.5f;
  for (float& v : dW) v += 0.25f;
  auto loss = [&] {
    LinearForward(out.data(), x.data(), W.data(), N, C, OC);
    return Project(out, r);
  };
  ExpectGradient("x", x, dx, loss, C);
  ExpectGradient("W", W, dW, loss, C);
}

void CheckRope(RopeOrdering ordering, int64_t rope_dims) {
  const int64_t N = 6, H = 3, hd = 8;
  const RopeParams p{.n_heads = H,
                     .head_dim = hd,
                     .rope_dims = rope_dims,
                     .base = 500.0f,
                     .position_scale = 0.5f,
                     .ordering = ordering};
  const std::vector<int32_t> pos = {0, 1, 2, 7, 3, 11};
  std::vector<float> x = RandomVector(N * H * hd, 9), r = RandomVector(N * H * hd, 10);
  std::vector<float> out(N * H * hd), dx(N * H * hd, 0.0f);
  RopeBackward(dx.data(), r.data(), pos.data(), N, p);
  ExpectGradient(
      "rope x", x, dx,
      [&] {
        RopeForward(out.data(), x.data(), pos.data(), N, p);
        return Project(out, r);
      },
      2, 1e-2, 200);
}

TEST(TrainOpsTest, RopeGradientAdjacentPairs) { CheckRope(RopeOrdering::kAdjacentPairs, 8); }
TEST(TrainOpsTest, RopeGradientHalves) { CheckRope(RopeOrdering::kHalves, 8); }
TEST(TrainOpsTest, RopeGradientPartialDims) { CheckRope(RopeOrdering::kHalves, 4); }

TEST(TrainOpsTest, RopeMatchesTheInferenceKernel) {
  // The training op rotates like kernels/rope.h (angles in F64 here, ggml's F32 recurrence
  // there: the angles differ by a few F32 ulps of p·θ, the products by ~1e-6 relative).
  const int64_t T = 9, H = 2, hd = 8;
  for (RopeOrdering ordering : {RopeOrdering::kAdjacentPairs, RopeOrdering::kHalves}) {
    const RopeParams p{.n_heads = H, .head_dim = hd, .rope_dims = hd, .ordering = ordering};
    std::vector<float> x = RandomVector(T * H * hd, 11), ours(T * H * hd);
    std::vector<int32_t> pos(T);
    for (int64_t t = 0; t < T; ++t) pos[t] = static_cast<int32_t>(t);
    RopeForward(ours.data(), x.data(), pos.data(), T, p);
    Rope(p, T, 0, x.data());
    for (int64_t i = 0; i < T * H * hd; ++i) EXPECT_NEAR(ours[i], x[i], 1e-5) << i;
  }
}

void CheckAttention(int64_t window) {
  const AttentionShape s{.B = 2,
                         .T = 5,
                         .n_heads = 4,
                         .n_kv_heads = 2,
                         .head_dim = 3,
                         .scale = 0.6f,
                         .sliding_window = window};
  const int64_t qn = s.B * s.T * s.n_heads * s.head_dim, kn = s.B * s.T * s.n_kv_heads * s.head_dim;
  std::vector<float> q = RandomVector(qn, 12), k = RandomVector(kn, 13), v = RandomVector(kn, 14);
  std::vector<float> r = RandomVector(qn, 15), out(qn), probs(s.B * s.n_heads * s.T * s.T);
  std::vector<float> dq(qn, 0.0f), dk(kn, 0.0f), dv(kn, 0.0f);
  auto loss = [&] {
    AttentionForward(out.data(), probs.data(), q.data(), k.data(), v.data(), s);
    return Project(out, r);
  };
  loss();
  AttentionBackward(dq.data(), dk.data(), dv.data(), r.data(), probs.data(), q.data(), k.data(),
                    v.data(), s);
  ExpectGradient("q", q, dq, loss, s.T * s.head_dim, 1e-2, 200);
  ExpectGradient("k", k, dk, loss, s.T * s.head_dim, 1e-2, 200);
  ExpectGradient("v", v, dv, loss, s.T * s.head_dim, 1e-2, 200);
}

TEST(TrainOpsTest, CausalGqaAttentionGradient) { CheckAttention(0); }
TEST(TrainOpsTest, SlidingWindowAttentionGradient) { CheckAttention(2); }

TEST(TrainOpsTest, AttentionIsCausal) {
  // Changing a later key or value must not change an earlier output.
  const AttentionShape s{
      .B = 1, .T = 4, .n_heads = 2, .n_kv_heads = 1, .head_dim = 2, .scale = 1.0f};
  std::vector<float> q = RandomVector(16, 16), k = RandomVector(8, 17), v = RandomVector(8, 18);
  std::vector<float> a(16), b(16), probs(32);
  AttentionForward(a.data(), probs.data(), q.data(), k.data(), v.data(), s);
  k[7] += 3.0f;
  v[6] -= 2.0f;
  AttentionForward(b.data(), probs.data(), q.data(), k.data(), v.data(), s);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(a[i], b[i]) << i;
  EXPECT_NE(a[12], b[12]);
}

void CheckGlu(Activation act) {
  const int64_t n = 40;
  std::vector<float> g = RandomVector(n, 19, 2.0f), u = RandomVector(n, 20),
                     r = RandomVector(n, 21);
  std::vector<float> out(n), dg(n, 0.0f), du(n, 0.0f);
  GluBackward(dg.data(), du.data(), r.data(), g.data(), u.data(), n, act);
  auto loss = [&] {
    GluForward(out.data(), g.data(), u.data(), n, act);
    return Project(out, r);
  };
  ExpectGradient("gate", g, dg, loss, 1);
  ExpectGradient("up", u, du, loss, 1);
  // The forward op agrees with the inference kernel.
  std::vector<float> kernel(n);
  GatedActivation(act, g.data(), u.data(), n, kernel.data());
  GluForward(out.data(), g.data(), u.data(), n, act);
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(out[i], kernel[i], 1e-5 * (1 + std::fabs(out[i])));
}

TEST(TrainOpsTest, SwiGluGradient) { CheckGlu(Activation::kSilu); }
TEST(TrainOpsTest, GeluTanhGluGradient) { CheckGlu(Activation::kGeluTanh); }

TEST(TrainOpsTest, SoftcapGradient) {
  const int64_t n = 30;
  std::vector<float> x = RandomVector(n, 22, 20.0f), r = RandomVector(n, 23), out(n), dx(n);
  SoftcapBackward(dx.data(), r.data(), x.data(), n, 15.0f);
  ExpectGradient(
      "x", x, dx,
      [&] {
        SoftcapForward(out.data(), x.data(), n, 15.0f);
        return Project(out, r);
      },
      1);
}

TEST(TrainOpsTest, CrossEntropyGradient) {
  const int64_t N = 3, V = 11;
  const std::vector<int32_t> targets = {4, 0, 10};
  std::vector<float> z = RandomVector(N * V, 24, 2.0f), losses(N);
  std::vector<float> dz = z;
  const float scale = 0.5f;
  CrossEntropyForwardBackward(dz.data(), losses.data(), targets.data(), N, V, scale);
  ExpectGradient(
      "z", z, dz,
      [&] {
        std::vector<float> work = z;
        const double total =
            CrossEntropyForwardBackward(work.data(), losses.data(), targets.data(), N, V, scale);
        return LossValue{scale * total, scale * total};
      },
      V);
  // The value: -log softmax at the target, from an F64 evaluation here.
  std::vector<float> work = z;
  CrossEntropyForwardBackward(work.data(), losses.data(), targets.data(), N, V, 1.0f);
  for (int64_t n = 0; n < N; ++n) {
    double sum = 0.0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(double{z[n * V + v]});
    EXPECT_NEAR(losses[n], std::log(sum) - z[n * V + targets[n]], 1e-5);
  }
}

TEST(TrainOpsTest, KlDivergenceGradient) {
  const int64_t N = 3, V = 9;
  const float tau = 2.0f, scale = 0.7f;
  std::vector<float> z = RandomVector(N * V, 25, 2.0f), t = RandomVector(N * V, 26, 2.0f);
  std::vector<float> losses(N), dz = z;
  KlDivergenceForwardBackward(dz.data(), losses.data(), t.data(), N, V, tau, scale);
  ExpectGradient(
      "z", z, dz,
      [&] {
        std::vector<float> work = z;
        const double total =
            KlDivergenceForwardBackward(work.data(), losses.data(), t.data(), N, V, tau, scale);
        return LossValue{scale * total, scale * total};
      },
      V);
  // KL is zero when the student equals the teacher, positive otherwise.
  std::vector<float> same = t;
  EXPECT_NEAR(KlDivergenceForwardBackward(same.data(), losses.data(), t.data(), N, V, tau, 1.0f),
              0.0, 1e-6);
  for (float d : same) EXPECT_NEAR(d, 0.0f, 1e-6f);
  std::vector<float> other = z;
  EXPECT_GT(KlDivergenceForwardBackward(other.data(), losses.data(), t.data(), N, V, tau, 1.0f),
            0.01);
}

}  // namespace
}  // namespace shrink::train
