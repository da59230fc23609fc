// Classes 3, 5 and 7 of issue 18: what a decode builds is charged to one
// memory budget that follows the input read (limits.hpp), so zero-width
// elements, names shared by many members and streams of tiny records cannot
// make memory or time run away from the input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "hostile/craft.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"
#include "statewire/vmstate_body.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

TEST(HostileBudget, BudgetGrowsWithInputAndRefusesPastIt) {
  Limits l;
  l.memory_floor = 100;
  l.memory_per_input_byte = 2;
  Budget b(l, 10);
  EXPECT_EQ(b.allowance(), 120u);
  EXPECT_TRUE(b.charge(100, 0, "x"));
  auto r = b.charge(21, 7, "a thing");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_EQ(r.error().offset, 7u);
  b.grant_input(10);
  EXPECT_TRUE(b.charge(21, 7, "a thing"));
  l.memory_cap = 50;
  Budget capped(l, 1000);
  EXPECT_EQ(capped.allowance(), 50u);
  Budget huge(Limits{}, ~std::uint64_t(0) / 2);  // saturates, does not wrap
  EXPECT_EQ(huge.allowance(), ~std::uint64_t(0));
}

// Class 3: elements that take no bytes on the wire pass the "are the bytes
// there" check at any count; the budget pays for each element's node.
TEST(HostileBudget, ZeroWidthElementsTimesAHugeCountAreRefusedAtOnce) {
  Description d;
  d.name = "dev";
  d.version_id = 1;
  Field f;
  f.name = "nothing";
  f.kind = FieldKind::buffer;
  f.size = 0;
  f.count = Count::fixed(1u << 24);
  d.fields = std::vector<Field>{f};
  Bytes four(4, 0);
  Cursor cur(four);
  auto r = decode_body(d, cur, 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_EQ(r.error().field_path, "nothing");

  // Nested: each of a million empty structs holds another million.
  auto inner = std::make_shared<Description>();
  inner->name = "inner";
  inner->version_id = 1;
  Field g = f;
  g.count = Count::fixed(1u << 20);
  inner->fields = std::vector<Field>{g};
  Description outer;
  outer.name = "outer";
  outer.version_id = 1;
  Field h;
  h.name = "structs";
  h.kind = FieldKind::structure;
  h.nested = inner;
  h.count = Count::fixed(1u << 20);
  outer.fields = std::vector<Field>{h};
  Cursor c2(four);
  auto r2 = decode_body(outer, c2, 1);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::limit_exceeded);
}

// The same through a real stream: a trailer entry given a zero-width field of
// 2^24 elements. The reading is refused by the budget and the section is kept
// as bytes, so the stream still converts to exactly itself.
TEST(HostileBudget, TrailerWithZeroWidthFieldDoesNotBlowUp) {
  Bytes b = testing::read_bytes(testing::corpus_dir() / "isapc-ne2k-paused.mig");
  auto plain = qemu::decode_qemu_stream(b);
  ASSERT_TRUE(plain);
  const std::string* trailer = plain->envelope.find(qemu::keys::kTrailer)->get_if<std::string>();
  ASSERT_NE(trailer, nullptr);
  const std::size_t at = b.size() - trailer->size() - 5;
  auto j = nlohmann::ordered_json::parse(*trailer);
  std::string victim;
  for (auto& dev : j["devices"]) {
    if (dev.contains("fields") && dev["name"] == "serial") {
      dev["fields"].push_back({{"name", "hostile"}, {"type", "buffer"}, {"size", 0},
                               {"array_len", 1u << 24}});
      victim = dev["name"];
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  const std::string text = j.dump();
  Bytes crafted(b.begin(), b.begin() + static_cast<long>(at) + 1);
  for (int i = 3; i >= 0; --i) crafted.push_back(static_cast<std::uint8_t>(text.size() >> (8 * i)));
  crafted.insert(crafted.end(), text.begin(), text.end());

  const std::uint64_t rss_before = testing::peak_rss();
  auto tree = qemu::decode_qemu_stream(crafted);
  ASSERT_TRUE(tree) << tree.error().to_string();
  EXPECT_LT(testing::peak_rss() - rss_before, 256ull << 20);
  bool found = false;
  for (const auto& s : tree->sections) {
    if (s.name != victim) continue;
    found = true;
    EXPECT_NE(s.body.find(qemu::keys::kOpaque), nullptr) << "the refused reading must not be kept";
  }
  EXPECT_TRUE(found);
  auto again = qemu::encode_qemu_stream(*tree);
  ASSERT_TRUE(again);
  EXPECT_TRUE(*again == crafted);
}

// Class 5: one 64 KiB name shared by 20,000 members (about 265 KB of input)
// would be copied into each member (1.3 GB).
TEST(HostileBudget, FramedNameSharedByManyMembersIsChargedPerCopy) {
  testing::FramedBuilder f;
  f.header();
  testing::LeWriter names;
  names.u32(0);
  names.u32(1);
  names.str(std::string(65535, 'n'));
  f.record(0x02, 0x01, names.b);
  testing::LeWriter sec;
  sec.str("dev");
  sec.u32(0);  // sequence
  sec.u32(0);  // instance
  sec.u32(1);  // version
  sec.u8(0);   // full
  sec.u32(0);  // section id
  sec.u64(0);  // fingerprint
  const std::uint32_t n = 20000;
  sec.u32(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    sec.u32(0);  // name index 0
    sec.u8(static_cast<std::uint8_t>(ValueKind::u8));
    sec.u32(1);
    sec.u8(7);
  }
  sec.u32(0);  // no subsections
  f.record(0x03, 0x01, sec.b);
  f.end(1);
  const std::uint64_t rss_before = testing::peak_rss();
  auto r = decode_framed(f.w.b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_EQ(r.error().section, "dev/0");
  EXPECT_TRUE(r.error().offset.has_value());
  EXPECT_LT(testing::peak_rss() - rss_before, 256ull << 20);

  // The same file with a short name decodes: the rule is the bytes per copy.
  testing::FramedBuilder ok;
  ok.header();
  testing::LeWriter short_names;
  short_names.u32(0);
  short_names.u32(1);
  short_names.str("n");
  ok.record(0x02, 0x01, short_names.b);
  ok.record(0x03, 0x01, sec.b);
  ok.end(1);
  auto decoded = decode_framed(ok.w.b);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(decoded->stream.sections.at(0).body.members.size(), n);
}

// Class 7: a stream of nothing but zero pages (9 bytes each) is the tree's
// worst case per input byte; it is charged like everything else.
Bytes zero_page_stream(std::uint32_t pages, bool in_part = false) {
  return testing::qemu_ram_stream(std::uint64_t(pages) * 4096, [&](testing::BeWriter& w) {
    for (std::uint32_t i = 0; i < pages; ++i) {
      w.u64(std::uint64_t(i) * 4096 | 0x02 | (i ? 0x20 : 0));  // ZERO, CONTINUE after the first
      if (!i) w.counted("pc.ram");
      w.u8(0);
    }
  }, in_part);
}

TEST(HostileBudget, ZeroPageRecordsAreChargedAndNamedWhenOverBudget) {
  const Bytes b = zero_page_stream(100000);
  auto ok = qemu::decode_qemu_stream(b);
  ASSERT_TRUE(ok) << ok.error().to_string();
  auto again = qemu::encode_qemu_stream(*ok);
  ASSERT_TRUE(again);
  EXPECT_TRUE(*again == b);

  qemu::QemuDecodeOptions tight;
  tight.limits.memory_floor = 1 << 20;
  tight.limits.memory_per_input_byte = 4;
  auto r = qemu::decode_qemu_stream(b, tight);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_EQ(r.error().section, "ram/0");
  ASSERT_TRUE(r.error().offset);
  EXPECT_LT(*r.error().offset, b.size());
}

// The CLI converts a million zero pages (an idle 4 GiB guest, 9 MB of
// stream) within a fixed memory cap, to JSON and to framed, and back. The
// pages are in a PART section, as QEMU writes them: the section-at-a-time
// converter holds pages of the first section only up to a bound (it needs
// the footer setting before writing) and refuses a million of them there.
TEST(HostileBudget, MillionZeroPagesConvertWithinAMemoryCap) {
  const Bytes b = zero_page_stream(1000000, /*in_part=*/true);
  testing::TempDir dir;
  const auto in = dir.path / "zero.mig";
  { std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size())); }
  const std::string d = dir.path.string();
  const std::string cap = testing::memory_cap_prefix(1536);
  auto r = testing::run(cap + testing::cli() + " convert " + in.string() + " " + d + "/z.json --to json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = testing::run(cap + testing::cli() + " convert " + in.string() + " " + d + "/z.swf --to framed");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = testing::run(cap + testing::cli() + " convert " + d + "/z.swf " + d + "/back.mig --to qemu");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(testing::read_bytes(dir.path / "back.mig") == b);
}

}  // namespace
}  // namespace statewire
