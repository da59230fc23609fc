#include "cli/mapped_file.hpp"

#include "cli/spool_file.hpp"
#include "cli/zstd_input.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

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

namespace {

Unexpected errno_error(std::string_view what, const std::string& path) {
  return fail(Errc::io_error, fmt::format("{} {}: {}", what, path, std::strerror(errno)));
}

// Copies everything readable from `in` (a pipe, FIFO, socket or terminal)
// into a spool file and returns it, so the readers see a regular file: a
// stream piped from QEMU's `migrate "exec:..."` is analysed like a saved one.
Result<int> spool(int in, const std::string& path) {
  SW_TRY(out, make_spool_file(path));
  SpoolGuard guard{out};
  std::vector<char> buf(1u << 20);
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", path);
    if (n == 0) break;
    SW_CHECK(write_all(out, buf.data(), static_cast<std::size_t>(n), path));
  }
  guard.release();
  return out;
}

}  // namespace

Result<MappedFile> MappedFile::open(const std::string& path) {
  const bool std_in = path == "-";
  int fd = std_in ? ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                  : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open", std_in ? std::string("standard input") : path);
  struct stat st {};
  if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fail(Errc::io_error, fmt::format("{} is not a file", path));
  }
  if (!S_ISREG(st.st_mode)) {
    auto spooled = spool(fd, std_in ? "standard input" : path);
    ::close(fd);
    if (!spooled) return Unexpected(std::move(spooled.error()));
    fd = *spooled;
  }
  if (starts_with_zstd_frame(fd)) {
    auto plain = unzstd_to_spool(fd, std_in ? std::string("standard input") : path);
    ::close(fd);
    if (!plain) return Unexpected(std::move(plain.error()));
    fd = *plain;
  }
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    return errno_error("cannot stat", path);
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
