// One sender thread's page records in the making: pages of one region are
// gathered into a batch (up to `batch_bytes`, 1000 pages) and zero pages into
// a zero batch, then each batch leaves as one vectored write with its header
// and table, the pages straight from the program's memory (or compressed
// from a private copy). The record layout is in page_wire.hpp.
#pragma once

#include <zstd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "memory/page_digest.hpp"
#include "memory/token_bucket.hpp"
#include "statewire/channel.hpp"
#include "statewire/memory_region.hpp"
#include "statewire/ram_transfer.hpp"

namespace statewire::detail {

// What every writer of a sender shares.
struct BatchShared {
  const RegionSet& regions;
  const RamSendOptions& opt;
  TokenBucket& bucket;
  std::function<bool()> cancelled;
  // Page CRCs computed for the wire are kept here for the end-to-end digest
  // (each page by the one thread that sends it in a round).
  PageDigest& digest;
};

class BatchWriter {
 public:
  BatchWriter(const BatchShared& s, Channel& ch, std::uint64_t round, bool final,
              std::atomic<std::uint64_t>& shared_page_bytes, std::atomic<std::uint64_t>& shared_wire);

  // Adds one page; full batches go out at once.
  [[nodiscard]] Result<void> add(std::uint32_t region, std::uint64_t page);
  // Sends what is gathered, then the end-of-round marker with the count.
  [[nodiscard]] Result<void> end_round();

  std::uint64_t entries() const { return entries_; }
  std::uint64_t wire() const { return wire_; }
  std::uint64_t sent() const { return sent_; }
  std::uint64_t zero() const { return zero_; }
  std::uint64_t page_bytes() const { return page_bytes_; }

 private:
  struct ZstdCtxFree {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };

  Result<void> flush();
  Result<void> flush_zero();
  Result<void> flush_data();
  Result<std::size_t> compress(std::size_t raw);
  Result<void> send(std::span<const ByteSpan> parts, std::size_t bytes);

  const BatchShared& s_;
  Channel& ch_;
  std::uint64_t round_;
  bool final_;
  bool crc_;  // page CRCs in this round's records
  std::uint32_t region_ = UINT32_MAX;
  std::uint32_t page_size_ = 0;
  std::uint32_t max_data_ = 1;
  std::uint64_t entries_ = 0, wire_ = 0, sent_ = 0, zero_ = 0, page_bytes_ = 0;
  std::vector<std::uint8_t> data_hdr_, zero_hdr_;
  std::vector<std::uint32_t> data_idx_, zero_idx_, crcs_;
  std::vector<const std::uint8_t*> data_ptr_, copy_ptr_;
  std::vector<ByteSpan> parts_;
  std::vector<std::uint8_t> gather_, packed_;
  std::unique_ptr<ZSTD_CCtx, ZstdCtxFree> zctx_;
  std::atomic<std::uint64_t>& shared_;  // page bytes done, for progress
  std::atomic<std::uint64_t>& shared_wire_;
};

}  // namespace statewire::detail
