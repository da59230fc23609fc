// Regions: registration checks and the layout the handshake compares.
#include <gtest/gtest.h>

#include "memory/memory_test_util.hpp"
#include "statewire/memory_region.hpp"

namespace statewire {
namespace {

using testing::PageBuffer;

TEST(RegionSet, RefusesBadRegistrations) {
  PageBuffer b(64 * 1024);
  RegionSet s;
  ASSERT_TRUE(s.add({"ram", b.data(), b.size(), 4096}));
  EXPECT_EQ(s.add({"ram", b.data(), 4096, 4096}).error().code, Errc::invalid_value);  // twice
  EXPECT_FALSE(s.add({"", b.data(), 4096, 4096}));
  EXPECT_FALSE(s.add({"null", nullptr, 4096, 4096}));
  EXPECT_FALSE(s.add({"odd", b.data(), 4000, 4096}));
  EXPECT_FALSE(s.add({"zero", b.data(), 0, 4096}));
  EXPECT_FALSE(s.add({"page", b.data(), 6000, 3000}));
  auto id = s.add({"vram", b.data(), 8192, 8192});
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, 1u);
  EXPECT_EQ(*s.find("vram"), 1u);
  EXPECT_EQ(s.find("nope").error().code, Errc::not_found);
  EXPECT_EQ(s.total_bytes(), 64 * 1024 + 8192u);
  EXPECT_EQ(s.total_pages(), 16u + 1u);
}

TEST(RegionLayout, RoundTripsAndReportsEveryDifference) {
  std::vector<RegionLayout> ours{{"ram", 1 << 20, 4096}, {"vram", 1 << 16, 4096}, {"rom", 4096, 4096}};
  auto bytes = encode_layout(ours);
  auto back = decode_layout(bytes);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, ours);
  EXPECT_TRUE(check_layout(ours, *back));

  std::vector<RegionLayout> theirs{{"ram", 2 << 20, 4096}, {"vram", 1 << 16, 8192}, {"extra", 4096, 4096}};
  auto r = check_layout(ours, theirs);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  for (const char* part : {"'ram' is 1048576 bytes here and 2097152", "'vram' has 4096-byte pages",
                           "'rom' (4096 bytes) is missing", "'extra' (4096 bytes) that is not registered"})
    EXPECT_NE(r.error().message.find(part), std::string::npos) << r.error().message;
}

TEST(RegionLayout, DecodingEveryPrefixFailsCleanly) {
  std::vector<RegionLayout> ours{{"ram", 1 << 20, 4096}, {"vram", 1 << 16, 4096}};
  auto bytes = encode_layout(ours);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto r = decode_layout(ByteSpan(bytes.data(), n));
    EXPECT_FALSE(r) << n;
  }
  bytes.push_back(0);
  EXPECT_EQ(decode_layout(bytes).error().code, Errc::invalid_value);
  // A count the bytes cannot hold is refused before anything is reserved.
  std::vector<std::uint8_t> huge{0xff, 0xff, 0, 1, 'a'};
  EXPECT_EQ(decode_layout(huge).error().code, Errc::truncated);
}

}  // namespace
}  // namespace statewire
