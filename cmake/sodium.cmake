# libsodium, found through pkg-config, as the interface target tokenkeep_sodium.
#
# TOKENKEEP_SODIUM_STATIC=OFF (development, the default): the shared libsodium.so.23.
# TOKENKEEP_SODIUM_STATIC=ON (`make dist`): Debian's libsodium.a linked into the module, its
# symbols kept out of the module's dynamic symbol table (--exclude-libs), so the wheel needs no
# libsodium at run time and cannot clash with another copy loaded in the same process (PyNaCl).
# libsodium.a must be position-independent to go into a shared module; Debian builds it with
# -fPIC (checked: its objects carry no R_X86_64_32/32S relocations; a non-PIC archive would fail
# the link, loudly, with "relocation ... can not be used when making a shared object").
#
# A machine without libsodium's development files gets one line naming the package to install.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: install the Debian packages pkg-config and libsodium-dev")
endif()
pkg_check_modules(SODIUM QUIET libsodium)
find_path(SODIUM_HEADER_DIR sodium.h HINTS ${SODIUM_INCLUDE_DIRS})
if(NOT SODIUM_FOUND OR NOT SODIUM_HEADER_DIR)
  message(FATAL_ERROR "libsodium not found: install the Debian package libsodium-dev")
endif()

add_library(tokenkeep_sodium INTERFACE)
target_include_directories(tokenkeep_sodium INTERFACE ${SODIUM_HEADER_DIR})
if(TOKENKEEP_SODIUM_STATIC)
  find_library(SODIUM_STATIC_LIBRARY NAMES libsodium.a HINTS ${SODIUM_LIBRARY_DIRS})
  if(NOT SODIUM_STATIC_LIBRARY)
    message(FATAL_ERROR "libsodium.a not found: install the Debian package libsodium-dev")
  endif()
  find_package(Threads REQUIRED)  # libsodium's Libs.private: -pthread
  target_link_libraries(tokenkeep_sodium INTERFACE ${SODIUM_STATIC_LIBRARY} Threads::Threads)
  target_link_options(tokenkeep_sodium INTERFACE "LINKER:--exclude-libs,libsodium.a")
else()
  target_link_libraries(tokenkeep_sodium INTERFACE ${SODIUM_LINK_LIBRARIES})
endif()
