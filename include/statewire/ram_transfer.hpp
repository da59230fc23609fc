// statewire/ram_transfer.hpp — moving registered memory over data channels.
//
// RamSender (source) sends pages of a RegionSet in rounds over one or more
// data channels, one thread per channel; RamReceiver (destination) receives
// them into a staging area and copies them into its own regions only at
// commit(). Neither touches the session's control channel: the session
// opens the data channels, decides when to run another round (precopy.hpp)
// and when to commit.
//
// On each data channel the stream is a sequence of records (little-endian;
// docs/memory-transfer.md has the exact layout):
//   page batch  : header (round, region id, page count, flags, payload length,
//                 CRC32C of header and table) + one entry per page (page index,
//                 CRC32C of the page) + the pages, raw or compressed as one block
//   zero batch  : the same header + entries, no payload (pages all zero)
//   end of round: round number, pages and bytes this channel sent in it, and
//                 whether it was the final (stop-and-copy) round
// Pages are partitioned over the channels; every channel ends every round
// with its own marker, so the receiver knows round N is complete when every
// channel delivered it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "statewire/channel.hpp"
#include "statewire/compression.hpp"
#include "statewire/dirty_tracker.hpp"
#include "statewire/memory_region.hpp"
#include "statewire/result.hpp"

namespace statewire {

struct RamSendOptions {
  Compression compression = Compression::none;  // only what the peers agreed on
  int compression_level = 1;                    // zstd level; lz4 ignores it
  bool zero_elision = true;      // all-zero pages travel as an entry, no payload
  // A CRC32C of every page on the wire (a session negotiates it as
  // checksum.pages; on by default here, for files and pipes). Off, record
  // headers and page tables keep their CRC but page bytes are checked only by
  // the end-to-end digest (memory_digest / RamReceiver::verify): on a stream
  // socket, which has its own checksums, the per-page pass costs a third of
  // the throughput on a two-core machine (docs/memory-transfer.md).
  bool page_checksums = true;
  // The stop-and-copy round carries page CRCs even when page_checksums is
  // off: the program is stopped, the digest needs these CRCs anyway, and the
  // channel threads compute them as the pages go, in parallel, instead of a
  // pass after the round that would lengthen the downtime.
  bool final_round_checksums = true;
  std::uint64_t bandwidth_limit = 0;  // bytes/s on the wire, all channels; 0 = no cap
  std::uint32_t batch_bytes = 1u << 20;  // page bytes per record (one writev each)
  // Set from any thread to stop: the sender aborts its channels and its calls
  // return Errc::io_error "cancelled". RamSender::cancel() does the same.
  const std::atomic<bool>* cancel = nullptr;
};

// What one round did.
struct RamRoundStats {
  std::uint64_t round = 0;            // 0 is the first full pass
  bool final = false;                 // the stop-and-copy round
  std::uint64_t pages_sent = 0;       // pages with their contents on the wire
  std::uint64_t pages_zero = 0;       // pages sent as "all zero", no payload
  std::uint64_t pages_skipped = 0;    // pages not dirty, not sent
  std::uint64_t page_bytes = 0;       // bytes of memory these pages cover
  std::uint64_t wire_bytes = 0;       // bytes written to the channels
  double seconds = 0;
};

// Progress of a migration, reported during and after every round.
struct RamProgress {
  std::uint64_t round = 0;
  bool final = false;
  std::uint64_t total_wire_bytes = 0;   // every round so far, this one included
  std::uint64_t total_page_bytes = 0;
  std::uint64_t round_page_bytes = 0;   // done in this round so far
  std::uint64_t round_page_bytes_planned = 0;  // the whole round
  double rate = 0;                      // page bytes per second, this round
  std::uint64_t remaining_dirty_bytes = 0;  // known dirty and not yet sent
  double expected_downtime = 0;         // seconds to send the remaining bytes at `rate`
};
using RamProgressFn = std::function<void(const RamProgress&)>;

class RamSender {
 public:
  // Channels and regions must outlive the sender. The tracker is started by
  // the first send_round() (so writes during the first pass are caught) and
  // stopped by stop_tracking(), a failed round, or the destructor.
  RamSender(const RegionSet& regions, DirtyTracker& tracker, std::vector<Channel*> channels,
            RamSendOptions options = {});
  ~RamSender();
  RamSender(const RamSender&) = delete;
  RamSender& operator=(const RamSender&) = delete;

  // Progress every ~100 ms during a round and once at its end, from the
  // thread that called send_round/send_final.
  void on_progress(RamProgressFn fn);

  // Collects the tracker into the pending set and returns the bytes pending
  // (what the next round would send). Before the first round: everything.
  [[nodiscard]] Result<std::uint64_t> dirty_bytes();
  // Round 0 sends every page; later rounds send the pages dirtied since.
  [[nodiscard]] Result<RamRoundStats> send_round();
  // Stop-and-copy: the program has stopped writing; sends what is still
  // dirty and marks the stream final. No round may follow. The tracker is
  // left running (ending it can take tens of ms per GiB): call
  // stop_tracking() once the destination runs, or let the destructor do it.
  [[nodiscard]] Result<RamRoundStats> send_final();
  void stop_tracking() noexcept;

  // The end-to-end digest: per region, the CRC32C of its pages' CRC32Cs in
  // page order, which RamReceiver::verify() compares with the staged image.
  // Page CRCs sent on the wire are reused; prepare_digest() computes the
  // others while the program runs (call it between rounds: a page written
  // since is forgotten at the next collect) and returns how many it
  // computed. memory_digest(), after send_final() with the program stopped,
  // computes what is left (the final round's pages at most) and returns the
  // digests.
  [[nodiscard]] Result<std::uint64_t> prepare_digest();
  [[nodiscard]] Result<std::vector<std::uint32_t>> memory_digest();

  // From any thread: stops the transfer now (channels aborted).
  void cancel() noexcept;

  std::uint64_t rounds_sent() const;
  // Page bytes per second over the rounds sent so far (0 before any).
  double measured_bandwidth() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

struct RamReceiveOptions {
  // Bounds the wait for each record; kNoTimeout waits forever.
  Timeout record_timeout{std::chrono::seconds(60)};
  const std::atomic<bool>* cancel = nullptr;
};

struct RamReceivedRound {
  std::uint64_t round = 0;
  bool final = false;
  std::uint64_t pages = 0;       // with contents
  std::uint64_t pages_zero = 0;
  // Pages whose CRC did not match in a live round: the program wrote them
  // while they were sent, so they are dirty and come again in a later round
  // (commit() refuses if one never does).
  std::uint64_t pages_torn = 0;
  std::uint64_t wire_bytes = 0;
  double seconds = 0;
};

class RamReceiver {
 public:
  // The regions are written only by commit(); staging memory is reserved
  // lazily (untouched staging pages cost nothing).
  RamReceiver(RegionSet& regions, std::vector<Channel*> channels, RamReceiveOptions options = {});
  ~RamReceiver();
  RamReceiver(const RamReceiver&) = delete;
  RamReceiver& operator=(const RamReceiver&) = delete;

  // Reserves the staging area and faults it in (transparent huge pages where
  // the kernel has them), so receiving does not stop for page faults. Called
  // by the first receive_round() if the session did not call it at setup.
  [[nodiscard]] Result<void> prepare();
  // Receives the next round from every channel and returns once every
  // channel has delivered its end-of-round marker. Errors name the channel,
  // region, page and what was wrong (CRC, length, index out of range, a
  // marker for the wrong round); after an error nothing more is received.
  [[nodiscard]] Result<RamReceivedRound> receive_round();
  // receive_round() until the final round.
  [[nodiscard]] Result<std::vector<RamReceivedRound>> receive_all();

  bool complete() const;  // the final round arrived
  // Computes the CRC32C of staged pages whose CRC is not known yet (pages
  // that came without a page CRC), so verify() at the stop costs only the
  // final round's pages. Call between rounds, never during receive_round().
  [[nodiscard]] Result<std::uint64_t> prepare_digest();
  // Checks everything staged without applying anything: the final round
  // arrived, every page of every region arrived intact (none left torn),
  // and, when `source_digest` is given (RamSender::memory_digest(), one per
  // region), that the staged image's digest equals it. A failure names the
  // region (and the page when one is missing) and makes commit() refuse.
  [[nodiscard]] Result<void> verify(std::span<const std::uint32_t> source_digest = {});
  // Copies every staged page into the regions. Refused unless the final
  // round arrived and every page of every region was received at least once.
  [[nodiscard]] Result<void> commit();
  // Drops the staging area; the regions were never touched.
  void discard() noexcept;
  void cancel() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace statewire
