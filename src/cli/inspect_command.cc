// `shrink inspect FILE`: a GGUF file's header, metadata, tensor table and totals.
#include <fmt/format.h>

#include <memory>
#include <string>

#include "cli/command.h"
#include "formats/types.h"
#include "io/gguf.h"
#include "model/tensor_table.h"

namespace shrink::cli {
namespace {

constexpr size_t kMaxStringChars = 60;   // longer strings are cut, with their full size shown
constexpr size_t kMaxArrayElements = 5;  // arrays show this many elements, then "..."

// A string on one line: escapes control characters and cuts long ones (at a UTF-8 boundary).
std::string Abbreviate(const std::string& s) {
  std::string out = "\"";
  size_t shown = 0;
  for (; shown < s.size() && shown < kMaxStringChars; ++shown) {
    const unsigned char c = static_cast<unsigned char>(s[shown]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  while (shown < s.size() && (static_cast<unsigned char>(s[shown]) & 0xc0) == 0x80) {
    out += s[shown++];  // finish a UTF-8 sequence cut in the middle
  }
  out += '"';
  if (shown < s.size()) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

std::string ArrayTypeName(const GgufArray& a) {
  return fmt::format("array[{}]", GgufValueTypeName(a.element_type()));
}

std::string FormatValue(const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::kString:
      return Abbreviate(v.AsString());
    case GgufValueType::kBool:
      return v.AsBool() ? "true" : "false";
    case GgufValueType::kFloat32:
      return fmt::format("{}", static_cast<float>(v.AsFloat()));
    case GgufValueType::kFloat64:
      return fmt::format("{}", v.AsFloat());
    case GgufValueType::kArray: {
      const GgufArray& a = v.AsArray();
      std::string out = fmt::format("{} elements: [", a.size());
      for (size_t i = 0; i < a.size() && i < kMaxArrayElements; ++i) {
        if (i > 0) out += ", ";
        // Only the elements shown are made values (a nested array is named, not copied).
        out += a.element_type() == GgufValueType::kArray
                   ? fmt::format("{} of {}", ArrayTypeName(a.ArrayAt(i)), a.ArrayAt(i).size())
                   : FormatValue(a.At(i));
      }
      if (a.size() > kMaxArrayElements) out += ", ...";
      return out + "]";
    }
    default:
      if (const auto* u = std::get_if<uint64_t>(&v.data)) return fmt::format("{}", *u);
      return fmt::format("{}", v.AsInt());
  }
}

std::string FormatShape(const std::vector<int64_t>& shape) {
  return fmt::format("{}", fmt::join(shape, " x "));
}

// Which runtimes can load a model file: low-rank factor pairs (model/tensor_table.h, TensorPart)
// run in shrink only; llama.cpp looks for the whole tensors.
void PrintRuntimes(const GgufFile& file) {
  if (file.Find("general.architecture") == nullptr) return;  // not a model (an imatrix, ...)
  int factors = 0;
  for (const GgufTensorInfo& t : file.tensors()) {
    factors += TensorPartOfName(t.name) == TensorPart::kLowRankA;
  }
  if (factors > 0) {
    fmt::print(
        "runtimes: shrink yes; llama.cpp no ({} linears stored as low-rank factor pairs, "
        "{} = {})\n",
        factors, kLowRankVersionKey,
        file.Find(std::string(kLowRankVersionKey)) != nullptr
            ? FormatValue(*file.Find(std::string(kLowRankVersionKey)))
            : "missing");
  } else {
    fmt::print("runtimes: shrink yes; llama.cpp yes (no shrink-only tensors)\n");
  }
}

Status RunInspect(const std::string& path) {
  SHRINK_ASSIGN_OR_RETURN(GgufFile file, GgufFile::Open(path));
  fmt::print("{}: GGUF v{}, {} bytes, alignment {}, data section at offset {}\n", path,
             file.version(), file.file_size(), file.alignment(), file.data_offset());

  size_t key_width = 0;
  for (const auto& [key, value] : file.metadata()) key_width = std::max(key_width, key.size());
  fmt::print("\nmetadata ({} keys):\n", file.metadata().size());
  for (const auto& [key, value] : file.metadata()) {
    const std::string type = value.type == GgufValueType::kArray ? ArrayTypeName(value.AsArray())
                                                                 : GgufValueTypeName(value.type);
    fmt::print("  {:<{}}  {:<13}  {}\n", key, key_width, type, FormatValue(value));
  }

  size_t name_width = 4;
  for (const GgufTensorInfo& t : file.tensors()) name_width = std::max(name_width, t.name.size());
  fmt::print("\ntensors ({}):\n", file.tensors().size());
  fmt::print("  {:<{}}  {:<7}  {:<20}  {:>12}\n", "name", name_width, "type", "shape", "bytes");
  uint64_t total_bytes = 0;
  int64_t total_elements = 0;
  for (const GgufTensorInfo& t : file.tensors()) {
    const TypeTraits* traits = t.traits;  // never null: GgufFile::Open checked the id
    fmt::print("  {:<{}}  {:<7}  {:<20}  {:>12}\n", t.name, name_width, traits->name,
               FormatShape(t.shape), t.data.size());
    total_bytes += t.data.size();
    total_elements += t.element_count();
  }
  const double bpw = total_elements > 0 ? 8.0 * static_cast<double>(total_bytes) /
                                              static_cast<double>(total_elements)
                                        : 0.0;
  fmt::print("\ntotal: {} tensors, {} bytes ({:.2f} MiB), {} parameters, {:.4f} bits per weight\n",
             file.tensors().size(), total_bytes, static_cast<double>(total_bytes) / (1 << 20),
             total_elements, bpw);
  PrintRuntimes(file);
  return Status::Ok();
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "show a GGUF file's metadata, tensor table, total size and bits per weight");
  cmd->add_option("file", *path, "GGUF file")->required();
  cmd->callback([path] { FinishCommand(RunInspect(*path)); });
}

}  // namespace shrink::cli
