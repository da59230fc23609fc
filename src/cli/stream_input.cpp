#include "cli/stream_input.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace statewire::cli {

Result<std::unique_ptr<StreamInput>> StreamInput::open(const std::string& path) {
  const bool std_in = path == "-";
  const int fd = std_in ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::io_error, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::unique_ptr<StreamInput> in(new StreamInput(fd, !std_in));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
    return fail(Errc::io_error,
                fmt::format("{} is not a file (a directory)", std_in ? "standard input" : path));
  return in;
}

StreamInput::~StreamInput() {
  if (owned_) ::close(fd_);
}

Result<ByteSpan> StreamInput::peek(std::size_t n) {
  while (head_.size() - head_pos_ < n) {
    std::uint8_t buf[64];
    const std::size_t want = std::min(sizeof buf, n - (head_.size() - head_pos_));
    SW_TRY(got, fd_source_.read(std::span<std::uint8_t>(buf, want)));
    if (got == 0) break;
    head_.insert(head_.end(), buf, buf + got);
  }
  return ByteSpan(head_).subspan(head_pos_);
}

Result<std::size_t> StreamInput::read(std::span<std::uint8_t> dst) {
  if (head_pos_ < head_.size()) {
    const std::size_t n = std::min(dst.size(), head_.size() - head_pos_);
    std::memcpy(dst.data(), head_.data() + head_pos_, n);
    head_pos_ += n;
    return n;
  }
  return fd_source_.read(dst);
}

Result<Bytes> StreamInput::read_all() {
  Bytes out;
  if (auto n = size()) out.reserve(static_cast<std::size_t>(*n));
  std::uint8_t buf[1 << 16];
  while (true) {
    SW_TRY(got, read(buf));
    if (got == 0) return out;
    out.insert(out.end(), buf, buf + got);
  }
}

Result<std::unique_ptr<StreamOutput>> StreamOutput::open(const std::string& path) {
  if (path == "-") return std::unique_ptr<StreamOutput>(new StreamOutput(STDOUT_FILENO, {}));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail(Errc::io_error, fmt::format("cannot create {}: {}", path, std::strerror(errno)));
  return std::unique_ptr<StreamOutput>(new StreamOutput(fd, path));
}

StreamOutput::~StreamOutput() {
  if (path_.empty()) return;
  ::close(fd_);
  if (!committed_) ::unlink(path_.c_str());
}

Result<void> StreamOutput::write(ByteSpan bytes) {
  auto r = sink_.write(bytes);
  if (!r)
    r.error().message = fmt::format("{}: {}", path_.empty() ? "standard output" : path_, r.error().message);
  return r;
}

Result<void> StreamOutput::commit() {
  committed_ = true;
  return {};
}

}  // namespace statewire::cli
