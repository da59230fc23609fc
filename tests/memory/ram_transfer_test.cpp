// Page transfer between a RamSender and a RamReceiver over real sockets.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <future>
#include <thread>

#include "core/crc32c.hpp"
#include "memory/memory_test_util.hpp"
#include "statewire/capabilities.hpp"
#include "statewire/ram_transfer.hpp"

namespace statewire {
namespace {

using namespace std::chrono_literals;
using testing::channel_pair;
using testing::PageBuffer;

constexpr std::size_t kPage = 4096;

// Runs a receiver over `channels` in a thread until its final round.
std::future<Result<std::vector<RamReceivedRound>>> receive_async(RamReceiver& rx) {
  return std::async(std::launch::async, [&rx] { return rx.receive_all(); });
}

TEST(RamTransfer, OnePassStagesEverythingAndAppliesOnlyAtCommit) {
  PageBuffer src(512 * kPage), dst(512 * kPage);
  testing::fill_random(src, 1, /*zero_every=*/5);
  std::memset(dst.data(), 0xaa, dst.size());
  auto src_regions = testing::one_region(src);
  auto dst_regions = testing::one_region(dst);
  auto [a, b] = channel_pair();

  ProgramDirtyTracker tracker;
  RamSender tx(src_regions, tracker, {&a});
  RamReceiver rx(dst_regions, {&b});
  auto fut = receive_async(rx);
  auto stats = tx.send_final();
  ASSERT_TRUE(stats) << stats.error().to_string();
  auto rounds = fut.get();
  ASSERT_TRUE(rounds) << rounds.error().to_string();
  ASSERT_EQ(rounds->size(), 1u);
  EXPECT_TRUE(rounds->front().final);
  EXPECT_EQ(stats->pages_zero, 103u);  // pages 0, 5, ..., 510
  EXPECT_EQ(stats->pages_sent, 512u - 103u);
  EXPECT_EQ(rounds->front().pages, stats->pages_sent);
  EXPECT_EQ(rounds->front().pages_zero, stats->pages_zero);
  EXPECT_EQ(rounds->front().wire_bytes, stats->wire_bytes);
  EXPECT_EQ(stats->wire_bytes, a.bytes_written());
  // Nothing applied yet.
  for (std::size_t i = 0; i < dst.size(); ++i) ASSERT_EQ(dst.data()[i], 0xaa) << i;
  ASSERT_TRUE(rx.commit());
  EXPECT_TRUE(src.same_as(dst));
  EXPECT_FALSE(rx.commit());  // once
}

TEST(RamTransfer, LaterRoundsCarryOnlyTheDirtyPages) {
  PageBuffer src(1024 * kPage), dst(1024 * kPage);
  testing::fill_random(src, 2);
  auto src_regions = testing::one_region(src);
  auto dst_regions = testing::one_region(dst);
  auto [a, b] = channel_pair();
  ProgramDirtyTracker tracker;
  RamSender tx(src_regions, tracker, {&a});
  RamReceiver rx(dst_regions, {&b});
  auto fut = receive_async(rx);

  auto r0 = tx.send_round();
  ASSERT_TRUE(r0) << r0.error().to_string();
  EXPECT_EQ(r0->round, 0u);
  EXPECT_EQ(r0->pages_sent, 1024u);
  // The program writes 10 pages (one becomes all zero) and says so after writing.
  for (std::uint64_t p : {3, 17, 64, 65, 500, 501, 502, 777, 1000, 1023}) {
    std::memset(src.data() + p * kPage + 100, static_cast<int>(p), 50);
    tracker.mark_dirty(0, p * kPage + 100, 50);
  }
  std::memset(src.data() + 64 * kPage, 0, kPage);
  EXPECT_EQ(*tx.dirty_bytes(), 10 * kPage);
  auto r1 = tx.send_round();
  ASSERT_TRUE(r1) << r1.error().to_string();
  EXPECT_EQ(r1->round, 1u);
  EXPECT_EQ(r1->pages_sent, 9u);
  EXPECT_EQ(r1->pages_zero, 1u);
  EXPECT_EQ(r1->pages_skipped, 1014u);
  std::memset(src.data() + 5 * kPage, 7, kPage);
  tracker.mark_dirty(0, 5 * kPage, kPage);
  auto fin = tx.send_final();
  ASSERT_TRUE(fin) << fin.error().to_string();
  EXPECT_EQ(fin->pages_sent, 1u);
  EXPECT_FALSE(tx.send_round());  // nothing after the final round
  auto rounds = fut.get();
  ASSERT_TRUE(rounds) << rounds.error().to_string();
  ASSERT_EQ(rounds->size(), 3u);
  EXPECT_EQ((*rounds)[1].pages, 9u);
  ASSERT_TRUE(rx.commit());
  EXPECT_TRUE(src.same_as(dst));
}

TEST(RamTransfer, SeveralRegionsAndChannelsOverUnixSockets) {
  PageBuffer ram_src(8192 * kPage), vram_src(300 * kPage), ram_dst(8192 * kPage), vram_dst(300 * kPage);
  testing::fill_random(ram_src, 3, 7);
  testing::fill_random(vram_src, 4);
  RegionSet src_regions, dst_regions;
  ASSERT_TRUE(src_regions.add({"ram", ram_src.data(), ram_src.size(), kPage}));
  ASSERT_TRUE(src_regions.add({"vram", vram_src.data(), vram_src.size(), kPage}));
  ASSERT_TRUE(dst_regions.add({"ram", ram_dst.data(), ram_dst.size(), kPage}));
  ASSERT_TRUE(dst_regions.add({"vram", vram_dst.data(), vram_dst.size(), kPage}));

  const auto path = std::filesystem::temp_directory_path() / fmt::format("sw-ram-{}.sock", ::getpid());
  auto where = parse_endpoint("unix:" + path.string());
  ASSERT_TRUE(where);
  auto listener = Listener::open(*where);
  ASSERT_TRUE(listener) << listener.error().to_string();
  std::vector<Channel> out, in;
  for (int i = 0; i < 3; ++i) {
    auto c = connect(*where, 5s);
    ASSERT_TRUE(c) << c.error().to_string();
    auto s = listener->accept(5s);
    ASSERT_TRUE(s) << s.error().to_string();
    c->set_timeout(20s);
    s->set_timeout(20s);
    out.push_back(std::move(*c));
    in.push_back(std::move(*s));
  }
  ProgramDirtyTracker tracker;
  RamSender tx(src_regions, tracker, {&out[0], &out[1], &out[2]}, {.batch_bytes = 64 * 1024});
  RamReceiver rx(dst_regions, {&in[0], &in[1], &in[2]});
  auto fut = receive_async(rx);
  ASSERT_TRUE(tx.send_round());
  for (std::uint64_t p = 0; p < 8192; p += 97) {
    ram_src.data()[p * kPage] ^= 0x5a;
    tracker.mark_dirty(0, p * kPage, 1);
  }
  vram_src.data()[299 * kPage + 4095] ^= 1;
  tracker.mark_dirty(1, 299 * kPage + 4095, 1);
  ASSERT_TRUE(tx.send_final());
  auto rounds = fut.get();
  ASSERT_TRUE(rounds) << rounds.error().to_string();
  EXPECT_EQ(rounds->size(), 2u);
  // Channels take batches as they free up, so the split depends on scheduling;
  // under load one channel carried 0.7 MiB of the 34. One batch each is certain.
  for (const auto& c : out) EXPECT_GT(c.bytes_written(), 64u * 1024) << "every channel carries pages";
  ASSERT_TRUE(rx.commit());
  EXPECT_TRUE(ram_src.same_as(ram_dst));
  EXPECT_TRUE(vram_src.same_as(vram_dst));
}

TEST(RamTransfer, CompressesWhenAskedAndKeepsEveryByte) {
  for (Compression c : {Compression::zstd, Compression::lz4}) {
    PageBuffer src(2048 * kPage), dst(2048 * kPage);
    testing::fill_compressible(src, 5);
    testing::fill_random(src, 6);  // then half random: those batches go raw
    testing::fill_compressible(src, 5);
    std::mt19937_64 rng(9);
    for (std::size_t at = 1024 * kPage; at < src.size(); at += 8) {
      const auto v = rng();
      std::memcpy(src.data() + at, &v, 8);
    }
    auto src_regions = testing::one_region(src);
    auto dst_regions = testing::one_region(dst);
    auto [a, b] = channel_pair();
    ProgramDirtyTracker tracker;
    RamSender tx(src_regions, tracker, {&a}, {.compression = c});
    RamReceiver rx(dst_regions, {&b});
    auto fut = receive_async(rx);
    auto s = tx.send_final();
    ASSERT_TRUE(s) << s.error().to_string();
    ASSERT_TRUE(fut.get());
    EXPECT_LT(s->wire_bytes, src.size() * 3 / 4) << compression_name(c);
    EXPECT_GT(s->wire_bytes, src.size() / 2) << "the random half is sent raw";
    ASSERT_TRUE(rx.commit());
    EXPECT_TRUE(src.same_as(dst)) << compression_name(c);
  }
}

// Captures what a sender writes, lets the test damage it, and replays it.
struct Tap {
  std::vector<std::uint8_t> bytes;
  static Tap capture(const std::function<void(Channel&)>& send) {
    auto [a, b] = channel_pair();
    Tap t;
    std::thread reader([&t, &b] {
      std::uint8_t buf[65536];
      while (true) {
        auto n = b.read(buf);
        if (!n || *n == 0) break;
        t.bytes.insert(t.bytes.end(), buf, buf + *n);
      }
    });
    send(a);
    if (!a.shutdown_write()) std::abort();
    reader.join();
    return t;
  }
};

struct Replay {
  Channel feed, end;
  std::thread writer;
  Replay(const std::vector<std::uint8_t>& bytes) {
    auto [a, b] = channel_pair(3s);
    feed = std::move(a);
    end = std::move(b);
    writer = std::thread([this, &bytes] {
      (void)feed.write(bytes);
      (void)feed.shutdown_write();
    });
  }
  ~Replay() {
    end.abort();
    writer.join();
  }
};

class RamDamage : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::fill_random(src_, 11, 4);
    std::memset(dst_.data(), 0xcc, dst_.size());
    src_regions_ = testing::one_region(src_);
    dst_regions_ = testing::one_region(dst_);
  }
  // Round 0 with every page, then a final round with page 9 only.
  std::vector<std::uint8_t> two_rounds(std::size_t* final_starts) {
    auto t = Tap::capture([&](Channel& ch) {
      ProgramDirtyTracker tracker;
      RamSender tx(src_regions_, tracker, {&ch});
      ASSERT_TRUE(tx.send_round());
      *final_starts = ch.bytes_written();
      tracker.mark_dirty(0, 9 * kPage, 1);
      ASSERT_TRUE(tx.send_final());
    });
    return t.bytes;
  }
  bool dst_untouched() const {
    for (std::size_t i = 0; i < dst_.size(); ++i)
      if (dst_.data()[i] != 0xcc) return false;
    return true;
  }
  PageBuffer src_{64 * kPage}, dst_{64 * kPage};
  RegionSet src_regions_, dst_regions_;
};

TEST_F(RamDamage, EveryTruncationIsAnErrorAndNothingIsApplied) {
  std::size_t final_at = 0;
  const auto bytes = two_rounds(&final_at);
  ASSERT_GT(bytes.size(), 48 * kPage);
  // Every record boundary region and a spread of other cut points.
  for (std::size_t cut = 0; cut < bytes.size(); cut += cut < 200 ? 1 : 997) {
    std::vector<std::uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    Replay r(part);
    RamReceiver rx(dst_regions_, {&r.end});
    auto got = rx.receive_all();
    ASSERT_FALSE(got) << cut;
    EXPECT_EQ(got.error().code, Errc::truncated) << cut << ": " << got.error().to_string();
    EXPECT_NE(got.error().message.find("data channel 0"), std::string::npos);
    EXPECT_FALSE(rx.commit());
  }
  EXPECT_TRUE(dst_untouched());
}

TEST_F(RamDamage, ADamagedPageInTheFinalRoundNamesRegionPageAndChannel) {
  std::size_t final_at = 0;
  auto bytes = two_rounds(&final_at);
  // The final round: header (40), one table entry (8), then page 9.
  bytes[final_at + 48 + 100] ^= 0x01;
  Replay r(bytes);
  RamReceiver rx(dst_regions_, {&r.end});
  auto got = rx.receive_all();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, Errc::invalid_value);
  EXPECT_EQ(got.error().section, "ram");
  EXPECT_EQ(got.error().field_path, "page[9]");
  EXPECT_EQ(got.error().offset, final_at);
  EXPECT_NE(got.error().message.find("data channel 0 (socketpair:receive)"), std::string::npos);
  EXPECT_NE(got.error().message.find("CRC32C"), std::string::npos);
  EXPECT_FALSE(rx.commit());
  EXPECT_TRUE(dst_untouched());
}

TEST_F(RamDamage, APageTornInALiveRoundMustComeAgainBeforeCommit) {
  std::size_t final_at = 0;
  auto bytes = two_rounds(&final_at);
  // Round 0: page 1 is the first non-zero page (0 is zero): damage it, as a
  // program writing it while it was sent would. Page 9 comes again; page 1 not.
  // The first record is round 0's data batch (zero pages are flushed after
  // it): 48 pages, page 1 first.
  std::size_t table = 40;
  std::uint32_t count;
  std::memcpy(&count, bytes.data() + 8, 4);
  ASSERT_EQ(bytes[4], 1);  // a page record
  std::uint32_t first_index;
  std::memcpy(&first_index, bytes.data() + table, 4);
  ASSERT_EQ(first_index, 1u);
  bytes[table + count * 8 + 5] ^= 0x80;  // page 1's sixth byte
  {
    Replay r(bytes);
    RamReceiver rx(dst_regions_, {&r.end});
    auto got = rx.receive_all();
    ASSERT_TRUE(got) << got.error().to_string();
    EXPECT_EQ((*got)[0].pages_torn, 1u);
    auto c = rx.commit();
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, Errc::truncated);
    EXPECT_EQ(c.error().field_path, "page[1]");
    EXPECT_NE(c.error().message.find("failed its CRC and was not sent again"), std::string::npos);
  }
  EXPECT_TRUE(dst_untouched());
  // The same damage to page 9, which the final round sends again, commits.
  std::size_t at9 = table + count * 8;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::uint32_t idx;
    std::memcpy(&idx, bytes.data() + table + i * 8, 4);
    if (idx == 9) at9 += i * kPage;
  }
  bytes[table + count * 8 + 5] ^= 0x80;  // undo page 1
  bytes[at9 + 7] ^= 0x40;
  Replay r(bytes);
  RamReceiver rx(dst_regions_, {&r.end});
  auto got = rx.receive_all();
  ASSERT_TRUE(got) << got.error().to_string();
  EXPECT_EQ((*got)[0].pages_torn, 1u);
  ASSERT_TRUE(rx.commit());
  EXPECT_TRUE(src_.same_as(dst_));
}

TEST_F(RamDamage, DamagedHeadersAndTablesAreRefusedAtTheirRecord) {
  std::size_t final_at = 0;
  const auto good = two_rounds(&final_at);
  struct Case {
    std::size_t at;
    std::uint8_t x;
    Errc code;
  };
  for (Case c : {Case{0, 0xff, Errc::bad_magic}, Case{4, 0x07, Errc::invalid_value},
                 Case{6, 0x01, Errc::invalid_value}, Case{10, 0x10, Errc::limit_exceeded},
                 Case{16, 0x01, Errc::mismatch}, Case{36, 0x01, Errc::invalid_value},
                 Case{40, 0x01, Errc::invalid_value}, Case{final_at + 24, 0x01, Errc::invalid_value}}) {
    auto bytes = good;
    bytes[c.at] ^= c.x;
    Replay r(bytes);
    RamReceiver rx(dst_regions_, {&r.end});
    auto got = rx.receive_all();
    ASSERT_FALSE(got) << c.at;
    EXPECT_EQ(got.error().code, c.code) << c.at << ": " << got.error().to_string();
    EXPECT_TRUE(got.error().offset.has_value());
    EXPECT_FALSE(rx.commit());
  }
  EXPECT_TRUE(dst_untouched());
}

TEST(RamTransfer, BandwidthCapHoldsAndCancelStopsAtOnce) {
  PageBuffer src(2048 * kPage), dst(2048 * kPage);
  testing::fill_random(src, 12);
  auto src_regions = testing::one_region(src);
  auto dst_regions = testing::one_region(dst);
  {
    auto [a, b] = channel_pair();
    ProgramDirtyTracker tracker;
    // 8 MiB at 40 MB/s: at least ~0.2 s once the 50 ms burst is spent.
    RamSender tx(src_regions, tracker, {&a}, {.bandwidth_limit = 40'000'000});
    RamReceiver rx(dst_regions, {&b});
    auto fut = receive_async(rx);
    auto s = tx.send_final();
    ASSERT_TRUE(s);
    ASSERT_TRUE(fut.get());
    EXPECT_GE(s->seconds, 0.8 * (8.0 * 1048576 / 40e6 - 0.05));
  }
  {
    auto [a, b] = channel_pair();
    ProgramDirtyTracker tracker;
    std::atomic<bool> stop{false};
    RamSender tx(src_regions, tracker, {&a}, {.bandwidth_limit = 4'000'000, .cancel = &stop});
    RamReceiver rx(dst_regions, {&b});
    auto fut = receive_async(rx);
    std::thread canceller([&] {
      std::this_thread::sleep_for(150ms);
      stop = true;
    });
    const auto t0 = std::chrono::steady_clock::now();
    auto s = tx.send_round();
    canceller.join();
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message.find("cancelled"), std::string::npos) << s.error().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);  // 8 MiB at 4 MB/s would take 2 s
    EXPECT_FALSE(tx.send_round());
    a.close();  // the destination sees the channel end
    auto got = fut.get();
    ASSERT_FALSE(got);
    EXPECT_FALSE(rx.commit());
  }
}

TEST(RamTransfer, ProgressReportsBytesRoundAndRemaining) {
  PageBuffer src(4096 * kPage), dst(4096 * kPage);
  testing::fill_random(src, 13);
  auto src_regions = testing::one_region(src);
  auto dst_regions = testing::one_region(dst);
  auto [a, b] = channel_pair();
  ProgramDirtyTracker tracker;
  RamSender tx(src_regions, tracker, {&a}, {.bandwidth_limit = 64'000'000});
  std::vector<RamProgress> seen;
  tx.on_progress([&](const RamProgress& p) { seen.push_back(p); });
  RamReceiver rx(dst_regions, {&b});
  auto fut = receive_async(rx);
  auto s = tx.send_final();
  ASSERT_TRUE(s);
  ASSERT_TRUE(fut.get());
  ASSERT_GE(seen.size(), 2u);  // 16 MiB at 64 MB/s: a report every 100 ms, and the end
  // The first report once bytes moved (on a loaded machine the first 100 ms
  // may pass before the sender thread ran at all).
  auto mid = std::find_if(seen.begin(), seen.end(), [](const RamProgress& p) { return p.rate > 0; });
  ASSERT_NE(mid, seen.end());
  ASSERT_FALSE(mid->final && mid->remaining_dirty_bytes == 0) << "no report before the end";
  EXPECT_GT(mid->remaining_dirty_bytes, 0u);
  EXPECT_GT(mid->expected_downtime, 0);
  for (std::size_t i = 1; i < seen.size(); ++i)
    EXPECT_GE(seen[i].total_wire_bytes, seen[i - 1].total_wire_bytes);
  EXPECT_EQ(seen.back().remaining_dirty_bytes, 0u);
  EXPECT_EQ(seen.back().total_page_bytes, src.size());
  EXPECT_EQ(seen.back().total_wire_bytes, s->wire_bytes);
  EXPECT_TRUE(seen.back().final);
  EXPECT_GT(seen.back().rate, 0);
}

TEST(RamTransfer, AChannelThatDiesFailsTheRoundOnBothSides) {
  PageBuffer src(4096 * kPage), dst(4096 * kPage);
  testing::fill_random(src, 14);
  auto src_regions = testing::one_region(src);
  auto dst_regions = testing::one_region(dst);
  auto [a0, b0] = channel_pair();
  auto [a1, b1] = channel_pair();
  ProgramDirtyTracker tracker;
  RamSender tx(src_regions, tracker, {&a0, &a1}, {.bandwidth_limit = 32'000'000});
  RamReceiver rx(dst_regions, {&b0, &b1});
  auto fut = receive_async(rx);
  std::thread killer([&] {
    std::this_thread::sleep_for(100ms);
    b1.abort();  // the destination's end of channel 1 goes away
  });
  auto s = tx.send_final();
  killer.join();
  ASSERT_FALSE(s);
  auto got = fut.get();
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("data channel"), std::string::npos) << got.error().to_string();
  EXPECT_FALSE(rx.commit());
  for (std::size_t i = 0; i < dst.size(); i += kPage) ASSERT_EQ(dst.data()[i], 0) << i;
}

}  // namespace
}  // namespace statewire

namespace statewire {
namespace {

TEST(RamTransfer, CommitByMovingStagingPagesKeepsPagesThatBecameZero) {
  for (bool replace : {true, false}) {
    PageBuffer src(256 * kPage), dst(256 * kPage);
    testing::fill_random(src, 21);
    std::memset(dst.data(), 0x33, dst.size());
    auto src_regions = testing::one_region(src);
    RegionSet dst_regions;
    ASSERT_TRUE(dst_regions.add({"ram", dst.data(), dst.size(), kPage, replace}));
    auto [a, b] = channel_pair();
    ProgramDirtyTracker tracker;
    RamSender tx(src_regions, tracker, {&a});
    RamReceiver rx(dst_regions, {&b});
    ASSERT_TRUE(rx.prepare());
    auto fut = receive_async(rx);
    ASSERT_TRUE(tx.send_round());
    // Pages sent with data in round 0 become zero before the final round.
    for (std::uint64_t p : {0, 7, 255}) {
      std::memset(src.data() + p * kPage, 0, kPage);
      tracker.mark_dirty(0, p * kPage, kPage);
    }
    ASSERT_TRUE(tx.send_final());
    ASSERT_TRUE(fut.get());
    EXPECT_EQ(dst.data()[7 * kPage + 1], 0x33) << "nothing applied before commit";
    ASSERT_TRUE(rx.commit());
    EXPECT_TRUE(src.same_as(dst)) << "replace_on_commit=" << replace;
  }
}

}  // namespace
}  // namespace statewire

namespace statewire {
namespace {

TEST_F(RamDamage, WithoutPageChecksumsPagesArriveButHeadersAreStillChecked) {
  auto capture = [&](bool crc) {
    return Tap::capture([&](Channel& ch) {
      ProgramDirtyTracker tracker;
      RamSender tx(src_regions_, tracker, {&ch}, {.page_checksums = crc, .final_round_checksums = crc});
      ASSERT_TRUE(tx.send_final());
    }).bytes;
  };
  auto bytes = capture(false);
  EXPECT_EQ(bytes.size(), capture(true).size());
  {
    Replay r(bytes);
    RamReceiver rx(dst_regions_, {&r.end});
    ASSERT_TRUE(rx.receive_all());
    ASSERT_TRUE(rx.commit());
    EXPECT_TRUE(src_.same_as(dst_));
  }
  std::memset(dst_.data(), 0xcc, dst_.size());
  auto damaged = bytes;
  damaged[40 + 3] ^= 1;  // a page index in the table
  Replay r(damaged);
  RamReceiver rx(dst_regions_, {&r.end});
  auto got = rx.receive_all();
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("fails its CRC"), std::string::npos);
  EXPECT_TRUE(dst_untouched());
}


// The digest as its definition says: per region, the CRC32C of its pages'
// CRC32Cs in page order, computed here the slow way.
std::uint32_t expected_digest(const PageBuffer& b) {
  std::vector<std::uint32_t> crcs;
  for (std::size_t at = 0; at < b.size(); at += kPage) crcs.push_back(detail::crc32c(0, b.data() + at, kPage));
  return detail::crc32c(0, crcs.data(), crcs.size() * 4);
}

TEST_F(RamDamage, WithoutPageChecksumsTheDigestRefusesADamagedPageBeforeAnythingIsApplied) {
  std::vector<std::uint32_t> digest;
  auto t = Tap::capture([&](Channel& ch) {
    ProgramDirtyTracker tracker;
    // No page CRCs at all, not even in the final round: only the digest checks.
    RamSender tx(src_regions_, tracker, {&ch}, {.page_checksums = false, .final_round_checksums = false});
    ASSERT_TRUE(tx.send_final());
    auto d = tx.memory_digest();
    ASSERT_TRUE(d) << d.error().to_string();
    digest = *d;
  });
  ASSERT_EQ(digest, std::vector<std::uint32_t>{expected_digest(src_)});
  {
    // Undamaged: verified, then committed.
    Replay r(t.bytes);
    RamReceiver rx(dst_regions_, {&r.end});
    ASSERT_TRUE(rx.receive_all());
    auto v = rx.verify(digest);
    ASSERT_TRUE(v) << v.error().to_string();
    ASSERT_TRUE(rx.commit());
    EXPECT_TRUE(src_.same_as(dst_));
  }
  std::memset(dst_.data(), 0xcc, dst_.size());
  // Page 1 (the first record's first page) arrives with one bit changed; no
  // page CRC is there to notice, so the round itself is accepted.
  auto damaged = t.bytes;
  std::uint32_t count;
  std::memcpy(&count, damaged.data() + 8, 4);
  damaged[40 + count * 8 + 77] ^= 0x10;
  Replay r(damaged);
  RamReceiver rx(dst_regions_, {&r.end});
  ASSERT_TRUE(rx.receive_all());
  auto v = rx.verify(digest);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::mismatch);
  EXPECT_EQ(v.error().section, "ram");
  EXPECT_NE(v.error().message.find("differ from the source's memory"), std::string::npos)
      << v.error().to_string();
  EXPECT_FALSE(rx.commit());  // a failed verify leaves nothing to commit
  EXPECT_TRUE(dst_untouched());
}

TEST_F(RamDamage, WithPageChecksumsVerifyRefusesAPageLeftTornBeforeCommit) {
  std::size_t final_at = 0;
  auto bytes = two_rounds(&final_at);
  std::uint32_t count;
  std::memcpy(&count, bytes.data() + 8, 4);
  bytes[40 + count * 8 + 5] ^= 0x80;  // page 1, round 0; only page 9 comes again
  Replay r(bytes);
  RamReceiver rx(dst_regions_, {&r.end});
  ASSERT_TRUE(rx.receive_all());
  auto v = rx.verify();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().field_path, "page[1]");
  EXPECT_NE(v.error().message.find("failed its CRC"), std::string::npos) << v.error().to_string();
  EXPECT_FALSE(rx.commit());
  EXPECT_TRUE(dst_untouched());
}

TEST_F(RamDamage, TheDigestReusesWireCrcsAndComputesOnlyPagesWrittenSince) {
  for (bool crc : {true, false}) {
    SCOPED_TRACE(crc ? "page CRCs on" : "page CRCs off");
    std::memset(dst_.data(), 0xcc, dst_.size());
    testing::fill_random(src_, 11, 4);
    std::vector<std::uint32_t> digest;
    std::promise<std::vector<std::uint32_t>> digest_sent;
    std::uint64_t first = 99, second = 99, receiver_first = 99;
    auto [a, b] = channel_pair();
    RamReceiver rx(dst_regions_, {&b});
    auto got = std::async(std::launch::async, [&, from_source = digest_sent.get_future()]() mutable -> Result<void> {
      SW_TRY(r0, rx.receive_round());
      SW_TRY(n, rx.prepare_digest());
      receiver_first = n;
      SW_TRY(r1, rx.receive_round());
      if (!r1.final || r0.final) return fail(Errc::mismatch, "rounds");
      if (from_source.wait_for(20s) != std::future_status::ready) return fail(Errc::io_error, "no digest");
      const auto d = from_source.get();
      return rx.verify(d);
    });
    ProgramDirtyTracker tracker;
    RamSender tx(src_regions_, tracker, {&a}, {.page_checksums = crc});
    ASSERT_TRUE(tx.send_round());
    auto p1 = tx.prepare_digest();
    ASSERT_TRUE(p1);
    first = *p1;
    // The program writes pages 9 and 12 (12 was a zero page) after the pass.
    src_.data()[9 * kPage + 1] ^= 0xff;
    src_.data()[12 * kPage + 100] = 7;
    tracker.mark_dirty(0, 9 * kPage, 1);
    tracker.mark_dirty(0, 12 * kPage, 1);
    auto left = tx.dirty_bytes();
    ASSERT_TRUE(left);
    EXPECT_EQ(*left, 2 * kPage);
    auto p2 = tx.prepare_digest();
    ASSERT_TRUE(p2);
    second = *p2;
    ASSERT_TRUE(tx.send_final());
    auto d = tx.memory_digest();
    ASSERT_TRUE(d);
    digest = *d;
    digest_sent.set_value(digest);
    EXPECT_EQ(digest, std::vector<std::uint32_t>{expected_digest(src_)});
    auto v = got.get();
    ASSERT_TRUE(v) << v.error().to_string();
    // With page CRCs every page's CRC came from the wire; without, the first
    // pass computes all 64 once. Either way only the 2 written pages again.
    EXPECT_EQ(first, crc ? 0u : 64u);
    EXPECT_EQ(second, 2u);
    // The receiver: pages that came with a CRC (or as zero pages) are known.
    EXPECT_EQ(receiver_first, crc ? 0u : 48u);
    ASSERT_TRUE(rx.commit());
    EXPECT_TRUE(src_.same_as(dst_));
  }
}

}  // namespace
}  // namespace statewire
