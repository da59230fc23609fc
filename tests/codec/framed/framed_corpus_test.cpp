// Corruption of every section of real streams in the framed format: each kind
// of damage gives its own error, naming the section where the format can tell.
#include <gtest/gtest.h>

#include <cstring>

#include "core/crc32c.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

struct Record {
  std::size_t at;
  std::uint8_t type;
  std::uint32_t len;
};

std::vector<Record> records(const Bytes& b) {
  std::vector<Record> out;
  std::size_t at = 10;
  while (at + 6 <= b.size()) {
    std::uint32_t len;
    std::memcpy(&len, b.data() + at + 2, 4);
    out.push_back({at, b[at], len});
    at += 6 + len + 4;
  }
  return out;
}

std::string label_of(const Bytes& b, const Record& r) {
  std::uint16_t n;
  std::memcpy(&n, b.data() + r.at + 6, 2);
  std::string name(reinterpret_cast<const char*>(b.data() + r.at + 8), n);
  std::uint32_t inst;
  std::memcpy(&inst, b.data() + r.at + 8 + n + 4, 4);
  return name + "/" + std::to_string(inst);
}

void fix_crc(Bytes& b, const Record& r, std::uint32_t len) {
  std::uint32_t crc = detail::crc32c(0, b.data() + r.at, 6 + len);
  std::memcpy(b.data() + r.at + 6 + len, &crc, 4);
}

TEST(FramedCorpus, EveryDamagedSectionOfEveryStreamIsCaughtAndNamed) {
  for (const auto& path : testing::corpus_files(".mig")) {
    SCOPED_TRACE(path.filename().string());
    auto tree = qemu::decode_qemu_stream(testing::read_bytes(path));
    ASSERT_TRUE(tree) << tree.error().to_string();
    auto framed = encode_framed(*tree);
    ASSERT_TRUE(framed);
    const Bytes& good = *framed;
    std::size_t sections = 0;
    for (const Record& r : records(good)) {
      if (r.type != 0x03) continue;
      ++sections;
      const std::string label = label_of(good, r);
      SCOPED_TRACE(label);
      // A flipped bit anywhere in the payload: CRC mismatch at the record, naming it
      // (the flip is past the name, so the name is still readable).
      Bytes flip = good;
      flip[r.at + 6 + r.len - 1] ^= 0x04;
      auto e1 = decode_framed(flip);
      ASSERT_FALSE(e1);
      EXPECT_EQ(e1.error().code, Errc::mismatch);
      EXPECT_EQ(e1.error().offset, r.at);
      EXPECT_EQ(e1.error().section, label);
      // A wrong CRC.
      Bytes crc = good;
      crc[r.at + 6 + r.len] ^= 0xff;
      auto e2 = decode_framed(crc);
      ASSERT_FALSE(e2);
      EXPECT_EQ(e2.error().code, Errc::mismatch);
      EXPECT_EQ(e2.error().offset, r.at);
      // The length one short, CRC recomputed: the section's body no longer fits.
      Bytes shorter = good;
      std::uint32_t len = r.len - 1;
      std::memcpy(shorter.data() + r.at + 2, &len, 4);
      fix_crc(shorter, r, len);
      auto e3 = decode_framed(shorter);
      ASSERT_FALSE(e3);
      // The whole file cut inside the section.
      auto e4 = decode_framed(ByteSpan(good.data(), r.at + 6 + r.len / 2));
      ASSERT_FALSE(e4);
      EXPECT_EQ(e4.error().code, Errc::truncated);
    }
    EXPECT_EQ(sections, tree->sections.size());
    // Unknown sections: every one refused (mandatory) by a destination that knows none.
    FramedDecodeOptions none;
    none.known_section = [](const Section&) { return false; };
    auto refused = decode_framed(good, none);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::unknown_section);
    EXPECT_EQ(refused.error().section, tree->sections[0].label());
    // Marked optional, all are skipped, memory chunks included, and END still adds up.
    FramedEncodeOptions opt;
    opt.optional_section = [](const Section&) { return true; };
    auto optional = encode_framed(*tree, opt);
    ASSERT_TRUE(optional);
    auto skipped = decode_framed(*optional, none);
    ASSERT_TRUE(skipped) << skipped.error().to_string();
    EXPECT_TRUE(skipped->stream.sections.empty());
    EXPECT_EQ(skipped->skipped.size(), tree->sections.size());
  }
}

}  // namespace
}  // namespace statewire
