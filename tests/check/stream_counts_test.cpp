// Array lengths from a stream where the old dump records none: QEMU 7.2's
// dump shows e1000e's `bool core.eitr_intr_pending[5]` (10.2:
// VMSTATE_UNUSED(5)) as one byte, so without a stream check can only call it
// a risk; the old build's own stream (its trailer lists 5 elements) settles
// it, and a stream showing another length makes it a break.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "statewire/check.hpp"
#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

const SchemaSet& dump(const std::string& rel) {
  static std::map<std::string, SchemaSet> cache;
  auto it = cache.find(rel);
  if (it == cache.end()) {
    auto s = load_schema_file((testing::corpus_dir().parent_path() / rel).string());
    EXPECT_TRUE(s) << s.error().to_string();
    it = cache.emplace(rel, s ? *s : SchemaSet{}).first;
  }
  return it->second;
}
const SchemaSet& old_dump() { return dump("qemu-7.2/vmstate-pc-i440fx-7.2.json"); }
// QEMU 10.2's dump for the same machine type.
const SchemaSet& new_dump() { return dump("qemu-10.2/vmstate-pc-i440fx-7.2.json"); }

const Finding* find(const CheckReport& r, std::string_view section, std::string_view rule,
                    std::string_view path = "core.eitr_intr_pending") {
  for (const auto& f : r.findings)
    if (f.section == section && f.rule == rule && f.path == path) return &f;
  return nullptr;
}

SentContent e1000e_sends(std::uint32_t eitr_count) {
  SentContent sent;
  sent.sections = {"e1000e", "0000:00:04.0/e1000e"};
  sent.counts["e1000e"]["core.eitr_intr_pending"] = eitr_count;
  return sent;
}

TEST(CheckStreamCounts, WithoutAStreamTheUnknownCountIsARisk) {
  CheckReport r = check_compat(old_dump(), new_dump());
  const Finding* f = find(r, "e1000e", "unused-size-unknown");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->forward, Verdict::risk);
  EXPECT_EQ(r.stream_counts, 0u);
}

TEST(CheckStreamCounts, StreamCountThatMakesTheBytesAgreeSettlesIt) {
  const SentContent sent = e1000e_sends(5);
  CheckOptions opt;
  opt.sent = &sent;
  CheckReport r = check_compat(old_dump(), new_dump(), opt);
  EXPECT_EQ(find(r, "e1000e", "unused-size-unknown"), nullptr);
  EXPECT_EQ(find(r, "e1000e", "unused-size-mismatch"), nullptr);
  const Finding* f = find(r, "e1000e", "field-replaced-by-unused");
  ASSERT_NE(f, nullptr);
  EXPECT_NE(f->explanation.find("(5 bytes)"), std::string::npos) << f->explanation;
  EXPECT_EQ(r.stream_counts, 1u);
}

TEST(CheckStreamCounts, StreamCountThatDisagreesIsABreak) {
  const SentContent sent = e1000e_sends(3);
  CheckOptions opt;
  opt.sent = &sent;
  CheckReport r = check_compat(old_dump(), new_dump(), opt);
  const Finding* f = find(r, "e1000e", "unused-size-mismatch");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->forward, Verdict::breaks);
  EXPECT_NE(f->explanation.find("3 bytes"), std::string::npos) << f->explanation;
}

TEST(CheckStreamCounts, InstancesThatDisagreeLeaveTheCountUnknown) {
  Struct a, b;
  Array five, three;
  five.items.assign(5, Value(false));
  three.items.assign(3, Value(false));
  a.members.push_back({"core.eitr_intr_pending", Value(five)});
  b.members.push_back({"core.eitr_intr_pending", Value(three)});
  SentContent sent;
  collect_counts(a, "e1000e", sent);
  EXPECT_EQ(sent.counts["e1000e"]["core.eitr_intr_pending"], 5u);
  collect_counts(b, "e1000e", sent);
  EXPECT_EQ(sent.counts["e1000e"]["core.eitr_intr_pending"], 0u);
  sent.sections = {"e1000e"};
  CheckOptions opt;
  opt.sent = &sent;
  CheckReport r = check_compat(old_dump(), new_dump(), opt);
  EXPECT_NE(find(r, "e1000e", "unused-size-unknown"), nullptr);
  EXPECT_EQ(r.stream_counts, 0u);
}

TEST(CheckStreamCounts, CountsReachNestedStructsAndSubsections) {
  Struct inner;
  Array four;
  four.items.assign(4, Value(std::uint8_t{0}));
  inner.members.push_back({"regs", Value(four)});
  Struct body;
  body.members.push_back({"state", Value(inner)});
  SubsectionState sub{"dev/extra", 1, {}};
  sub.body.members.push_back({"buf", Value(four)});
  body.subsections.push_back(sub);
  SentContent sent;
  collect_counts(body, "dev", sent);
  EXPECT_EQ(sent.counts["dev"]["state.regs"], 4u);
  EXPECT_EQ(sent.counts["dev"]["[dev/extra].buf"], 4u);
}

// The command on the real e1000e stream QEMU 7.2 wrote (tests/data/qemu-7.2-pending,
// made by scripts/make-test-corpus.sh), against QEMU 10.2's dump of the same machine type.
TEST(CheckStreamCounts, DevicesFromTheRealE1000eStreamTakesItsCounts) {
  const auto root = testing::corpus_dir().parent_path();
  const std::string args = " check '" + (root / "qemu-7.2/vmstate-pc-i440fx-7.2.json").string() +
                           "' '" + (root / "qemu-10.2/vmstate-pc-i440fx-7.2.json").string() + "'";
  const std::string stream = (root / "qemu-7.2-pending/i440fx-7.2-e1000e-paused.mig").string();
  auto with = testing::run(testing::cli() + args + " --devices-from '" + stream + "' --format json");
  auto j = nlohmann::json::parse(with.out.substr(0, with.out.rfind('}') + 1));
  EXPECT_GE(j["summary"]["stream_counts"].get<int>(), 1);
  bool replaced = false;
  for (const auto& f : j["findings"]) {
    if (f["section"] != "e1000e") continue;
    EXPECT_NE(f["rule"], "unused-size-unknown") << f.dump();
    replaced = replaced || (f["rule"] == "field-replaced-by-unused" && f["path"] == "core.eitr_intr_pending");
  }
  EXPECT_TRUE(replaced) << with.out;
  auto text = testing::run(testing::cli() + args + " --devices-from '" + stream + "'");
  EXPECT_NE(text.out.find("array length(s) the old dump does not record taken from the stream"),
            std::string::npos) << text.out;
  // Without the stream the same pair is a risk.
  auto without = testing::run(testing::cli() + args);
  EXPECT_NE(without.out.find("core.eitr_intr_pending  [unused-size-unknown]"), std::string::npos);
}

}  // namespace
}  // namespace statewire
