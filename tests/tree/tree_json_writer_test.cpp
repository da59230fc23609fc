// TreeJsonWriter writes, a section at a time and RAM page by page, exactly
// the bytes to_json() writes for the whole tree, at every indentation.
#include <gtest/gtest.h>

#include "statewire/byte_source.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

using statewire::testing::corpus_files;
using statewire::testing::read_bytes;

struct CountingSink final : ByteSink {
  std::string text;
  std::size_t writes = 0;
  Result<void> write(ByteSpan b) override {
    text.append(reinterpret_cast<const char*>(b.data()), b.size());
    ++writes;
    return {};
  }
};

TEST(TreeJsonWriter, SectionBySectionGivesToJsonBytesForEveryCorpusStream) {
  auto files = corpus_files(".mig");
  ASSERT_GE(files.size(), 8u);
  for (const auto& f : files) {
    auto tree = qemu::decode_qemu_stream(read_bytes(f));
    ASSERT_TRUE(tree) << tree.error().to_string();
    for (int indent : {1, -1, 2}) {
      SCOPED_TRACE(f.filename().string() + " indent " + std::to_string(indent));
      TreeJsonOptions opt;
      opt.indent = indent;
      CountingSink sink;
      TreeJsonWriter w(sink, opt);
      std::size_t bulk = 0;
      for (const Section& s : tree->sections) {
        const Value* recs = s.body.find(qemu::keys::kRamRecords);
        if (s.name == "ram" && recs) {
          ASSERT_TRUE(w.begin_section(s));
          for (const Value& r : recs->get_if<Array>()->items) {
            ASSERT_TRUE(w.bulk_item(r));
            ++bulk;
          }
          ASSERT_TRUE(w.end_section());
        } else {
          ASSERT_TRUE(w.section(s));
        }
      }
      ASSERT_TRUE(w.finish(tree->envelope));
      EXPECT_GT(bulk, 10u);
      const std::string whole = to_json(*tree, opt);
      ASSERT_EQ(sink.text.size(), whole.size());
      EXPECT_TRUE(sink.text == whole);
      if (whole.size() > (4u << 20)) {
        EXPECT_GT(sink.writes, 2u);
      }
    }
  }
}

TEST(TreeJsonWriter, EmptyStreamAndSectionWithoutItemsMatchToo) {
  StateStream s;
  CountingSink a;
  TreeJsonWriter w(a);
  ASSERT_TRUE(w.finish(s.envelope));
  EXPECT_EQ(a.text, to_json(s));

  Section ram;
  ram.name = "ram";
  ram.body.members.push_back({"records", Value(Array{})});
  s.sections.push_back(ram);
  s.envelope.members.push_back({"format", Value(std::string("x"))});
  CountingSink b;
  TreeJsonWriter w2(b);
  ASSERT_TRUE(w2.begin_section(ram));
  ASSERT_TRUE(w2.end_section());
  ASSERT_TRUE(w2.finish(s.envelope));
  EXPECT_EQ(b.text, to_json(s));
}

}  // namespace
}  // namespace statewire
