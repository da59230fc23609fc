// Writes the RAM of a QEMU stream to one file per RAM block (for
// `statewire analyze --extract-ram DIR`): DIR/<block id>, sized to the
// block's used_length, pages written at their offsets, zero pages left as
// holes unless an earlier record of the same page put data there.
#pragma once

#include <map>
#include <string>
#include <unordered_set>
#include <vector>

#include "statewire/qemu_stream.hpp"

namespace statewire::cli {

class RamExtractor final : public qemu::QemuStreamVisitor {
 public:
  explicit RamExtractor(std::string dir) : dir_(std::move(dir)) {}
  ~RamExtractor() override;

  Result<void> on_ram_blocks(std::uint64_t total, std::uint16_t flags,
                             std::span<const qemu::RamBlock> blocks) override;
  Result<void> on_ram_record(const qemu::RamRecord& rec) override;
  // Flushes and closes every file; call once after the scan.
  [[nodiscard]] Result<void> finish();
  std::vector<std::string> written() const;

 private:
  struct Out {
    int fd = -1;
    std::string path;
    std::uint64_t size = 0;
    // Pages that hold data (a later zero page must clear them). A set, not a
    // bitmap sized to the block: a 5 KB stream may declare a 16 TiB block,
    // so memory follows the records read, never the size declared.
    std::unordered_set<std::uint64_t> written;
  };
  Result<void> flush();
  Result<Out*> block(const std::string& id);

  std::string dir_;
  std::map<std::string, Out, std::less<>> files_;
  std::uint64_t page_size_ = 0;
  // Consecutive pages of one block are gathered and written with one call.
  Out* pending_ = nullptr;
  std::uint64_t pending_addr_ = 0;
  std::vector<std::uint8_t> buf_;
  Out* last_ = nullptr;
  const std::string* last_name_ = nullptr;
};

}  // namespace statewire::cli
