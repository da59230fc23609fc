// A read-only memory mapping of a whole file, for inputs too large to copy
// into the heap (a 1 GiB migration stream), plus pread for bulk passes.
#pragma once

#include <span>
#include <string>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"

namespace statewire::cli {

class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_), fd_(o.fd_) {
    o.data_ = nullptr;
    o.size_ = 0;
    o.fd_ = -1;
  }
  ~MappedFile();

  // `path` "-" is standard input. Inputs that are not regular files
  // (standard input, pipes, FIFOs, `<(...)`) are first copied into an
  // unlinked temporary file under $TMPDIR (else /tmp), so they need disk
  // space for their whole size. Input compressed with zstd (a `.zst` file or
  // a zstd pipe) is decompressed the same way and mapped as what it holds.
  [[nodiscard]] static Result<MappedFile> open(const std::string& path);
  ByteSpan bytes() const noexcept {
    return ByteSpan(static_cast<const std::uint8_t*>(data_), size_);
  }
  // Reads [offset, offset + dst.size()) with pread: for bulk passes, where
  // touching the mapping page by page would cost a TLB miss per page.
  [[nodiscard]] Result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> dst) const;

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;
};

}  // namespace statewire::cli
