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
