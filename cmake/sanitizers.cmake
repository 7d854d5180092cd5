# Sanitizer and fuzzer instrumentation for every target defined after this file is included.
#   TOKENKEEP_SANITIZE=ON        AddressSanitizer + UndefinedBehaviorSanitizer, any error aborts
#   TOKENKEEP_BUILD_FUZZERS=ON   the same, plus libFuzzer coverage, and the tests/fuzz targets
# `make test-sanitize` and `make fuzz` (mk/robustness.mk) configure separate build trees with
# clang; a plain build is unaffected.
option(TOKENKEEP_SANITIZE "Build with AddressSanitizer + UndefinedBehaviorSanitizer" OFF)
option(TOKENKEEP_BUILD_FUZZERS "Build the libFuzzer targets in tests/fuzz (clang only)" OFF)

if(TOKENKEEP_SANITIZE OR TOKENKEEP_BUILD_FUZZERS)
  set(TOKENKEEP_SANITIZER_FLAGS
      -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${TOKENKEEP_SANITIZER_FLAGS} -g)
  add_link_options(${TOKENKEEP_SANITIZER_FLAGS})
endif()

if(TOKENKEEP_BUILD_FUZZERS)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TOKENKEEP_BUILD_FUZZERS needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage feedback for the engine; the fuzz targets themselves link -fsanitize=fuzzer.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
