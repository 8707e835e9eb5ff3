// A student of a smaller shape cut from its teacher (`shrink distill --student-config`, issue 10
// item 3): fewer layers, a narrower residual stream, fewer heads, a narrower FFN, initialised
// from the teacher's weights by selection, so that distillation starts from the teacher's
// features rather than from noise (Minitron: prune, then distill).
//
//   SHRINK_ASSIGN_OR_RETURN(StudentShape shape, ParseStudentConfig("layers=20,ffn=1024"));
//   SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> student, StudentFromTeacher(teacher, shape, 32, "Q4_0"));
//
// Selection, with no calibration text:
//   layers  the teacher's layers spread evenly, first and last kept (prune/depth.h
//           EvenlySpacedLayers, DepthPrunedModel);
//   widths  per kept layer the FFN channels and query heads (whole GQA groups) that write the most
//           into the residual stream, and the residual dimensions the norms weigh most
//           (prune/width.h WeightWidthScores, UniformWidthPlan, WidthPrunedModel): every student
//           tensor is the teacher's tensor restricted to the kept rows and columns.
// head_dim and the vocabulary stay the teacher's (the student must read the teacher's tokens).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "model/model.h"
#include "prune/width.h"

namespace shrink {

// The shape asked for; -1 keeps the teacher's.
struct StudentShape {
  int64_t layers = -1;
  UniformWidths widths;  // ffn, heads (query heads per layer), kv_heads, hidden (the width)
};

// "layers=20,width=448,heads=6,kv_heads=2,ffn=1024": comma-separated KEY=VALUE pairs, each key at
// most once: layers, width (or hidden: the residual width, embedding_length), heads, kv_heads (or
// kv-heads), ffn. Errors name the pair and what was expected: not KEY=VALUE, an unknown key (the
// message lists the known ones), a value that is not a whole number >= 1, a repeated key, an
// empty text.
Result<StudentShape> ParseStudentConfig(std::string_view text);

// The student: the teacher's layers and units selected as the header says, F32 weights (decoded
// from any stored type) when any width changes, else views of the teacher's (shared storage);
// metadata rewritten for the shape (depth and width pruning's, so the GGUF it is written as loads
// in llama.cpp); no tokenizer (the teacher's reads its text). `multiple`/`type_name`: every
// width must be whole blocks of the output type (prune/width.h CheckWidthMultiple; 1 accepts
// everything). Errors: more layers than the teacher has, the width checks of
// ResolveUniformWidths (a width above the teacher's, heads not in whole groups, ...), a teacher
// with low-rank factor pairs.
Result<std::unique_ptr<Model>> StudentFromTeacher(const Model& teacher, const StudentShape& shape,
                                                  int64_t multiple, std::string_view type_name);

}  // namespace shrink
