// Rules files' stream operations (rename-section, machine-type): parsed,
// written back, refused with the JSON path (or line and column) when
// malformed, and applied the same by `convert --rules` and `proxy --rules`
// (byte for byte) on the real QEMU 7.2 corpus.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/rules_file.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

TEST(StreamRules, ParseWithTransformsAndWriteBackTheSame) {
  auto r = parse_rules_json(R"({"statewire_rules": 1,
    "stream": [{"op": "rename-section", "from": "0000:00:05.0/pci-serial",
                "to": "0000:00:06.0/pci-serial"},
               {"op": "machine-type", "to": "pc-i440fx-7.2"},
               {"op": "rename-section", "from": "timer", "to": "timer-moved"}],
    "transforms": [{"section": "hpet", "from": 2, "to": 2, "ops": [{"op": "drop", "path": "x"}]}]})");
  ASSERT_TRUE(r) << r.error().to_string();
  const StreamRewrites& s = r->stream();
  ASSERT_EQ(s.renames.size(), 2u);
  EXPECT_EQ(s.renames[0], (std::pair<std::string, std::string>{"0000:00:05.0/pci-serial",
                                                                "0000:00:06.0/pci-serial"}));
  EXPECT_EQ(s.renames[1].second, "timer-moved");
  EXPECT_EQ(s.machine_type, "pc-i440fx-7.2");
  EXPECT_EQ(r->all().size(), 1u);
  const std::string text = rules_to_json(*r);
  auto again = parse_rules_json(text);
  ASSERT_TRUE(again) << again.error().to_string() << "\n" << text;
  EXPECT_EQ(again->stream().renames, s.renames);
  EXPECT_EQ(again->stream().machine_type, s.machine_type);
  EXPECT_EQ(rules_to_json(*again), text);
  // A file without stream operations is written as before, without "stream".
  auto plain = parse_rules_json(R"({"statewire_rules": 1, "transforms": []})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(rules_to_json(*plain).find("stream"), std::string::npos);
}

TEST(StreamRules, AFileMayHoldStreamOperationsOnly) {
  auto r = parse_rules_json(R"({"statewire_rules": 1, "stream": [{"op": "machine-type", "to": "q35"}]})");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->empty());  // no body transforms
  EXPECT_EQ(r->stream().machine_type, "q35");
  // Later files add renames; the machine type of the last one that names one stands.
  TransformSet all;
  all.add_all(*r);
  auto more = parse_rules_json(R"({"statewire_rules": 1, "stream": [{"op": "rename-section",
      "from": "a", "to": "b"}]})");
  ASSERT_TRUE(more);
  all.add_all(*more);
  EXPECT_EQ(all.stream().machine_type, "q35");
  EXPECT_EQ(all.stream().renames.size(), 1u);
}

TEST(StreamRules, MalformedStreamOperationsNameWhere) {
  const std::string long_id(256, 'x');
  struct Case {
    std::string json, path, says;
  };
  const Case cases[] = {
      {R"("stream": {"op": "machine-type"})", "$.stream", "expected an array"},
      {R"("stream": [7])", "$.stream[0]", "operation object"},
      {R"("stream": [{"to": "x"}])", "$.stream[0]", "missing \"op\""},
      {R"("stream": [{"op": "teleport"}])", "$.stream[0].op", "unknown stream operation"},
      {R"("stream": [{"op": "rename-section", "to": "b"}])", "$.stream[0]", "missing \"from\""},
      {R"("stream": [{"op": "rename-section", "from": "a", "to": ""}])", "$.stream[0].to",
       "1 to 255 bytes"},
      {R"("stream": [{"op": "rename-section", "from": "a", "to": ")" + long_id + "\"}]",
       "$.stream[0].to", "not 256"},
      {R"("stream": [{"op": "rename-section", "from": "a", "to": 5}])", "$.stream[0].to",
       "expected a string"},
      {R"("stream": [{"op": "rename-section", "from": "a", "to": "b"},
                     {"op": "rename-section", "from": "a", "to": "c"}])",
       "$.stream[1].from", "already renamed"},
      {R"("stream": [{"op": "rename-section", "from": "a", "to": "c"},
                     {"op": "rename-section", "from": "b", "to": "c"}])",
       "$.stream[1].to", "already the new name"},
      {R"("stream": [{"op": "machine-type", "to": "a"}, {"op": "machine-type", "to": "b"}])",
       "$.stream[1]", "already set"},
      {R"("stream": [{"op": "machine-type"}])", "$.stream[0]", "missing \"to\""},
      {R"("stream": [{"op": "machine-type", "to": ""}])", "$.stream[0].to", "1 to 255 bytes"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    auto r = parse_rules_json(R"({"statewire_rules": 1, )" + c.json + "}");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::schema_invalid);
    EXPECT_EQ(r.error().field_path, c.path);
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
  }
  // A syntax error names the line and column.
  auto r = parse_rules_json("{\"statewire_rules\": 1,\n  \"stream\": [{\"op\": }]}");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("line 2, column"), std::string::npos) << r.error().message;
}

TEST(StreamRules, TrailerEntriesRenamedNotFieldsOfTheSameName) {
  // QEMU's layout; a field of another device is called "timer" too.
  const std::string json =
      R"({"page_size": 4096, "devices": [{"name": "timer", "instance_id": 0, "vmsd_name": )"
      R"("timer", "version": 2, "fields": [{"name": "cpu_ticks_offset", "type": "int64", )"
      R"("size": 8}]}, {"name": "pit", "instance_id": 0, "vmsd_name": "pit", "version": 2, )"
      R"("fields": [{"name": "timer", "type": "uint64", "size": 8}]}]})";
  auto out = rename_trailer_entries(json, {{"timer", "timer-moved"}});
  ASSERT_TRUE(out) << out.error().to_string();
  std::string want = json;
  want.replace(want.find("\"timer\""), 7, "\"timer-moved\"");
  EXPECT_EQ(*out, want);
  EXPECT_FALSE(rename_trailer_entries("{\"devices\": 3}", {{"a", "b"}}));
  EXPECT_FALSE(rename_trailer_entries("{\"devices\": [", {{"a", "b"}}));
}

TEST(StreamRules, MachineTypeNeedsAConfigurationRecord) {
  StateStream s;
  StreamRewrites rw;
  rw.machine_type = "pc-i440fx-7.2";
  auto r = apply_stream_rewrites(rw, s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no configuration record"), std::string::npos);
}

// `convert --rules` and `proxy --rules` (on pipes) rewrite the same stream
// into the same bytes; bodies and RAM are untouched.
TEST(StreamRules, ConvertAndProxyApplyThemTheSame) {
  testing::TempDir dir;
  const auto rules = dir.path / "r.json";
  std::ofstream(rules) << R"({"statewire_rules": 1, "stream": [
      {"op": "rename-section", "from": "timer", "to": "timer-moved"},
      {"op": "machine-type", "to": "pc-i440fx-7.2"}]})";
  const auto in = testing::corpus_dir() / "i440fx-4.2-virtio-running2s.mig";
  const auto converted = dir.path / "c.mig", proxied = dir.path / "p.mig";
  auto r = testing::run(testing::cli() + " convert '" + in.string() + "' '" + converted.string() +
                        "' --to qemu --rules '" + rules.string() + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = testing::run("(" + testing::cli() + " proxy --listen - --to - --quiet --rules '" +
                   rules.string() + "' < '" + in.string() + "' > '" + proxied.string() + "')");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const Bytes c = testing::read_bytes(converted), p = testing::read_bytes(proxied);
  EXPECT_EQ(c, p);
  auto out = qemu::decode_qemu_stream(c);
  ASSERT_TRUE(out) << out.error().to_string();
  auto orig = qemu::decode_qemu_stream(testing::read_bytes(in));
  ASSERT_TRUE(orig);
  ASSERT_EQ(out->sections.size(), orig->sections.size());
  int renamed = 0;
  for (std::size_t i = 0; i < out->sections.size(); ++i) {
    renamed += out->sections[i].name == "timer-moved";
    EXPECT_NE(out->sections[i].name, "timer");
    EXPECT_EQ(out->sections[i].body, orig->sections[i].body);
  }
  EXPECT_EQ(renamed, 1);
  const std::string head(c.begin() + 13, c.begin() + 26);
  EXPECT_EQ(head, "pc-i440fx-7.2");
  const std::string trailer = std::get<std::string>(out->envelope.find(qemu::keys::kTrailer)->v);
  EXPECT_NE(trailer.find("\"name\": \"timer-moved\""), std::string::npos);
  // Two rules files that disagree are refused before anything is read.
  const auto other = dir.path / "o.json";
  std::ofstream(other) << R"({"statewire_rules": 1, "stream": [{"op": "machine-type", "to": "q35"}]})";
  r = testing::run(testing::cli() + " convert '" + in.string() + "' '" + (dir.path / "x").string() +
                   "' --to qemu --rules '" + rules.string() + "' --rules '" + other.string() + "'");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("machine type"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire
