#include "cli/mapped_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace statewire::cli {

namespace {
constexpr std::size_t kPopulateUpTo = 64u << 20;
}

MappedFile::~MappedFile() {
  if (data_) munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

Result<std::size_t> MappedFile::read_at(std::uint64_t offset, std::span<std::uint8_t> dst) const {
  std::size_t done = 0;
  while (done < dst.size()) {
    ssize_t n = pread(fd_, dst.data() + done, dst.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(Errc::io_error, fmt::format("read failed: {}", std::strerror(errno)));
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return done;
}

Result<MappedFile> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(Errc::io_error, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(Errc::io_error, fmt::format("{} is not a regular file", path));
  }
  MappedFile m;
  m.size_ = static_cast<std::size_t>(st.st_size);
  if (m.size_ > 0) {
    // Small files are mapped in one go: page faults are the dearest part of
    // a short run (one per 64 KiB otherwise; in a VM each costs microseconds).
    const int populate = m.size_ <= kPopulateUpTo ? MAP_POPULATE : 0;
    void* p = mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE | populate, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return fail(Errc::io_error, fmt::format("cannot map {}: {}", path, std::strerror(err)));
    }
    m.data_ = p;
  }
  m.fd_ = fd;
  return m;
}

}  // namespace statewire::cli
