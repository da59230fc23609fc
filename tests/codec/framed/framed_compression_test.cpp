// Compressed framed records: a large payload whose sample does not compress
// (the corpus stream's random guest RAM) is stored raw without a full
// compression pass, a compressible one still is compressed, and either way
// the file decodes to the tree it was written from.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

using statewire::testing::corpus_dir;
using statewire::testing::read_bytes;

struct RecordHead {
  std::uint8_t type = 0, flags = 0;
  std::uint32_t len = 0;
  std::uint32_t raw_len = 0;  // the payload's size before compression
};

// The records of a framed file, in order (layout: docs/framed-format.md).
std::vector<RecordHead> records(const Bytes& f) {
  std::vector<RecordHead> out;
  std::size_t pos = 8 + 2;  // magic, version
  while (pos + 6 <= f.size()) {
    RecordHead h;
    h.type = f[pos];
    h.flags = f[pos + 1];
    std::memcpy(&h.len, f.data() + pos + 2, 4);
    h.raw_len = h.len;
    if ((h.flags & 0x06) && h.len >= 4) std::memcpy(&h.raw_len, f.data() + pos + 6, 4);
    out.push_back(h);
    pos += 6 + h.len + 4;
  }
  EXPECT_EQ(pos, f.size());
  return out;
}

constexpr std::uint8_t kChunk = 0x05, kZstd = 0x02, kLz4 = 0x04;

StateStream random_ram_tree() {
  auto t = qemu::decode_qemu_stream(read_bytes(corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig"));
  EXPECT_TRUE(t) << t.error().to_string();
  return t ? std::move(*t) : StateStream{};
}

// Every page record's data, in stream order.
std::vector<Blob*> page_data(StateStream& s) {
  std::vector<Blob*> out;
  for (Section& sec : s.sections)
    for (Member& m : sec.body.members)
      if (Array* a = m.value.get_if<Array>())
        for (Value& rec : a->items)
          if (Struct* r = rec.get_if<Struct>())
            if (Value* d = r->find("data"))
              if (Blob* b = d->get_if<Blob>(); b && b->bytes.size() == 4096) out.push_back(b);
  return out;
}

// CHUNK records of 256 page records (about 1 MiB), compressed or not.
std::size_t count_chunks(const std::vector<RecordHead>& rs, std::uint8_t flag, bool with) {
  std::size_t n = 0;
  for (const RecordHead& r : rs)
    if (r.type == kChunk && r.raw_len >= 256 * 4096 && ((r.flags & flag) != 0) == with) ++n;
  return n;
}

TEST(FramedCompression, RandomRamChunksAreStoredRawAndDecode) {
  // The stream's guest has firmware and other compressible pages beside its
  // 4 MiB of random ones: every page is made random here.
  StateStream tree = random_ram_tree();
  std::mt19937 rng(3);
  for (Blob* b : page_data(tree))
    for (auto& x : b->bytes) x = static_cast<std::uint8_t>(rng());
  for (auto [c, flag] : {std::pair{Compression::zstd, kZstd}, std::pair{Compression::lz4, kLz4}}) {
    FramedEncodeOptions opt;
    opt.compression = c;
    auto bytes = encode_framed(tree, opt);
    ASSERT_TRUE(bytes) << bytes.error().to_string();
    const auto rs = records(*bytes);
    // At least 3 full chunks of 256 random pages, none compressed.
    EXPECT_GE(count_chunks(rs, flag, false), 3u);
    EXPECT_EQ(count_chunks(rs, flag, true), 0u);
    auto back = decode_framed(*bytes);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_TRUE(back->stream == tree);
  }
}

TEST(FramedCompression, CompressiblePagesAreStillCompressed) {
  StateStream tree = random_ram_tree();
  // Text-like pages: a guest's page cache rather than noise.
  std::mt19937 rng(7);
  const std::string words[] = {"state ", "migration ", "section ", "device ", "version ", "field "};
  for (Blob* b : page_data(tree)) {
    std::size_t i = 0;
    while (i < b->bytes.size()) {
      const std::string& w = words[rng() % 6];
      for (char ch : w)
        if (i < b->bytes.size()) b->bytes[i++] = static_cast<std::uint8_t>(ch);
    }
  }
  FramedEncodeOptions none, zstd;
  zstd.compression = Compression::zstd;
  auto raw = encode_framed(tree, none);
  auto packed = encode_framed(tree, zstd);
  ASSERT_TRUE(raw && packed);
  const auto rs = records(*packed);
  EXPECT_EQ(count_chunks(rs, kZstd, false), 0u);
  EXPECT_GE(count_chunks(rs, kZstd, true), 3u);
  EXPECT_LT(packed->size(), raw->size() / 3);
  auto back = decode_framed(*packed);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_TRUE(back->stream == tree);
}

TEST(FramedCompression, ChunkHalfRandomHalfTextIsCompressed) {
  // The sample spans the payload: a chunk whose pages alternate between
  // noise and zeros-with-a-counter still gains, and is compressed.
  StateStream tree = random_ram_tree();
  std::size_t n = 0;
  for (Blob* b : page_data(tree)) {
    if (n++ % 2 == 0) continue;
    std::fill(b->bytes.begin(), b->bytes.end(), 0);
    std::memcpy(b->bytes.data(), &n, sizeof n);
  }
  FramedEncodeOptions none, zstd;
  zstd.compression = Compression::zstd;
  auto raw = encode_framed(tree, none);
  auto packed = encode_framed(tree, zstd);
  ASSERT_TRUE(raw && packed);
  EXPECT_GE(count_chunks(records(*packed), kZstd, true), 3u);
  EXPECT_LT(packed->size(), raw->size() * 6 / 10);
  auto back = decode_framed(*packed);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_TRUE(back->stream == tree);
}

}  // namespace
}  // namespace statewire
