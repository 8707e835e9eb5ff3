// Counts the bytes this process holds through operator new, for tests that bound memory.
//
// Linking the shrink_heap_counter library (a layer's TEST_DEPS) replaces the global operator new
// and delete in that test binary with versions that keep a running total and a peak; malloc and
// mmap are not counted, so mapped model files do not show. Thread-safe (atomics).
#pragma once

#include <cstdint>

namespace shrink::testing {

// Bytes currently allocated through operator new.
int64_t HeapBytesInUse();
// The largest HeapBytesInUse() since the last ResetHeapPeak() (or the start).
int64_t HeapPeakBytes();
// Sets the peak to the bytes in use now.
void ResetHeapPeak();

}  // namespace shrink::testing
