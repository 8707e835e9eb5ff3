# Cross-compiling shrink for 64-bit Arm Linux (NEON) with Debian's aarch64-linux-gnu GCC against an arm64
# Debian root made by scripts/cross-test-arm64 (SHRINK_ARM64_SYSROOT). The tests run under qemu-aarch64.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

if(NOT DEFINED ENV{SHRINK_ARM64_SYSROOT})
  message(FATAL_ERROR "SHRINK_ARM64_SYSROOT must name the arm64 Debian root (scripts/cross-test-arm64 makes it)")
endif()
set(CMAKE_SYSROOT "$ENV{SHRINK_ARM64_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${CMAKE_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config (libhwy) reads the target's .pc files, with paths prefixed by the root.
set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_LIBDIR} "${CMAKE_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${CMAKE_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${CMAKE_SYSROOT}")
# An extracted root has no update-alternatives links: OpenBLAS (library and cblas.h) is named directly.
set(CMAKE_CXX_FLAGS_INIT "-isystem ${CMAKE_SYSROOT}/usr/include/aarch64-linux-gnu/openblas-pthread")
set(BLAS_LIBRARIES "${CMAKE_SYSROOT}/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so"
    CACHE FILEPATH "OpenBLAS of the arm64 root")
# Tests run through qemu (gtest_discover_tests lists them with it too).
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L "${CMAKE_SYSROOT}" -E
    LD_LIBRARY_PATH=/usr/lib/aarch64-linux-gnu/openblas-pthread)
