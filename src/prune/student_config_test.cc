// Tests of prune/student_config.h: parsing --student-config, its errors, a student that runs, and
// that the student's tensors are the teacher's selected rows and columns (planted so that which
// units the weight scores keep is known without running the selection code).
#include "prune/student_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "model/prepared_model.h"
#include "model/tiny_model_test_util.h"
#include "model/transformer.h"
#include "prune/depth.h"

namespace shrink {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ParseError(std::string_view text) {
  const Result<StudentShape> r = ParseStudentConfig(text);
  EXPECT_FALSE(r.ok()) << text;
  const std::string message = r.ok() ? "" : r.status().ToString();
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  return message;
}

TEST(StudentConfigTest, ParsesEveryKeyAndItsAliases) {
  const Result<StudentShape> a = ParseStudentConfig("layers=2,width=32,heads=2,kv_heads=1,ffn=64");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->layers, 2);
  EXPECT_EQ(a->widths.hidden, 32);
  EXPECT_EQ(a->widths.heads, 2);
  EXPECT_EQ(a->widths.kv_heads, 1);
  EXPECT_EQ(a->widths.ffn, 64);
  const Result<StudentShape> b = ParseStudentConfig("hidden=48,kv-heads=1");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->layers, -1);
  EXPECT_EQ(b->widths.hidden, 48);
  EXPECT_EQ(b->widths.kv_heads, 1);
  EXPECT_EQ(b->widths.heads, -1);
  EXPECT_EQ(b->widths.ffn, -1);
}

TEST(StudentConfigTest, MalformedTextIsAOneLineErrorNamingThePair) {
  EXPECT_THAT(ParseError(""), HasSubstr("empty"));
  EXPECT_THAT(ParseError("layers"), HasSubstr("'layers': expected KEY=VALUE"));
  EXPECT_THAT(ParseError("layers=2,"), HasSubstr("'': expected KEY=VALUE"));
  EXPECT_THAT(ParseError("depth=3"), HasSubstr("unknown key 'depth' (keys: layers, width"));
  EXPECT_THAT(ParseError("layers=0"), HasSubstr("'layers=0': expected a whole number >= 1"));
  EXPECT_THAT(ParseError("ffn=64x"), HasSubstr("'ffn=64x': expected a whole number"));
  EXPECT_THAT(ParseError("ffn=-5"), HasSubstr("expected a whole number"));
  EXPECT_THAT(ParseError("layers=2,width=32,layers=3"), HasSubstr("'layers' is given twice"));
  EXPECT_THAT(ParseError("width=32,hidden=16"), HasSubstr("'hidden' is given twice"));
}

std::string ShapeError(const Model& teacher, std::string_view text, int64_t multiple = 1) {
  const Result<StudentShape> shape = ParseStudentConfig(text);
  EXPECT_TRUE(shape.ok()) << text;
  const Result<std::unique_ptr<Model>> r =
      StudentFromTeacher(teacher, *shape, multiple, multiple == 1 ? "F32" : "Q4_0");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.status().ToString();
}

TEST(StudentConfigTest, ShapesTheTeacherCannotGiveAreErrors) {
  const std::unique_ptr<Model> teacher = RandomF32Model(TinyTestConfig(4), 1);
  EXPECT_THAT(ShapeError(*teacher, "layers=5"), HasSubstr("the teacher has 4 layers"));
  EXPECT_THAT(ShapeError(*teacher, "ffn=200"), HasSubstr("--ffn 200: layer 0 has 96"));
  EXPECT_THAT(ShapeError(*teacher, "width=65"), HasSubstr("hidden width is 64"));
  EXPECT_THAT(ShapeError(*teacher, "heads=3"), HasSubstr("whole groups"));
  EXPECT_THAT(ShapeError(*teacher, "heads=3,kv_heads=2"), HasSubstr("does not divide"));
  EXPECT_THAT(ShapeError(*teacher, "width=48", 32), HasSubstr("32-element blocks of Q4_0"));
  EXPECT_THAT(ShapeError(*teacher, "ffn=200"), HasSubstr("--student-config"));
}

TEST(StudentConfigTest, EvenlySpacedLayersKeepTheEnds) {
  EXPECT_THAT(EvenlySpacedLayers(4, 2), ElementsAre(0, 3));
  EXPECT_THAT(EvenlySpacedLayers(5, 3), ElementsAre(0, 2, 4));
  EXPECT_THAT(EvenlySpacedLayers(4, 4), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(EvenlySpacedLayers(7, 1), ElementsAre(0));
  const std::vector<int> k = EvenlySpacedLayers(30, 20);
  ASSERT_EQ(k.size(), 20u);
  EXPECT_EQ(k.front(), 0);
  EXPECT_EQ(k.back(), 29);
  for (size_t i = 1; i < k.size(); ++i) EXPECT_GT(k[i], k[i - 1]);
}

TEST(StudentConfigTest, AStudentFromAConfigRunsAForwardPass) {
  const std::unique_ptr<Model> teacher = RandomF32Model(TinyTestConfig(4), 2);
  const Result<StudentShape> shape =
      ParseStudentConfig("layers=3,width=32,heads=2,kv_heads=1,ffn=64");
  ASSERT_TRUE(shape.ok());
  const Result<std::unique_ptr<Model>> student = StudentFromTeacher(*teacher, *shape, 32, "Q4_0");
  ASSERT_TRUE(student.ok()) << student.status().ToString();
  const Config& c = (*student)->config;
  EXPECT_EQ(c.n_layers, 3);
  EXPECT_EQ(c.d_model, 32);
  EXPECT_EQ(c.vocab_size, teacher->config.vocab_size);
  for (const LayerConfig& lc : c.layers) {
    EXPECT_EQ(lc.n_heads, 2);
    EXPECT_EQ(lc.n_kv_heads, 1);
    EXPECT_EQ(lc.ffn_dim, 64);
  }
  const std::vector<TokenId> tokens = {1, 17, 42, 99, 3, 127};
  const PreparedModel prepared(**student);
  InferenceSession session(prepared, 16);
  std::vector<float> logits(tokens.size() * c.vocab_size);
  const Status s = session.Evaluate(tokens, logits);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (float v : logits) ASSERT_TRUE(std::isfinite(v));
}

// The F32 values of a view of a RandomF32Model (whose buffers it owns), writable for planting.
float* Planted(const TensorView& v) { return const_cast<float*>(v.f32().data()); }

TEST(StudentConfigTest, TheStudentHoldsTheTeachersSelectedRowsAndColumns) {
  const Config tc = TinyTestConfig(4);  // C 64, 4 heads / 2 KV of 16, FFN 96
  const std::unique_ptr<Model> teacher = RandomF32Model(tc, 3);
  // Plant the units the weight scores must keep: FFN channels whose ffn_down columns are 10×
  // larger, KV group 1 (query heads 2, 3) whose attn_output columns are 10× larger, hidden
  // dimensions every norm weighs 3 (the others ~1).
  const std::vector<int> ffn = {3, 10, 50, 77};
  const std::vector<int> hidden = {1, 5, 9, 20, 33, 40, 47, 60};
  for (const LayerWeights& lw : teacher->weights.layers) {
    float* down = Planted(lw.ffn_down);  // (C, F)
    float* o = Planted(lw.attn_output);  // (C, Q)
    for (int r = 0; r < tc.d_model; ++r) {
      for (int j : ffn) down[r * tc.ffn_dim + j] *= 10.0f;
      for (int i = 2 * tc.head_dim; i < 4 * tc.head_dim; ++i) o[r * tc.q_dim(0) + i] *= 10.0f;
    }
    for (const TensorView* n : {&lw.attn_norm, &lw.ffn_norm}) {
      for (int i : hidden) Planted(*n)[i] = 3.0f;
    }
  }
  for (int i : hidden) Planted(teacher->weights.output_norm)[i] = 3.0f;

  const Result<StudentShape> shape = ParseStudentConfig("layers=2,width=8,heads=2,ffn=4");
  ASSERT_TRUE(shape.ok());
  const Result<std::unique_ptr<Model>> r = StudentFromTeacher(*teacher, *shape, 1, "F32");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Model& s = **r;
  ASSERT_EQ(s.config.n_layers, 2);
  const int C = tc.d_model, F = tc.ffn_dim, hd = tc.head_dim;
  const std::vector<int> heads = {2, 3};
  // Student layer i is teacher layer {0, 3}[i] (evenly spaced, both ends).
  const int kept[] = {0, 3};
  for (int i = 0; i < 2; ++i) {
    const LayerWeights& t = teacher->weights.layers[kept[i]];
    const LayerWeights& st = s.weights.layers[i];
    EXPECT_EQ(st.ffn_gate.name, "blk." + std::to_string(i) + ".ffn_gate.weight");
    ASSERT_EQ(st.ffn_gate.type, TensorType::kF32);
    for (size_t r2 = 0; r2 < ffn.size(); ++r2) {
      for (size_t c2 = 0; c2 < hidden.size(); ++c2) {
        EXPECT_EQ(st.ffn_gate.f32()[r2 * hidden.size() + c2],
                  t.ffn_gate.f32()[ffn[r2] * C + hidden[c2]]);
        EXPECT_EQ(st.ffn_down.f32()[c2 * ffn.size() + r2],
                  t.ffn_down.f32()[hidden[c2] * F + ffn[r2]]);
      }
    }
    // attn_q rows of kept heads 2, 3 (in order), attn_k rows of KV head 1.
    for (int h = 0; h < 2; ++h) {
      for (int d = 0; d < hd; ++d) {
        for (size_t c2 = 0; c2 < hidden.size(); ++c2) {
          EXPECT_EQ(st.attn_q.f32()[(h * hd + d) * hidden.size() + c2],
                    t.attn_q.f32()[(heads[h] * hd + d) * C + hidden[c2]]);
        }
      }
    }
    for (int d = 0; d < hd; ++d) {
      EXPECT_EQ(st.attn_k.f32()[d * hidden.size()], t.attn_k.f32()[(1 * hd + d) * C + hidden[0]]);
    }
    for (size_t c2 = 0; c2 < hidden.size(); ++c2) {
      EXPECT_EQ(st.attn_norm.f32()[c2], t.attn_norm.f32()[hidden[c2]]);
    }
  }
  for (int v = 0; v < tc.vocab_size; v += 17) {
    for (size_t c2 = 0; c2 < hidden.size(); ++c2) {
      EXPECT_EQ(s.weights.token_embd.f32()[v * hidden.size() + c2],
                teacher->weights.token_embd.f32()[v * C + hidden[c2]]);
    }
  }
}

TEST(StudentConfigTest, FewerLayersOnlyKeepsTheTeachersTensorsAsTheyAre) {
  const std::unique_ptr<Model> teacher = RandomF32Model(TinyTestConfig(5), 4);
  const Result<StudentShape> shape = ParseStudentConfig("layers=3");
  ASSERT_TRUE(shape.ok());
  const Result<std::unique_ptr<Model>> r = StudentFromTeacher(*teacher, *shape, 1, "F32");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Weights& w = (*r)->weights;
  ASSERT_EQ(w.layers.size(), 3u);
  const int kept[] = {0, 2, 4};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(w.layers[i].ffn_up.name, "blk." + std::to_string(i) + ".ffn_up.weight");
    EXPECT_EQ(w.layers[i].ffn_up.data.data(), teacher->weights.layers[kept[i]].ffn_up.data.data());
  }
  EXPECT_EQ(w.token_embd.data.data(), teacher->weights.token_embd.data.data());
}

}  // namespace
}  // namespace shrink
