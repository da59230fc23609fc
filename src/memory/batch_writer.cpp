// BatchWriter: page and zero batches of one sender thread (batch_writer.hpp).
#include "memory/batch_writer.hpp"

#include <fmt/format.h>
#include <lz4.h>

#include <algorithm>
#include <cstring>

#include "memory/page_wire.hpp"

namespace statewire::detail {

BatchWriter::BatchWriter(const BatchShared& s, Channel& ch, std::uint64_t round, bool final,
                         std::atomic<std::uint64_t>& shared_page_bytes,
                         std::atomic<std::uint64_t>& shared_wire)
    : s_(s), ch_(ch), round_(round), final_(final),
      crc_(s.opt.page_checksums || (final && s.opt.final_round_checksums)),
      shared_(shared_page_bytes),
      shared_wire_(shared_wire) {
  data_hdr_.resize(kPageHeaderSize + kMaxDataEntries * kPageEntrySize);
  zero_hdr_.resize(kPageHeaderSize + kMaxZeroEntries * kPageEntrySize);
}

Result<void> BatchWriter::add(std::uint32_t region, std::uint64_t page) {
  const MemoryRegion& r = s_.regions[region];
  const std::uint8_t* p = r.base + page * r.page_size;
  if (region != region_) {
    SW_CHECK(flush());
    region_ = region;
    page_size_ = r.page_size;
    max_data_ = static_cast<std::uint32_t>(
        std::clamp<std::uint64_t>(s_.opt.batch_bytes / r.page_size, 1, kMaxDataEntries));
  }
  if (s_.opt.zero_elision && is_zero_page(p, r.page_size)) {
    zero_idx_.push_back(static_cast<std::uint32_t>(page));
    if (zero_idx_.size() == kMaxZeroEntries) SW_CHECK(flush_zero());
    return {};
  }
  data_idx_.push_back(static_cast<std::uint32_t>(page));
  data_ptr_.push_back(p);
  if (data_idx_.size() == max_data_) SW_CHECK(flush_data());
  return {};
}

Result<void> BatchWriter::flush() {
  SW_CHECK(flush_data());
  return flush_zero();
}

Result<void> BatchWriter::end_round() {
  SW_CHECK(flush());
  PageHeader h;
  h.kind = PageRecord::end_of_round;
  h.flags = final_ ? kFlagFinal : 0;
  h.round = round_;
  h.aux = entries_;
  std::uint8_t buf[kPageHeaderSize];
  put_header(buf, h);
  const std::uint32_t crc = header_crc(buf, nullptr, 0);
  std::memcpy(buf + 36, &crc, 4);
  const ByteSpan part(buf, kPageHeaderSize);
  return send({&part, 1}, kPageHeaderSize);
}

Result<void> BatchWriter::flush_zero() {
  if (zero_idx_.empty()) return {};
  const auto n = static_cast<std::uint32_t>(zero_idx_.size());
  auto* table = reinterpret_cast<PageEntry*>(zero_hdr_.data() + kPageHeaderSize);
  for (std::uint32_t i = 0; i < n; ++i) table[i] = {zero_idx_[i], 0};
  PageHeader h;
  h.kind = PageRecord::zero_pages;
  h.flags = final_ ? kFlagFinal : 0;
  h.region = static_cast<std::uint16_t>(region_);
  h.count = n;
  h.round = round_;
  put_header(zero_hdr_.data(), h);
  const std::uint32_t crc = header_crc(zero_hdr_.data(), table, n);
  std::memcpy(zero_hdr_.data() + 36, &crc, 4);
  const std::size_t len = kPageHeaderSize + n * kPageEntrySize;
  const ByteSpan part(zero_hdr_.data(), len);
  SW_CHECK(send({&part, 1}, len));
  if (crc_) {
    std::uint32_t* digest = s_.digest.table(region_);
    const std::uint32_t zero_crc = PageDigest::zero_page_crc(page_size_);
    for (std::uint32_t i = 0; i < n; ++i) digest[zero_idx_[i]] = zero_crc;
  }
  zero_ += n;
  entries_ += n;
  shared_.fetch_add(std::uint64_t{n} * page_size_, std::memory_order_relaxed);
  zero_idx_.clear();
  return {};
}

Result<void> BatchWriter::flush_data() {
  if (data_idx_.empty()) return {};
  const auto n = static_cast<std::uint32_t>(data_idx_.size());
  const std::size_t raw = static_cast<std::size_t>(n) * page_size_;
  auto* table = reinterpret_cast<PageEntry*>(data_hdr_.data() + kPageHeaderSize);
  PageHeader h;
  h.kind = PageRecord::pages;
  h.flags = final_ ? kFlagFinal : 0;
  if (!crc_) h.flags |= kFlagNoPageCrc;
  h.region = static_cast<std::uint16_t>(region_);
  h.count = n;
  h.round = round_;
  parts_.clear();
  parts_.emplace_back();  // the header and table, filled below
  bool compressed = false;
  if (s_.opt.compression != Compression::none) {
    // Compress a copy: the program may be writing these pages, and the CRC
    // must describe the bytes that were compressed.
    gather_.resize(raw);
    for (std::uint32_t i = 0; i < n; ++i)
      std::memcpy(gather_.data() + std::size_t{i} * page_size_, data_ptr_[i], page_size_);
    SW_TRY(packed, compress(raw));
    for (std::uint32_t i = 0; i < n; ++i)
      copy_ptr_.push_back(gather_.data() + std::size_t{i} * page_size_);
    crcs_.assign(n, 0);
    if (crc_) crc_pages(copy_ptr_.data(), n, page_size_, crcs_.data());
    copy_ptr_.clear();
    if (packed < raw) {
      compressed = true;
      h.flags |= static_cast<std::uint8_t>(s_.opt.compression == Compression::zstd ? 1 : 2);
      h.payload = static_cast<std::uint32_t>(packed);
      parts_.emplace_back(packed_.data(), packed);
    }
  } else {
    crcs_.assign(n, 0);
    if (crc_) crc_pages(data_ptr_.data(), n, page_size_, crcs_.data());
  }
  if (!compressed) {
    h.payload = static_cast<std::uint32_t>(raw);
    const std::uint8_t* base = s_.opt.compression != Compression::none ? gather_.data() : nullptr;
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint8_t* p = base ? base + std::size_t{i} * page_size_ : data_ptr_[i];
      // Neighbouring pages go out as one part: a first pass is one part per batch.
      if (parts_.size() > 1 && parts_.back().data() + parts_.back().size() == p)
        parts_.back() = ByteSpan(parts_.back().data(), parts_.back().size() + page_size_);
      else
        parts_.emplace_back(p, page_size_);
    }
  }
  for (std::uint32_t i = 0; i < n; ++i) table[i] = {data_idx_[i], crcs_[i]};
  put_header(data_hdr_.data(), h);
  const std::uint32_t crc = header_crc(data_hdr_.data(), table, n);
  std::memcpy(data_hdr_.data() + 36, &crc, 4);
  const std::size_t head = kPageHeaderSize + n * kPageEntrySize;
  parts_[0] = ByteSpan(data_hdr_.data(), head);
  SW_CHECK(send(parts_, head + h.payload));
  if (crc_) {
    // The CRC was taken after this round's collect: a later write to the
    // page shows in a later collect, which forgets it (page_digest.hpp).
    std::uint32_t* digest = s_.digest.table(region_);
    for (std::uint32_t i = 0; i < n; ++i) digest[data_idx_[i]] = crcs_[i];
  }
  sent_ += n;
  page_bytes_ += raw;
  entries_ += n;
  shared_.fetch_add(raw, std::memory_order_relaxed);
  data_idx_.clear();
  data_ptr_.clear();
  return {};
}

Result<std::size_t> BatchWriter::compress(std::size_t raw) {
  if (s_.opt.compression == Compression::zstd) {
    if (!zctx_) {
      zctx_.reset(ZSTD_createCCtx());
      if (!zctx_) return fail(Errc::invalid_value, "cannot create a zstd context");
    }
    packed_.resize(ZSTD_compressBound(raw));
    const std::size_t n = ZSTD_compressCCtx(zctx_.get(), packed_.data(), packed_.size(),
                                            gather_.data(), raw, s_.opt.compression_level);
    if (ZSTD_isError(n)) return fail(Errc::invalid_value, fmt::format("zstd: {}", ZSTD_getErrorName(n)));
    return n;
  }
  packed_.resize(static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(raw))));
  const int n = LZ4_compress_default(reinterpret_cast<const char*>(gather_.data()),
                                     reinterpret_cast<char*>(packed_.data()),
                                     static_cast<int>(raw), static_cast<int>(packed_.size()));
  if (n <= 0) return fail(Errc::invalid_value, "lz4 compression failed");
  return static_cast<std::size_t>(n);
}

Result<void> BatchWriter::send(std::span<const ByteSpan> parts, std::size_t bytes) {
  if (s_.cancelled()) return fail(Errc::io_error, "cancelled");
  if (!s_.bucket.take(bytes, [&] { return s_.cancelled(); })) return fail(Errc::io_error, "cancelled");
  auto r = ch_.write_vectored(parts);
  if (!r) {
    if (s_.cancelled()) return fail(Errc::io_error, "cancelled");
    return r;
  }
  wire_ += bytes;
  shared_wire_.fetch_add(bytes, std::memory_order_relaxed);
  return {};
}

}  // namespace statewire::detail
