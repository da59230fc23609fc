// The QEMU stream reader's RAM section: the block list and one page record
// at a time.
#include "codec/qemu/stream_reader.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace statewire::qemu {

using detail::ctx;
using detail::fail_at;

Result<void> QemuStreamReader::Impl::ram_step() {
  const std::string& label = ram_label_;
  const std::uint64_t mask = page_size_ - 1;
  RamRecord rec;
  rec.stream_offset = win_.offset();
  rec.page_size = page_size_;
  // When the longest record fits what is in view (always, from memory),
  // one cursor reads it; else exactly its bytes are asked for, piece by piece.
  const bool in_view = win_.at_end() || win_.view().size() >= 8 + 256 + page_size_;
  if (!in_view) SW_CHECK(want(8, label, "page header"));
  Cursor cur = win_.cursor();
  SW_TRY(word, ctx(cur.read_be64(), label, "page header"));
  rec.flags = static_cast<std::uint16_t>(word & mask);
  rec.addr = word & ~mask;
  const std::uint16_t kind = rec.flags & ~kRamContinue;
  switch (kind) {
    case kRamMemSize:
      win_.consume(8);
      return ram_blocks(label, rec);
    case kRamEos:
      win_.consume(8);
      SW_CHECK(v_->on_ram_record(rec));
      phase_ = Phase::records;
      return finish_section(ram_sum_, label);
    case kRamZero:
    case kRamPage:
      break;
    case kRamXbzrle: return unsupported(label, "xbzrle", rec.stream_offset);
    case kRamCompressPage: return unsupported(label, "compressed page", rec.stream_offset);
    case kRamHook: return unsupported(label, "RDMA hook", rec.stream_offset);
    case kRamMultifdFlush: return unsupported(label, "multifd flush", rec.stream_offset);
    default:
      return fail_at(Errc::invalid_value, rec.stream_offset, label, "page header",
                     fmt::format("unknown combination of RAM flags {:#x} (word {:#018x})",
                                 rec.flags, word));
  }
  // Exactly this record's bytes are asked for: a peer waiting for an
  // answer after it must not leave the reader waiting for more.
  if (!in_view) {
    std::size_t need = 8;
    if (!(rec.flags & kRamContinue)) {
      SW_CHECK(want(9, label, "block name"));
      need = 9 + (win_.view().size() > 8 ? win_.view()[8] : 0);
    }
    SW_CHECK(want(need + (kind == kRamZero ? 1 : page_size_), label,
                  kind == kRamZero ? "fill byte" : "page data"));
    cur = win_.cursor();
    SW_CHECK(cur.skip(8));
  }
  if (!(rec.flags & kRamContinue)) {
    SW_TRY(name, ctx(cur.read_counted_string(), label, "block name"));
    if (name != block_) {
      auto it = std::find_if(blocks_.begin(), blocks_.end(),
                             [&](const RamBlock& b) { return b.id == name; });
      if (it == blocks_.end())
        return fail_at(Errc::not_found, rec.stream_offset + 8, label, "block name",
                       fmt::format("block '{}' is not in the block list", name));
      block_ = name;
      block_len_ = it->used_length;
    }
    have_block_ = true;
    rec.named = true;
  } else if (!have_block_) {
    return fail_at(Errc::invalid_value, rec.stream_offset, label, "page header",
                   "CONTINUE flag with no previous block");
  }
  rec.block = &block_;
  if (rec.addr > block_len_ || block_len_ - rec.addr < page_size_)
    return fail_at(Errc::invalid_value, rec.stream_offset, label, "page header",
                   fmt::format("page offset {:#x} outside block '{}' of {:#x} bytes", rec.addr,
                               block_, block_len_));
  if (kind == kRamZero) {
    SW_TRY(fill, ctx(cur.read_u8(), label, "fill byte"));
    rec.fill = fill;
    win_.consume(cur.position());
  } else {
    SW_TRY(data, ctx(cur.read_bytes(page_size_), label, "page data"));
    rec.data = data;
    win_.consume(cur.position());
  }
  return v_->on_ram_record(rec);
}

Unexpected QemuStreamReader::Impl::unsupported(const std::string& label, std::string_view what,
                                               std::uint64_t off) {
  return fail_at(Errc::unsupported, off, label, "page header",
                 fmt::format("not supported: {} at offset {}", what, off));
}

Result<void> QemuStreamReader::Impl::ram_blocks(const std::string& label, const RamRecord& rec) {
  // No count on the wire: blocks follow until their lengths add up to the total.
  std::vector<RamBlock> blocks;
  std::uint64_t sum = 0;
  while (sum < rec.addr) {
    RamBlock b;
    std::string f = fmt::format("blocks[{}]", blocks.size());
    SW_CHECK(want(1, label, f + ".id"));
    SW_CHECK(want(1 + std::size_t(win_.view().empty() ? 0 : win_.view()[0]) + 8 +
                      (opt_.ram_block_page_size ? 8 : 0) + (opt_.ram_ignore_shared ? 8 : 0),
                  label, f + ".id"));
    Cursor cur = win_.cursor();
    SW_TRY(id, ctx(cur.read_counted_string(), label, f + ".id"));
    b.id = std::move(id);
    SW_TRY(len, ctx(cur.read_be64(), label, f + ".used_length"));
    b.used_length = len;
    if (opt_.ram_block_page_size) {
      SW_TRY(ps, ctx(cur.read_be64(), label, f + ".page_size"));
      b.page_size = ps;
    }
    if (opt_.ram_ignore_shared) {
      SW_TRY(gpa, ctx(cur.read_be64(), label, f + ".gpa"));
      b.gpa = gpa;
    }
    win_.consume(cur.position());
    if (len > rec.addr - sum)
      return fail_at(Errc::invalid_value, cur.offset() - 8, label, f + ".used_length",
                     fmt::format("block lengths add up past the total {:#x}", rec.addr));
    sum += len;
    blocks.push_back(std::move(b));
  }
  blocks_ = blocks;
  have_block_ = false;
  block_.clear();
  block_len_ = 0;
  return v_->on_ram_blocks(rec.addr, rec.flags, blocks_);
}

}  // namespace statewire::qemu
