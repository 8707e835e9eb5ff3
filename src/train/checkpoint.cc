#include "train/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

#include "base/hash64.h"
#include "io/atomic_file.h"
#include "io/mapped_file.h"

namespace shrink::train {
namespace {

constexpr char kMagic[8] = {'S', 'H', 'R', 'I', 'N', 'K', 'C', 'K'};
constexpr uint32_t kVersion = 1;

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

std::string HeaderText(const CheckpointRun& run, const TrainableModel& model, const AdamW& adamw,
                       const CheckpointProgress& p) {
  std::string h = fmt::format("kind\t{}\n", run.kind);
  for (const ParamTensor& t : model.tensors()) {
    h += fmt::format("tensor\t{}\t{}\n", t.name, ShapeText(t.shape));
  }
  for (const Hyperparameter& hp : run.hyperparameters) {
    h += fmt::format("hp\t{}\t{}\n", hp.flag, hp.value);
  }
  h += fmt::format("data\t{}\t{:016x}\n", run.data_tokens.size(), HashTokens(run.data_tokens));
  h += fmt::format("step\t{}\nwindows\t{}\nadam_steps\t{}\n", p.step, p.windows, adamw.steps());
  return h;
}

template <typename T>
std::span<const uint8_t> AsBytes(const T& value) {
  return {reinterpret_cast<const uint8_t*>(&value), sizeof(T)};
}
std::span<const uint8_t> AsBytes(std::span<const float> v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size_bytes()};
}

// Splits "a\tb\tc" into fields.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> f;
  size_t start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == '\t') {
      f.push_back(line.substr(start, i - start));
      start = i + 1;
    }
  }
  return f;
}

struct ParsedHeader {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> tensors;  // name, shape
  std::map<std::string, std::string, std::less<>> hyperparameters;
  std::string data;  // "count\thash"
  int64_t step = -1, windows = -1, adam_steps = -1;
};

Result<int64_t> ParseCount(std::string_view s, std::string_view key) {
  int64_t v = 0;
  if (s.empty() || s.size() > 18) return Status::Errorf("bad {} value \"{}\"", key, s);
  for (char c : s) {
    if (c < '0' || c > '9') return Status::Errorf("bad {} value \"{}\"", key, s);
    v = v * 10 + (c - '0');
  }
  return v;
}

Result<ParsedHeader> ParseHeader(std::string_view text) {
  ParsedHeader h;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos)
      return Status::Errorf("header line {} is unterminated", line_no);
    const std::vector<std::string_view> f = Fields(text.substr(0, nl));
    text.remove_prefix(nl + 1);
    const std::string_view key = f[0];
    if (key == "kind" && f.size() == 2) {
      h.kind = f[1];
    } else if (key == "tensor" && f.size() == 3) {
      h.tensors.emplace_back(f[1], f[2]);
    } else if (key == "hp" && f.size() == 3) {
      h.hyperparameters.emplace(f[1], f[2]);
    } else if (key == "data" && f.size() == 3) {
      h.data = fmt::format("{}\t{}", f[1], f[2]);
    } else if (key == "step" && f.size() == 2) {
      SHRINK_ASSIGN_OR_RETURN(h.step, ParseCount(f[1], key));
    } else if (key == "windows" && f.size() == 2) {
      SHRINK_ASSIGN_OR_RETURN(h.windows, ParseCount(f[1], key));
    } else if (key == "adam_steps" && f.size() == 2) {
      SHRINK_ASSIGN_OR_RETURN(h.adam_steps, ParseCount(f[1], key));
    } else {
      return Status::Errorf("header line {} (\"{}\") is not a known entry", line_no, key);
    }
  }
  if (h.kind.empty() || h.data.empty() || h.step < 0 || h.windows < 0 || h.adam_steps < 0) {
    return Status::Errorf("the header lacks kind, data, step, windows or adam_steps");
  }
  return h;
}

// The checks of ReadCheckpoint that compare the header with this run.
Status CheckMatches(const ParsedHeader& h, const CheckpointRun& run, const TrainableModel& model) {
  if (h.kind != run.kind) {
    return Status::Errorf("a checkpoint of `shrink {}`, not of `shrink {}`", h.kind, run.kind);
  }
  const std::vector<ParamTensor>& tensors = model.tensors();
  for (size_t i = 0; i < std::min(tensors.size(), h.tensors.size()); ++i) {
    const std::string shape = ShapeText(tensors[i].shape);
    if (h.tensors[i].first != tensors[i].name || h.tensors[i].second != shape) {
      return Status::Errorf(
          "a checkpoint of a different model: its tensor {} is {} [{}], this model's is {} [{}]", i,
          h.tensors[i].first, h.tensors[i].second, tensors[i].name, shape);
    }
  }
  if (h.tensors.size() != tensors.size()) {
    return Status::Errorf("a checkpoint of a different model: {} tensors, this model has {}",
                          h.tensors.size(), tensors.size());
  }
  for (const Hyperparameter& hp : run.hyperparameters) {
    auto it = h.hyperparameters.find(hp.flag);
    if (it == h.hyperparameters.end()) {
      return Status::Errorf("{} is not recorded in the checkpoint (a different kind of run)",
                            hp.flag);
    }
    if (it->second != hp.value) {
      return Status::Errorf("{} is {}, the checkpoint's run used {}: resume with the same value",
                            hp.flag, hp.value, it->second);
    }
  }
  if (h.hyperparameters.size() != run.hyperparameters.size()) {
    return Status::Errorf("the checkpoint records {} hyperparameters, this run {}",
                          h.hyperparameters.size(), run.hyperparameters.size());
  }
  const std::string data =
      fmt::format("{}\t{:016x}", run.data_tokens.size(), HashTokens(run.data_tokens));
  if (h.data != data) {
    return Status::Errorf(
        "the training tokens differ from the checkpoint's run (count and hash {} vs {}): resume "
        "with the same --data",
        h.data, data);
  }
  return Status::Ok();
}

}  // namespace

Status WriteCheckpoint(const std::string& path, const CheckpointRun& run,
                       const TrainableModel& model, const AdamW& adamw,
                       const CheckpointProgress& progress) {
  const std::string header = HeaderText(run, model, adamw, progress);
  const uint64_t header_bytes = header.size(), n = model.params().size();
  SHRINK_ASSIGN_OR_RETURN(AtomicFileWriter out, AtomicFileWriter::Create(path));
  Hash64 hash;
  auto write = [&](std::span<const uint8_t> bytes) -> Status {
    hash.Add(bytes);
    return out.Write(bytes);
  };
  SHRINK_RETURN_IF_ERROR(write({reinterpret_cast<const uint8_t*>(kMagic), sizeof(kMagic)}));
  SHRINK_RETURN_IF_ERROR(write(AsBytes(kVersion)));
  SHRINK_RETURN_IF_ERROR(write(AsBytes(header_bytes)));
  SHRINK_RETURN_IF_ERROR(write({reinterpret_cast<const uint8_t*>(header.data()), header.size()}));
  SHRINK_RETURN_IF_ERROR(write(AsBytes(n)));
  SHRINK_RETURN_IF_ERROR(write(AsBytes(model.params())));
  SHRINK_RETURN_IF_ERROR(write(AsBytes(adamw.m())));
  SHRINK_RETURN_IF_ERROR(write(AsBytes(adamw.v())));
  const uint64_t check = hash.Final();
  SHRINK_RETURN_IF_ERROR(out.Write(AsBytes(check)));
  return out.Commit();
}

Result<CheckpointProgress> ReadCheckpoint(const std::string& path, const CheckpointRun& run,
                                          TrainableModel& model, AdamW& adamw) {
  SHRINK_ASSIGN_OR_RETURN(const MappedFile file, MappedFile::Open(path));
  const std::span<const uint8_t> bytes = file.bytes();
  auto fail = [&](std::string_view what) {
    return Status::Errorf("{}: not a readable shrink checkpoint: {}", path, what);
  };
  size_t at = 0;
  auto take = [&](void* dst, size_t count) {
    if (bytes.size() - at < count) return false;
    std::memcpy(dst, bytes.data() + at, count);
    at += count;
    return true;
  };
  char magic[8];
  uint32_t version = 0;
  uint64_t header_bytes = 0, n = 0;
  if (!take(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) return fail("no SHRINKCK magic at 0");
  if (!take(&version, 4) || version != kVersion) {
    return fail(fmt::format("version {} at offset 8, expected {}", version, kVersion));
  }
  if (!take(&header_bytes, 8) || header_bytes > bytes.size() - at) {
    return fail(fmt::format("header size {} at offset 12 runs past the end ({} bytes)",
                            header_bytes, bytes.size()));
  }
  const std::string_view header_text(reinterpret_cast<const char*>(bytes.data() + at),
                                     header_bytes);
  at += header_bytes;
  if (!take(&n, 8)) return fail(fmt::format("truncated at offset {}", at));
  const uint64_t payload = n * 3 * sizeof(float);
  if (n > bytes.size() || bytes.size() - at != payload + 8) {
    return fail(fmt::format("{} bytes after offset {}, expected 3 × {} floats and a check",
                            bytes.size() - at, at, n));
  }
  Hash64 hash;
  hash.Add(bytes.first(bytes.size() - 8));
  uint64_t check = 0;
  std::memcpy(&check, bytes.data() + bytes.size() - 8, 8);
  if (check != hash.Final()) {
    return fail(fmt::format("check value at offset {} does not match (corrupt)", bytes.size() - 8));
  }
  SHRINK_ASSIGN_OR_RETURN(const ParsedHeader h,
                          ParseHeader(header_text).WithContext(path + ": checkpoint header"));
  SHRINK_RETURN_IF_ERROR(CheckMatches(h, run, model).WithContext(path));
  if (n != model.params().size()) {
    return Status::Errorf("{}: {} parameters, this model has {}", path, n, model.params().size());
  }
  std::vector<float> m(n), v(n);
  const size_t floats = static_cast<size_t>(n) * sizeof(float);
  std::memcpy(model.params().data(), bytes.data() + at, floats);
  std::memcpy(m.data(), bytes.data() + at + floats, floats);
  std::memcpy(v.data(), bytes.data() + at + 2 * floats, floats);
  SHRINK_RETURN_IF_ERROR(adamw.Restore(m, v, h.adam_steps));
  return CheckpointProgress{.step = h.step, .windows = h.windows};
}

Status SaveTrainingState(const std::string& path, const CheckpointRun& run, Trainer& trainer,
                         const TrainableModel& model, const TokenBatches& batches) {
  return WriteCheckpoint(path, run, model, trainer.optimizer(),
                         {.step = trainer.steps_done(), .windows = batches.consumed()});
}

Result<CheckpointProgress> ResumeTrainingState(const std::string& path, const CheckpointRun& run,
                                               Trainer& trainer, TrainableModel& model,
                                               TokenBatches& batches) {
  SHRINK_ASSIGN_OR_RETURN(const CheckpointProgress p,
                          ReadCheckpoint(path, run, model, trainer.optimizer()));
  if (p.step > trainer.options().steps) {
    return Status::Errorf("{}: at step {}, past this run's {} steps", path, p.step,
                          trainer.options().steps);
  }
  trainer.set_steps_done(p.step);
  // The data order is a function of the seed: replaying the windows handed out restores it.
  std::vector<int32_t> in(static_cast<size_t>(trainer.options().seq)), tg(in.size());
  for (int64_t w = batches.consumed(); w < p.windows; ++w) batches.Next(1, in, tg);
  return p;
}

}  // namespace shrink::train
