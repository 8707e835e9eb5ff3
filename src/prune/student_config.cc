#include "prune/student_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

#include "prune/depth.h"

namespace shrink {
namespace {

constexpr std::string_view kKeys = "layers, width, heads, kv_heads, ffn";

// The field a key sets, or nullptr for an unknown key.
int64_t* FieldOf(StudentShape& shape, std::string_view key) {
  if (key == "layers") return &shape.layers;
  if (key == "width" || key == "hidden") return &shape.widths.hidden;
  if (key == "heads") return &shape.widths.heads;
  if (key == "kv_heads" || key == "kv-heads") return &shape.widths.kv_heads;
  if (key == "ffn") return &shape.widths.ffn;
  return nullptr;
}

}  // namespace

Result<StudentShape> ParseStudentConfig(std::string_view text) {
  if (text.empty()) {
    return Status::Errorf("--student-config is empty: expected KEY=VALUE pairs ({})", kKeys);
  }
  StudentShape shape;
  std::vector<int64_t*> seen;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view pair = text.substr(start, comma - start);
    start = comma + 1;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return Status::Errorf("--student-config '{}': expected KEY=VALUE (keys: {})", pair, kKeys);
    }
    const std::string_view key = pair.substr(0, eq), value = pair.substr(eq + 1);
    int64_t* field = FieldOf(shape, key);
    if (field == nullptr) {
      return Status::Errorf("--student-config '{}': unknown key '{}' (keys: {})", pair, key, kKeys);
    }
    if (std::find(seen.begin(), seen.end(), field) != seen.end()) {
      return Status::Errorf("--student-config '{}': '{}' is given twice", pair, key);
    }
    seen.push_back(field);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || v < 1) {
      return Status::Errorf("--student-config '{}': expected a whole number >= 1 for '{}'", pair,
                            key);
    }
    *field = v;
  }
  return shape;
}

Result<std::unique_ptr<Model>> StudentFromTeacher(const Model& teacher, const StudentShape& shape,
                                                  int64_t multiple, std::string_view type_name) {
  const Config& c = teacher.config;
  if (shape.layers > c.n_layers) {
    return Status::Errorf("--student-config layers={}: the teacher has {} layers", shape.layers,
                          c.n_layers);
  }
  SHRINK_ASSIGN_OR_RETURN(
      const UniformWidths widths,
      ResolveUniformWidths(c, shape.widths, multiple, type_name).WithContext("--student-config"));
  const int n = shape.layers > 0 ? static_cast<int>(shape.layers) : c.n_layers;
  SHRINK_ASSIGN_OR_RETURN(std::unique_ptr<Model> deep,
                          DepthPrunedModel(teacher, EvenlySpacedLayers(c.n_layers, n)));
  if (widths.ffn < 0 && widths.heads < 0 && widths.kv_heads < 0 && widths.hidden < 0) {
    return deep;
  }
  SHRINK_ASSIGN_OR_RETURN(const WidthScores scores, WeightWidthScores(*deep));
  return WidthPrunedModel(*deep, UniformWidthPlan(deep->config, scores, widths));
}

}  // namespace shrink
