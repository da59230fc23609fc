#include "cli/spool_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace statewire::cli {

Result<int> make_spool_file(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  std::string d = dir && *dir ? dir : "/tmp";
  int fd = ::open(d.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string tmpl = d + "/statewire-input-" + std::string(6, 'X');  // mkostemp template
  fd = mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0)
    return fail(Errc::io_error, fmt::format("cannot create a temporary file in {} for {}: {}", d,
                                            name, std::strerror(errno)));
  unlink(tmpl.c_str());
  return fd;
}

Result<void> write_all(int fd, const char* data, std::size_t n, const std::string& name) {
  for (std::size_t done = 0; done < n;) {
    ssize_t w = ::write(fd, data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return fail(Errc::io_error, fmt::format("cannot spool {}: {}", name, std::strerror(errno)));
    done += static_cast<std::size_t>(w);
  }
  return {};
}

}  // namespace statewire::cli
