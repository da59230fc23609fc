#include "statewire/codec.hpp"

#include <gtest/gtest.h>

#include "statewire/capabilities.hpp"
#include "statewire/tree_diff.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

// For every real corpus stream: qemu -> framed -> json -> framed -> qemu gives
// the original bytes, with and without compression of the framed records.
TEST(CodecChain, EveryCorpusStreamSurvivesQemuFramedJsonFramedQemu) {
  auto streams = testing::corpus_files(".mig");
  ASSERT_FALSE(streams.empty());
  for (Compression c : {Compression::none, Compression::zstd, Compression::lz4}) {
    CodecOptions opt;
    opt.framed_encode.compression = c;
    opt.json.indent = -1;
    auto qemu = make_codec("qemu", opt);
    auto framed = make_codec("framed", opt);
    auto json = make_codec("json", opt);
    for (const auto& path : streams) {
      SCOPED_TRACE(path.filename().string() + " compression " + compression_name(c));
      Bytes original = testing::read_bytes(path);
      ASSERT_EQ(detect_codec(original), "qemu");
      auto tree = qemu->decode(original);
      ASSERT_TRUE(tree) << tree.error().to_string();
      auto f1 = framed->encode(*tree);
      ASSERT_TRUE(f1) << f1.error().to_string();
      ASSERT_EQ(detect_codec(*f1), "framed");
      auto t1 = framed->decode(*f1);
      ASSERT_TRUE(t1) << t1.error().to_string();
      auto j = json->encode(*t1);
      ASSERT_TRUE(j);
      ASSERT_EQ(detect_codec(*j), "json");
      auto t2 = json->decode(*j);
      ASSERT_TRUE(t2) << t2.error().to_string();
      auto f2 = framed->encode(*t2);
      ASSERT_TRUE(f2);
      EXPECT_EQ(*f2, *f1);
      auto t3 = framed->decode(*f2);
      ASSERT_TRUE(t3);
      auto back = qemu->encode(*t3);
      ASSERT_TRUE(back) << back.error().to_string();
      EXPECT_TRUE(*back == original) << "re-encoded " << back->size() << " bytes of "
                                     << original.size();
      if (c == Compression::none) {
        EXPECT_TRUE(diff(*t3, *tree).empty());
      }
    }
  }
}

TEST(CodecChain, UnknownCodecNameAndUnknownBytes) {
  EXPECT_EQ(make_codec("xml"), nullptr);
  Bytes junk = {0x00, 0x01};
  EXPECT_FALSE(detect_codec(junk).has_value());
  EXPECT_EQ(codec_names().size(), 3u);
}

}  // namespace
}  // namespace statewire
