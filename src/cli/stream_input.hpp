// An input for the streaming commands: a file or standard input as a
// ByteSource whose first bytes can be looked at (to recognise the format)
// without being lost to the reader that follows.
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
  std::optional<std::uint64_t> size() const override { return fd_source_.size(); }
  [[nodiscard]] Result<std::size_t> read_at(std::uint64_t offset,
                                            std::span<std::uint8_t> dst) override {
    return fd_source_.read_at(offset, dst);
  }
  // Everything left, in memory (for formats read whole: JSON).
  [[nodiscard]] Result<Bytes> read_all();

 private:
  StreamInput(int fd, bool owned) : fd_(fd), owned_(owned), fd_source_(fd) {}
  int fd_;
  bool owned_;
  FdSource fd_source_;
  Bytes head_;            // peeked bytes not yet read
  std::size_t head_pos_ = 0;
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
