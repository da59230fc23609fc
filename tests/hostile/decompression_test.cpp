// Class 4 of issue 18: a compressed framed record's claimed length is
// believed only as far as data backs it: no allocation of the claimed size
// before decompression proves it.
#include <gtest/gtest.h>

#include "core/crc32c.hpp"
#include "hostile/craft.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

// Where the first compressed record of a framed file starts.
std::optional<std::size_t> first_compressed(const Bytes& b) {
  std::size_t at = 10;
  while (at + 6 <= b.size()) {
    std::uint32_t len;
    std::memcpy(&len, b.data() + at + 2, 4);
    if (b[at + 1] & 0x06) return at;
    at += 6 + std::size_t{len} + 4;
  }
  return std::nullopt;
}

// The file with that record's raw length set to `claim` and its CRC fixed.
Bytes with_claim(Bytes b, std::size_t at, std::uint32_t claim) {
  std::memcpy(b.data() + at + 6, &claim, 4);
  std::uint32_t len;
  std::memcpy(&len, b.data() + at + 2, 4);
  const std::uint32_t crc = detail::crc32c(0, b.data() + at, 6 + len);
  std::memcpy(b.data() + at + 6 + len, &crc, 4);
  return b;
}

Bytes compressed_corpus_file(Compression c) {
  Bytes q = testing::read_bytes(testing::corpus_dir() / "isapc-ne2k-paused.mig");
  auto tree = qemu::decode_qemu_stream(q);
  EXPECT_TRUE(tree);
  FramedEncodeOptions enc;
  enc.compression = c;
  auto f = encode_framed(*tree, enc);
  EXPECT_TRUE(f);
  return *f;
}

TEST(HostileDecompression, Lz4ClaimOfOneGibFailsFastWithoutAllocating) {
  const Bytes f = compressed_corpus_file(Compression::lz4);
  auto at = first_compressed(f);
  ASSERT_TRUE(at);
  const std::uint64_t rss_before = testing::peak_rss();
  // Even with a budget that would allow it, LZ4 cannot expand these bytes so far.
  FramedDecodeOptions generous;
  generous.limits.memory_floor = 4ull << 30;
  auto r = decode_framed(with_claim(f, *at, 1u << 30), generous);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().offset, *at);
  EXPECT_NE(r.error().message.find("lz4"), std::string::npos) << r.error().to_string();
  // With the default limits, the budget refuses first.
  auto d = decode_framed(with_claim(f, *at, 1u << 30));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().offset, *at);
  EXPECT_LT(testing::peak_rss() - rss_before, 256ull << 20);
}

TEST(HostileDecompression, ZstdClaimOfOneGibFailsFastWithoutAllocating) {
  const Bytes f = compressed_corpus_file(Compression::zstd);
  auto at = first_compressed(f);
  ASSERT_TRUE(at);
  const std::uint64_t rss_before = testing::peak_rss();
  auto d = decode_framed(with_claim(f, *at, 1u << 30));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, Errc::limit_exceeded);
  EXPECT_EQ(d.error().offset, *at);
  // A budget that allows the claim: the buffer grows only with real output.
  FramedDecodeOptions generous;
  generous.limits.memory_floor = 4ull << 30;
  auto r = decode_framed(with_claim(f, *at, 1u << 30), generous);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_NE(r.error().message.find("zstd"), std::string::npos) << r.error().to_string();
  EXPECT_LT(testing::peak_rss() - rss_before, 256ull << 20);
  // A claim one byte short of the real output is caught too.
  std::uint32_t real;
  std::memcpy(&real, f.data() + *at + 6, 4);
  auto short_claim = decode_framed(with_claim(f, *at, real - 1));
  ASSERT_FALSE(short_claim);
  EXPECT_EQ(short_claim.error().code, Errc::invalid_value);
}

// Records that really are highly compressible still decode (many identical
// pages: zstd shrinks them far below any fixed ratio).
TEST(HostileDecompression, HighlyCompressibleRecordsStillDecode) {
  StateStream s;
  Struct body;
  Array pages;
  for (int i = 0; i < 2048; ++i) pages.items.push_back(Blob{Bytes(4096, 0x5a)});
  body.members.push_back({"pages", Value(std::move(pages))});
  s.sections.push_back({SectionKind::full, 0, "ram", 0, 4, std::move(body)});
  for (Compression c : {Compression::zstd, Compression::lz4}) {
    FramedEncodeOptions enc;
    enc.compression = c;
    auto f = encode_framed(s, enc);
    ASSERT_TRUE(f);
    EXPECT_LT(f->size(), 8u << 20);
    auto back = decode_framed(*f);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_EQ(back->stream, s);
  }
}

// CHUNK-level damage names the section the chunk belongs to.
TEST(HostileDecompression, ChunkCrcFailureNamesItsSection) {
  StateStream s;
  Struct body;
  Array regs;
  for (std::uint32_t i = 0; i < 2000; ++i) regs.items.push_back(std::uint32_t{i});
  body.members.push_back({"regs", Value(std::move(regs))});
  s.sections.push_back({SectionKind::full, 0, "nic", 2, 1, std::move(body)});
  auto f = encode_framed(s);
  ASSERT_TRUE(f);
  // Find a CHUNK record (type 0x05) and damage one payload byte.
  std::size_t at = 10;
  while (at + 6 <= f->size() && (*f)[at] != 0x05) {
    std::uint32_t len;
    std::memcpy(&len, f->data() + at + 2, 4);
    at += 6 + std::size_t{len} + 4;
  }
  ASSERT_LT(at + 6, f->size());
  (*f)[at + 20] ^= 0x01;
  auto r = decode_framed(*f);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  EXPECT_EQ(r.error().section, "nic/2");
  EXPECT_EQ(r.error().offset, at);
}

}  // namespace
}  // namespace statewire
