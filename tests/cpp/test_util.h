// Shared helpers for the engine tests: a temporary directory that removes itself.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace tokenkeep::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/tokenkeep-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace tokenkeep::testing
