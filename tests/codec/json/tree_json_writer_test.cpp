// TreeJsonWriter writes, a section at a time and RAM page by page, exactly
// the bytes to_json() writes for the whole tree, at every indentation.
#include <gtest/gtest.h>

#include <limits>

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

TEST(TreeJsonWriter, BulkElementsOfEveryKindMatchToJson) {
  // Elements the fast emitter writes without nlohmann: every value kind,
  // list layouts with kept markers, subsections, strings needing escapes.
  Struct elem;
  elem.members.push_back({"n", Value(Null{})});
  elem.members.push_back({"b", Value(true)});
  elem.members.push_back({"i", Value(std::int16_t{-5})});
  elem.members.push_back({"d", Value(0.1)});
  elem.members.push_back({"nan", Value(std::numeric_limits<double>::quiet_NaN())});
  elem.members.push_back({"s", Value(std::string("quote \" and \\ and \n and \xc3\xa9"))});
  elem.members.push_back({"blob", Value(Blob{{0x00, 0xab, 0xff}})});
  Array list;
  list.layout = ArrayLayout::gtree;
  list.items = {Value(std::uint8_t{1}), Value(std::uint8_t{2})};
  list.markers = {2, 3};
  elem.members.push_back({"tree", Value(list)});
  Array marked;
  marked.layout = ArrayLayout::marker_list;
  elem.members.push_back({"empty", Value(marked)});
  SubsectionState sub;
  sub.name = "dev/sub";
  sub.version_id = 2;
  sub.body.members.push_back({"x", Value(std::uint64_t{1} << 63)});
  elem.subsections.push_back(sub);

  Section bulk;
  bulk.name = "ram";
  bulk.kind = SectionKind::part;
  bulk.section_id = 3;
  Array items;
  items.items = {Value(elem), Value(std::uint32_t{7}), Value(elem)};
  bulk.body.members.push_back({"records", Value(items)});
  StateStream s;
  s.sections.push_back(bulk);
  for (int indent : {1, -1, 3}) {
    TreeJsonOptions opt;
    opt.indent = indent;
    CountingSink sink;
    TreeJsonWriter w(sink, opt);
    ASSERT_TRUE(w.begin_section(bulk));
    for (const Value& v : items.items) ASSERT_TRUE(w.bulk_item(v));
    ASSERT_TRUE(w.end_section());
    ASSERT_TRUE(w.finish(s.envelope));
    EXPECT_EQ(sink.text, to_json(s, opt)) << indent;
  }
}

}  // namespace
}  // namespace statewire
