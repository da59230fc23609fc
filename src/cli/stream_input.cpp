#include "cli/stream_input.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace statewire::cli {

Result<std::unique_ptr<StreamInput>> StreamInput::open(const std::string& path) {
  const bool std_in = path == "-";
  const int fd = std_in ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(Errc::io_error, fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  std::unique_ptr<StreamInput> in(new StreamInput(fd, !std_in, std_in ? "standard input" : path));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
    return fail(Errc::io_error,
                fmt::format("{} is not a file (a directory)", std_in ? "standard input" : path));
  // zstd's frame magic: decompress as the input is read.
  static constexpr std::uint8_t kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
  while (in->raw_head_.size() < 4) {
    std::uint8_t b[4];
    SW_TRY(got, in->fd_source_.read(std::span<std::uint8_t>(b, 4 - in->raw_head_.size())));
    if (got == 0) break;
    in->raw_head_.insert(in->raw_head_.end(), b, b + got);
  }
  if (in->raw_head_.size() == 4 && std::memcmp(in->raw_head_.data(), kZstdMagic, 4) == 0) {
    in->zstd_ = true;
    in->dctx_.reset(ZSTD_createDCtx());
    if (!in->dctx_) return fail(Errc::io_error, "out of memory for the zstd decoder");
    // The decoder allocates the window a frame header asks for: bound it.
    ZSTD_DCtx_setParameter(static_cast<ZSTD_DCtx*>(in->dctx_.get()), ZSTD_d_windowLogMax, 27);
    in->zin_.resize(ZSTD_DStreamInSize());
  }
  return in;
}

void StreamInput::ZstdFree::operator()(void* dctx) const {
  ZSTD_freeDCtx(static_cast<ZSTD_DCtx*>(dctx));
}

Result<std::size_t> StreamInput::read_raw(std::span<std::uint8_t> dst) {
  if (raw_pos_ < raw_head_.size()) {
    const std::size_t n = std::min(dst.size(), raw_head_.size() - raw_pos_);
    std::memcpy(dst.data(), raw_head_.data() + raw_pos_, n);
    raw_pos_ += n;
    return n;
  }
  return fd_source_.read(dst);
}

Result<std::size_t> StreamInput::read_decoded(std::span<std::uint8_t> dst) {
  if (!zstd_) return read_raw(dst);
  auto* dctx = static_cast<ZSTD_DCtx*>(dctx_.get());
  while (true) {
    if (zin_pos_ == zin_end_) {
      SW_TRY(got, read_raw(zin_));
      if (got == 0) {
        if (zlast_ != 0)
          return fail(Errc::truncated, fmt::format("{}: ends inside a zstd frame after {} compressed "
                                                   "bytes",
                                                   name_, zin_consumed_));
        return std::size_t{0};
      }
      zin_pos_ = 0;
      zin_end_ = got;
    }
    ZSTD_inBuffer in{zin_.data(), zin_end_, zin_pos_};
    ZSTD_outBuffer out{dst.data(), dst.size(), 0};
    zlast_ = ZSTD_decompressStream(dctx, &out, &in);
    if (ZSTD_isError(zlast_))
      return fail(Errc::invalid_value, fmt::format("{}: zstd data damaged near compressed offset {}: {}",
                                                   name_, zin_consumed_ + in.pos,
                                                   ZSTD_getErrorName(zlast_)));
    zin_consumed_ += in.pos - zin_pos_;
    zin_pos_ = in.pos;
    if (out.pos) return out.pos;
  }
}

StreamInput::~StreamInput() {
  if (owned_) ::close(fd_);
}

Result<ByteSpan> StreamInput::peek(std::size_t n) {
  while (head_.size() - head_pos_ < n) {
    std::uint8_t buf[64];
    const std::size_t want = std::min(sizeof buf, n - (head_.size() - head_pos_));
    SW_TRY(got, read_decoded(std::span<std::uint8_t>(buf, want)));
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
  return read_decoded(dst);
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
