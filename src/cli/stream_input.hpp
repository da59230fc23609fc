// An input for the streaming commands: a file or standard input as a
// ByteSource whose first bytes can be looked at (to recognise the format)
// without being lost to the reader that follows. Input compressed with zstd
// (`state.mig.zst`, `zstd -c` in a pipe) is decompressed as it is read.
#pragma once

#include <memory>
#include <string>

#include "statewire/byte_source.hpp"

namespace statewire::cli {

class StreamInput final : public ByteSource {
 public:
  // `path` "-" is standard input. Nothing is copied to a temporary file.
  [[nodiscard]] static Result<std::unique_ptr<StreamInput>> open(const std::string& path);
  ~StreamInput() override;

  // Up to n of the first bytes (fewer only if the input is shorter); they
  // are still handed out by read() afterwards.
  [[nodiscard]] Result<ByteSpan> peek(std::size_t n);

  [[nodiscard]] Result<std::size_t> read(std::span<std::uint8_t> dst) override;
  // Known (and readable at an offset) for a regular file that is not compressed.
  std::optional<std::uint64_t> size() const override {
    return zstd_ ? std::nullopt : fd_source_.size();
  }
  [[nodiscard]] Result<std::size_t> read_at(std::uint64_t offset,
                                            std::span<std::uint8_t> dst) override {
    if (zstd_) return ByteSource::read_at(offset, dst);
    return fd_source_.read_at(offset, dst);
  }
  // Everything left, in memory (for formats read whole: JSON).
  [[nodiscard]] Result<Bytes> read_all();

 private:
  StreamInput(int fd, bool owned, std::string name)
      : fd_(fd), owned_(owned), name_(std::move(name)), fd_source_(fd) {}
  // The input's bytes as stored (compressed or not).
  Result<std::size_t> read_raw(std::span<std::uint8_t> dst);
  // What they hold (decompressed when zstd).
  Result<std::size_t> read_decoded(std::span<std::uint8_t> dst);

  struct ZstdFree {
    void operator()(void* dctx) const;
  };

  int fd_;
  bool owned_;
  std::string name_;
  FdSource fd_source_;
  Bytes raw_head_;        // raw bytes read to recognise zstd, not yet decoded
  std::size_t raw_pos_ = 0;
  Bytes head_;            // peeked bytes not yet read
  std::size_t head_pos_ = 0;
  bool zstd_ = false;
  std::unique_ptr<void, ZstdFree> dctx_;
  Bytes zin_;                       // compressed bytes read, not yet decoded
  std::size_t zin_pos_ = 0, zin_end_ = 0;
  std::uint64_t zin_consumed_ = 0;  // compressed bytes decoded so far
  std::size_t zlast_ = 0;           // 0 once a frame is complete
};

// An output file (or standard output for "-") written as it is produced.
// A file is created at `path` only when the command begins writing; a
// failed command removes it, so no partial file is left behind.
class StreamOutput final : public ByteSink {
 public:
  [[nodiscard]] static Result<std::unique_ptr<StreamOutput>> open(const std::string& path);
  ~StreamOutput() override;
  [[nodiscard]] Result<void> write(ByteSpan bytes) override;
  // Keeps the file: the output is complete.
  [[nodiscard]] Result<void> commit();

 private:
  StreamOutput(int fd, std::string path) : fd_(fd), path_(std::move(path)), sink_(fd) {}
  int fd_;
  std::string path_;  // empty for standard output
  FdSink sink_;
  bool committed_ = false;
};

}  // namespace statewire::cli
