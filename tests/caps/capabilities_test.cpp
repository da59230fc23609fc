#include "statewire/capabilities.hpp"

#include <gtest/gtest.h>

#include "test_util.hpp"

namespace statewire {
namespace {

TEST(Capabilities, PeerThatAnswersNothingMeansLegacyQemuCodec) {
  auto none = capabilities_from_json("null");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  SessionSettings s = apply(intersect(supported_capabilities(), *none));
  EXPECT_EQ(s, SessionSettings{});
  EXPECT_EQ(s.codec, "qemu");
  EXPECT_FALSE(s.checksums);
}

TEST(Capabilities, IntersectionKeepsOnlyWhatBothHaveAndWeKnow) {
  CapabilitySet src = parse_capability_list("codec.framed, compress.zstd, checksum.crc32c, x-future");
  CapabilitySet dst = parse_capability_list("codec.framed,compress.lz4,checksum.crc32c,x-future");
  CapabilitySet agreed = intersect(src, dst);
  EXPECT_EQ(agreed.names(), (std::vector<std::string>{"checksum.crc32c", "codec.framed"}));
  SessionSettings s = apply(agreed);
  EXPECT_EQ(s.codec, "framed");
  EXPECT_TRUE(s.checksums);
  EXPECT_EQ(s.compression, Compression::none);
}

TEST(Capabilities, CompressionNeedsTheFramedCodecAndPrefersZstd) {
  EXPECT_EQ(apply(parse_capability_list("compress.zstd")).compression, Compression::none);
  EXPECT_EQ(apply(parse_capability_list("codec.framed,compress.lz4")).compression, Compression::lz4);
  EXPECT_EQ(apply(parse_capability_list("codec.framed,compress.lz4,compress.zstd")).compression,
            Compression::zstd);
}

TEST(Capabilities, ThisBuildListsOnlyWhatItSupports) {
  CapabilitySet mine = supported_capabilities();
  EXPECT_TRUE(mine.contains("codec.qemu"));
  EXPECT_TRUE(mine.contains("codec.framed"));
  // Live sessions (session.hpp) use both.
  EXPECT_TRUE(mine.contains("multi-channel"));
  EXPECT_TRUE(mine.contains("return-path"));
  EXPECT_FALSE(mine.contains("codec.from-the-future"));
}

TEST(Capabilities, JsonRoundTripAndErrors) {
  CapabilitySet s = parse_capability_list("b,a,a");
  EXPECT_EQ(s.names(), (std::vector<std::string>{"a", "b"}));
  auto back = capabilities_from_json(to_json(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  auto bad = capabilities_from_json(R"({"capabilities": ["a", 3]})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field_path, "capabilities[1]");
  EXPECT_FALSE(capabilities_from_json("[1"));
  EXPECT_TRUE(parse_capability_list("none").empty());
}

TEST(CapsCli, IntersectsTwoPeersAndShowsTheSettings) {
  auto r = testing::run(testing::cli() +
                        " caps --intersect codec.framed,compress.zstd,checksum.crc32c"
                        " codec.framed,compress.zstd --format json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"codec\": \"framed\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"compression\": \"zstd\""), std::string::npos) << r.out;
  auto legacy = testing::run(testing::cli() + " caps --intersect codec.framed none");
  ASSERT_EQ(legacy.exit_code, 0) << legacy.out;
  EXPECT_NE(legacy.out.find("codec: qemu"), std::string::npos) << legacy.out;
  auto list = testing::run(testing::cli() + " caps");
  EXPECT_EQ(list.exit_code, 0);
  EXPECT_NE(list.out.find("codec.framed"), std::string::npos);
}

}  // namespace
}  // namespace statewire
