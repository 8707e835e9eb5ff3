// Counts the bytes this process holds through operator new, for tests that bound memory.
//
// Linking heap_counter.cc (it is pulled in by any call below) replaces the global operator new and
// delete with versions that keep a running total and a peak; every other allocation path (malloc,
// mmap) is not counted, so mapped model files do not show. Thread-safe (atomics).
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
