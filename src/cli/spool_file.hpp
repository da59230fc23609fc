// Unlinked temporary files for inputs that cannot be mapped as they are
// (pipes, compressed files): nothing is left behind on any exit.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <string>

#include "statewire/result.hpp"

namespace statewire::cli {

// A new unlinked read-write file under $TMPDIR (else /tmp); `name` is the
// input it will hold, for the error message.
[[nodiscard]] Result<int> make_spool_file(const std::string& name);

// Writes all `n` bytes (retrying short writes).
[[nodiscard]] Result<void> write_all(int fd, const char* data, std::size_t n, const std::string& name);

// Closes a spool descriptor on early returns unless released.
struct SpoolGuard {
  int fd;
  ~SpoolGuard() {
    if (fd >= 0) ::close(fd);
  }
  void release() { fd = -1; }
};

}  // namespace statewire::cli
