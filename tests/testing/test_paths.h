// Paths for tests: the read-only ../shared folder and per-test scratch folders.
#pragma once

#include <filesystem>
#include <string>

namespace shrink::testing {

// Absolute path of `relative` inside the shared/ folder (../shared from the repository root).
std::filesystem::path SharedPath(const std::string& relative);
// Absolute path of `relative` inside the repository (e.g. "tests/oracles/x.py").
std::filesystem::path SourcePath(const std::string& relative);
// The cache folder of scripts/fetch-models and fetch-test-data: $SHRINK_CACHE, else ~/.cache/shrink.
std::filesystem::path CacheDir();
// Path of a model that scripts/fetch-models caches: $SHRINK_CACHE/models/<file_name>, SHRINK_CACHE
// defaulting to ~/.cache/shrink as the script's does.
std::filesystem::path CachedModelPath(const std::string& file_name);
// A fresh, empty folder for the running test, removed at process exit is not guaranteed.
std::filesystem::path ScratchDir();

}  // namespace shrink::testing

// Skips the running test with a clear message when a cached model is absent.
#define SHRINK_SKIP_IF_MODEL_MISSING(path)                                                     \
  do {                                                                                         \
    if (!std::filesystem::exists(path))                                                        \
      GTEST_SKIP() << "skipped: " << (path) << " is absent (scripts/fetch-models fetches it)"; \
  } while (0)

// Skips the running test with a clear message when a shared file is absent.
#define SHRINK_SKIP_IF_MISSING(path)                                                    \
  do {                                                                                  \
    if (!std::filesystem::exists(path))                                                 \
      GTEST_SKIP() << "skipped: " << (path) << " is absent (the shared/ folder beside " \
                   << "the repository provides it)";                                    \
  } while (0)
