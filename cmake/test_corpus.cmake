# The real QEMU test corpus (tests/data/qemu-*/, made by scripts/make-test-corpus.sh)
# is stored zstd-compressed; tests and benchmarks read it decompressed from
# ${STATEWIRE_CORPUS_ROOT}/qemu-<version>/ with the same file names less `.zst`.
find_program(STATEWIRE_ZSTD zstd)
if(NOT STATEWIRE_ZSTD)
  message(FATAL_ERROR "the tests need the zstd program to unpack their corpus "
                      "(Debian: apt-get install zstd, or scripts/install-deps.sh)")
endif()
set(STATEWIRE_CORPUS_ROOT ${CMAKE_BINARY_DIR}/corpus)
file(GLOB STATEWIRE_CORPUS_PACKED CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/tests/data/qemu-*/*.zst)
file(GLOB STATEWIRE_CORPUS_SIDECARS CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/tests/data/qemu-*/*.args
     ${CMAKE_SOURCE_DIR}/tests/data/qemu-*/*.meta.txt)
set(_unpacked)
foreach(packed ${STATEWIRE_CORPUS_PACKED})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests/data ${packed})
  string(REGEX REPLACE "\\.zst$" "" rel ${rel})
  set(out ${STATEWIRE_CORPUS_ROOT}/${rel})
  add_custom_command(OUTPUT ${out}
    COMMAND ${STATEWIRE_ZSTD} -q -d -f ${packed} -o ${out}
    DEPENDS ${packed}
    COMMENT "Unpacking test corpus ${rel}" VERBATIM)
  list(APPEND _unpacked ${out})
endforeach()
foreach(sidecar ${STATEWIRE_CORPUS_SIDECARS})
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR}/tests/data ${sidecar})
  configure_file(${sidecar} ${STATEWIRE_CORPUS_ROOT}/${rel} COPYONLY)
endforeach()
add_custom_target(statewire_corpus ALL DEPENDS ${_unpacked})
