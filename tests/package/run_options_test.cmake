# Configures statewire with each combination of the options the README names,
# and once as a subproject (add_subdirectory), where tests and benchmarks must
# default to off. Configure only: the main build already compiles everything.
file(REMOVE_RECURSE ${WORK_DIR})
set(combos
  "-DSTATEWIRE_BUILD_TESTS=OFF;-DSTATEWIRE_BUILD_BENCH=OFF;-DSTATEWIRE_BUILD_TOOLS=OFF"
  "-DSTATEWIRE_BUILD_TESTS=OFF;-DSTATEWIRE_BUILD_BENCH=OFF;-DSTATEWIRE_BUILD_TOOLS=ON;-DSTATEWIRE_WERROR=ON"
  "-DSTATEWIRE_BUILD_TESTS=ON;-DSTATEWIRE_BUILD_BENCH=OFF;-DSTATEWIRE_BUILD_TOOLS=OFF"
  "-DSTATEWIRE_BUILD_TESTS=OFF;-DSTATEWIRE_BUILD_BENCH=ON;-DSTATEWIRE_BUILD_TOOLS=OFF")
set(i 0)
foreach(combo IN LISTS combos)
  set(args ${combo})
  math(EXPR i "${i} + 1")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/c${i} -G Ninja ${args}
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(rc)
    message(FATAL_ERROR "configuring with ${args} failed:\n${err}")
  endif()
  message(STATUS "configures: ${args}")
endforeach()

execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package/subproject
                  -B ${WORK_DIR}/sub -G Ninja -DSTATEWIRE_SOURCE_DIR=${SOURCE_DIR}
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "configuring statewire as a subproject failed:\n${err}")
endif()
file(STRINGS ${WORK_DIR}/sub/CMakeCache.txt cache REGEX "^STATEWIRE_BUILD_(TESTS|BENCH):")
if(NOT cache MATCHES "STATEWIRE_BUILD_TESTS:BOOL=OFF" OR NOT cache MATCHES "STATEWIRE_BUILD_BENCH:BOOL=OFF")
  message(FATAL_ERROR "as a subproject, tests and benchmarks should default to off: ${cache}")
endif()
message(STATUS "as a subproject: ${cache}")

# A checkout whose path contains /fuzz/, /package/ or /integration/ configures
# with its unit tests (issue 18: the test exclusion once matched absolute paths).
file(MAKE_DIRECTORY ${WORK_DIR}/fuzz/package/integration)
file(CREATE_LINK ${SOURCE_DIR} ${WORK_DIR}/fuzz/package/integration/src SYMBOLIC)
execute_process(COMMAND ${CMAKE_COMMAND} -S ${WORK_DIR}/fuzz/package/integration/src
                  -B ${WORK_DIR}/odd-path -G Ninja -DSTATEWIRE_BUILD_BENCH=OFF
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "configuring from a path with /fuzz/package/integration/ failed:\n${err}")
endif()
file(STRINGS ${WORK_DIR}/odd-path/build.ninja units REGEX "statewire_tests.dir/hostile/errors_test")
if(NOT units)
  message(FATAL_ERROR "from a path with /fuzz/package/integration/, statewire_tests lost its sources")
endif()
message(STATUS "configures from ${WORK_DIR}/fuzz/package/integration/src with its unit tests")
