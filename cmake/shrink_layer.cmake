# shrink_layer(NAME DEPS...) declares the library for one layer folder: every *.cc in the folder except
# *_test.cc and *_benchmark.cc, linked PUBLIC to the layers named in DEPS. Tests (*_test.cc) in the folder
# form one GoogleTest binary, NAME_test, registered with CTest; benchmarks (*_benchmark.cc, Google Benchmark,
# each with its own main) one binary NAME_benchmark, built when Google Benchmark is installed, never run by
# CTest.
function(shrink_layer name)
  cmake_parse_arguments(ARG "" "" "DEPS;TEST_DEPS" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*.cc")
  file(GLOB tests CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc")
  file(GLOB benchmarks CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*_benchmark.cc")
  if(tests)
    list(REMOVE_ITEM sources ${tests})
  endif()
  if(benchmarks)
    list(REMOVE_ITEM sources ${benchmarks})
  endif()
  if(sources)
    add_library(shrink_${name} STATIC ${sources})
    target_include_directories(shrink_${name} PUBLIC "${PROJECT_SOURCE_DIR}/src")
    target_link_libraries(shrink_${name} PUBLIC ${ARG_DEPS})
  else()  # header-only so far
    add_library(shrink_${name} INTERFACE)
    target_include_directories(shrink_${name} INTERFACE "${PROJECT_SOURCE_DIR}/src")
    target_link_libraries(shrink_${name} INTERFACE ${ARG_DEPS})
  endif()
  if(SHRINK_BUILD_TESTS AND tests)
    add_executable(${name}_test ${tests})
    target_link_libraries(${name}_test PRIVATE shrink_${name} shrink_testing ${ARG_TEST_DEPS}
                          GTest::gtest GTest::gmock GTest::gtest_main)
    gtest_discover_tests(${name}_test WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
                         DISCOVERY_TIMEOUT 60)
  endif()
  if(benchmarks AND TARGET benchmark::benchmark)
    add_executable(${name}_benchmark ${benchmarks})
    target_link_libraries(${name}_benchmark PRIVATE shrink_${name} benchmark::benchmark)
  endif()
endfunction()
