// A read-only memory mapping of a whole file, for inputs too large to copy
// (a 1 GiB migration stream is read once, front to back, by the kernel's
// read-ahead; nothing is copied into the heap).
#pragma once

#include <string>

#include "statewire/cursor.hpp"
#include "statewire/result.hpp"

namespace statewire::cli {

class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) {
    o.data_ = nullptr;
    o.size_ = 0;
  }
  ~MappedFile();

  [[nodiscard]] static Result<MappedFile> open(const std::string& path);
  ByteSpan bytes() const noexcept {
    return ByteSpan(static_cast<const std::uint8_t*>(data_), size_);
  }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace statewire::cli
