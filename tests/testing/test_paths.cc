#include "testing/test_paths.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

namespace shrink::testing {

std::filesystem::path SharedPath(const std::string& relative) {
  return std::filesystem::weakly_canonical(std::filesystem::path(SHRINK_SHARED_DIR) / relative);
}

std::filesystem::path SourcePath(const std::string& relative) {
  return std::filesystem::path(SHRINK_SOURCE_DIR) / relative;
}

std::filesystem::path CacheDir() {
  const char* cache = std::getenv("SHRINK_CACHE");
  const char* home = std::getenv("HOME");
  return cache != nullptr && *cache != '\0'
             ? std::filesystem::path(cache)
             : std::filesystem::path(home != nullptr ? home : "/root") / ".cache/shrink";
}

std::filesystem::path CachedModelPath(const std::string& file_name) {
  return CacheDir() / "models" / file_name;
}

std::filesystem::path ScratchDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "shrink";
  auto dir = std::filesystem::temp_directory_path() /
             ("shrink-test-" + std::to_string(getpid()) + "-" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace shrink::testing
