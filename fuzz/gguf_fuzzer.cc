// Fuzzes the GGUF container reader (GgufFile::Open) and its round trip through the writer.
//
// Every input must give either an error or a file whose invariants hold: each metadata key and
// tensor is found by name, every tensor's bytes are exactly GgufTensorBytes of its type and shape
// and lie inside the file after the data offset, and typed lookups return values or errors (never
// abort). A file that opens is then written back with WriteGguf and reopened; writing the reopened
// file again must give the same bytes (the writer's output is canonical, as gguf_writer.h promises).
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>

#include "fuzz_file.h"
#include "io/gguf.h"
#include "io/gguf_writer.h"

namespace shrink {
namespace {

uint8_t Touch(std::span<const uint8_t> bytes) {
  return bytes.empty() ? 0 : bytes.front() ^ bytes.back();
}

// Reads each value with the accessor its type allows; returns a checksum so nothing is optimized
// away.
uint64_t VisitValue(const GgufValue& v, int depth) {
  SHRINK_CHECK(depth <= 64);
  switch (v.type) {
    case GgufValueType::kString:
      return v.AsString().size();
    case GgufValueType::kBool:
      return v.AsBool();
    case GgufValueType::kArray: {
      // Each element as a value (nested arrays copied: at most 16 levels), and scalars' stored
      // bytes exactly size × width.
      const GgufArray& a = v.AsArray();
      uint64_t sum = a.size();
      for (size_t i = 0; i < a.size(); ++i) {
        const GgufValue e = a.At(i);
        SHRINK_CHECK(e.type == a.element_type());
        sum += VisitValue(e, depth + 1);
      }
      return sum + Touch(a.scalar_bytes());
    }
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64:
      SHRINK_CHECK(v.is_float() && !v.is_integer());
      return v.AsFloat() != 0;
    default:
      SHRINK_CHECK(v.is_integer());
      return static_cast<uint64_t>(v.AsFloat() != 0);
  }
}

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void CheckFile(const GgufFile& file) {
  uint64_t sum = 0;
  for (const auto& [key, value] : file.metadata()) {
    SHRINK_CHECK(file.Find(key) == &value);
    sum += VisitValue(value, 0);
    // Typed lookups give a value or an error, whatever the stored type.
    sum += file.GetInt(key).ok() + file.GetFloat(key).ok() + file.GetString(key).ok() +
           file.GetArray(key).ok();
  }
  SHRINK_CHECK(file.alignment() > 0 && (file.alignment() & (file.alignment() - 1)) == 0);
  // A file without tensors may end before its (empty) data section's aligned start.
  SHRINK_CHECK(file.tensors().empty() || file.data_offset() <= file.file_size());
  for (const GgufTensorInfo& t : file.tensors()) {
    SHRINK_CHECK(file.FindTensor(t.name) == &t);
    SHRINK_CHECK(t.traits != nullptr);
    SHRINK_CHECK(t.shape.size() >= 1 && t.shape.size() <= 4);
    auto bytes = GgufTensorBytes(*t.traits, t.shape);
    SHRINK_CHECK(bytes.ok() && *bytes == t.data.size());
    SHRINK_CHECK(t.offset % file.alignment() == 0);
    SHRINK_CHECK(t.offset <= file.file_size() - file.data_offset());
    SHRINK_CHECK(t.data.size() <= file.file_size() - file.data_offset() - t.offset);
    SHRINK_CHECK(t.element_count() > 0);
    sum += Touch(t.data);
  }
  volatile uint64_t sink = sum;
  (void)sink;
}

void RoundTrip(const GgufFile& file) {
  const std::filesystem::path first = fuzz::ScratchDir() / "first.gguf";
  const std::filesystem::path second = fuzz::ScratchDir() / "second.gguf";
  const Status written = WriteGguf(first.string(), file.metadata(), TensorsToWrite(file));
  if (!written.ok()) {
    std::fprintf(stderr, "writer rejected what the reader accepted: %s\n",
                 written.message().c_str());
    SHRINK_CHECK(written.ok());
  }
  auto reopened = GgufFile::Open(first.string());
  if (!reopened.ok()) {
    std::fprintf(stderr, "reader rejected what the writer wrote: %s\n",
                 reopened.status().message().c_str());
    SHRINK_CHECK(reopened.ok());
  }
  CheckFile(*reopened);
  SHRINK_CHECK(reopened->metadata().size() == file.metadata().size());
  SHRINK_CHECK(reopened->tensors().size() == file.tensors().size());
  const Status again = WriteGguf(second.string(), reopened->metadata(), TensorsToWrite(*reopened));
  SHRINK_CHECK(again.ok());
  SHRINK_CHECK(ReadAll(first) == ReadAll(second));
}

}  // namespace
}  // namespace shrink

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shrink;
  fuzz::InputFile input(data, size);
  auto file = GgufFile::Open(input.path());
  if (!file.ok()) {
    // One line naming the file, in the house style.
    fuzz::CheckError(file.status(), input.path());
    return 0;
  }
  CheckFile(*file);
  RoundTrip(*file);
  fuzz::CountOutcome("accepted and round-tripped");
  return 0;
}
