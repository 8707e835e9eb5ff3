// stories260K (../shared/models/stories260K: a llama2.c checkpoint and its tok512.bin tokenizer), the
// real tiny model tests run on.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "model/model.h"
#include "testing/test_paths.h"

// Declares `std::unique_ptr<shrink::Model> var` holding stories260K with its tokenizer, or skips the
// test (saying which file is absent) when the shared folder lacks it; a load error fails the test.
// Use in a TEST body or a fixture's SetUp (it returns from the enclosing void function).
#define SHRINK_LOAD_STORIES260K_OR_SKIP(var)                                                  \
  std::unique_ptr<::shrink::Model> var;                                                       \
  do {                                                                                        \
    const auto shrink_stories_path =                                                          \
        ::shrink::testing::SharedPath("models/stories260K/stories260K.bin");                  \
    const auto shrink_stories_tokenizer =                                                     \
        ::shrink::testing::SharedPath("models/stories260K/tok512.bin");                       \
    SHRINK_SKIP_IF_MISSING(shrink_stories_path);                                              \
    SHRINK_SKIP_IF_MISSING(shrink_stories_tokenizer);                                         \
    auto shrink_stories_loaded = ::shrink::LoadModel(                                         \
        shrink_stories_path.string(), {.tokenizer_path = shrink_stories_tokenizer.string()}); \
    ASSERT_TRUE(shrink_stories_loaded.ok()) << shrink_stories_loaded.status().message();      \
    var = std::move(*shrink_stories_loaded);                                                  \
  } while (0)
