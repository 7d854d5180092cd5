# Robustness test programs (issue 4), kept apart from tokenkeep_tests:
#   tokenkeep_fault_tests  registers a fault-injecting SQLite VFS as the process default, so it
#                          must not share a process with the other engine tests.
#   tests/fuzz             libFuzzer targets, only with TOKENKEEP_BUILD_FUZZERS.
if(TOKENKEEP_BUILD_TESTS)
  add_executable(tokenkeep_fault_tests tests/cpp/fault/fault_injection_test.cc)
  target_include_directories(tokenkeep_fault_tests PRIVATE tests/cpp)
  target_link_libraries(tokenkeep_fault_tests PRIVATE tokenkeep_core GTest::gtest GTest::gtest_main)
  target_compile_options(tokenkeep_fault_tests PRIVATE ${TOKENKEEP_WARNINGS})
  gtest_discover_tests(tokenkeep_fault_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endif()

if(TOKENKEEP_BUILD_FUZZERS)
  add_subdirectory(tests/fuzz)
endif()
