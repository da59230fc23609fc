#include "cli/ram_extract.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace statewire::cli {

namespace {
constexpr std::size_t kBatch = 1 << 20;

Unexpected io_fail(const std::string& what, const std::string& path) {
  return Unexpected(make_error(Errc::io_error,
                               fmt::format("{} {}: {}", what, path, std::strerror(errno))));
}
}  // namespace

RamExtractor::~RamExtractor() {
  for (auto& [id, f] : files_)
    if (f.fd >= 0) ::close(f.fd);
}

Result<void> RamExtractor::on_ram_blocks(std::uint64_t, std::uint16_t,
                                         std::span<const qemu::RamBlock> blocks) {
  SW_CHECK(flush());
  for (const auto& b : blocks) {
    // Block ids look like paths ("0000:00:02.0/vga.vram", "/rom@etc/acpi/tables");
    // keep them below DIR and refuse anything that would climb out.
    std::filesystem::path rel = std::filesystem::path(b.id).relative_path();
    for (const auto& part : rel)
      if (part == "..")
        return fail(Errc::invalid_value, fmt::format("RAM block id '{}' leaves the directory", b.id));
    std::filesystem::path p = std::filesystem::path(dir_) / rel;
    std::error_code ec;
    std::filesystem::create_directories(p.parent_path(), ec);
    Out& o = files_[b.id];
    if (o.fd >= 0) ::close(o.fd);
    o.path = p.string();
    o.fd = ::open(o.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o.fd < 0) return io_fail("cannot create", o.path);
    if (ftruncate(o.fd, static_cast<off_t>(b.used_length)) != 0)
      return io_fail("cannot size", o.path);
    o.size = b.used_length;
    o.written.clear();
  }
  last_ = nullptr;
  last_name_ = nullptr;
  return {};
}

Result<RamExtractor::Out*> RamExtractor::block(const std::string& id) {
  auto it = files_.find(id);
  if (it == files_.end() || it->second.fd < 0)
    return fail(Errc::not_found, fmt::format("RAM block '{}' has no output file", id));
  return &it->second;
}

Result<void> RamExtractor::flush() {
  if (!pending_ || buf_.empty()) return {};
  const std::uint8_t* p = buf_.data();
  std::size_t left = buf_.size();
  off_t at = static_cast<off_t>(pending_addr_);
  while (left) {
    ssize_t n = pwrite(pending_->fd, p, left, at);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_fail("cannot write", pending_->path);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
    at += n;
  }
  buf_.clear();
  pending_ = nullptr;
  return {};
}

Result<void> RamExtractor::on_ram_record(const qemu::RamRecord& rec) {
  const std::uint16_t kind = rec.flags & ~qemu::kRamContinue;
  if (kind != qemu::kRamZero && kind != qemu::kRamPage) return {};
  if (!last_ || rec.block != last_name_ || rec.named) {
    SW_TRY(o, block(*rec.block));
    last_ = o;
    last_name_ = rec.block;
  }
  Out& o = *last_;
  const std::size_t page = static_cast<std::size_t>(rec.page_size);
  const std::size_t idx = rec.addr / page;
  const bool had_data = o.written.count(idx) != 0;
  if (kind == qemu::kRamZero && rec.fill == 0 && !had_data) return {};  // stays a hole
  if (pending_ != &o || pending_addr_ + buf_.size() != rec.addr || buf_.size() >= kBatch) {
    SW_CHECK(flush());
    pending_ = &o;
    pending_addr_ = rec.addr;
  }
  if (kind == qemu::kRamPage) {
    buf_.insert(buf_.end(), rec.data.begin(), rec.data.end());
  } else {
    buf_.insert(buf_.end(), page, rec.fill);
  }
  if (kind == qemu::kRamZero && rec.fill == 0)
    o.written.erase(idx);
  else
    o.written.insert(idx);
  return {};
}

Result<void> RamExtractor::finish() {
  SW_CHECK(flush());
  for (auto& [id, f] : files_) {
    if (f.fd >= 0 && ::close(f.fd) != 0) return io_fail("cannot close", f.path);
    f.fd = -1;
  }
  return {};
}

std::vector<std::string> RamExtractor::written() const {
  std::vector<std::string> out;
  for (const auto& [id, f] : files_) out.push_back(f.path);
  return out;
}

}  // namespace statewire::cli
