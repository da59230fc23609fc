// Class 1 of issue 18: names that are not valid UTF-8, and names that would
// reach a terminal raw. JSON keeps them losslessly (hex), terminals get them
// escaped.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "hostile/craft.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/text.hpp"
#include "statewire/tree_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

StateStream stream_with_bad_names() {
  StateStream s;
  Struct body;
  body.members.push_back({"ok", std::uint8_t{1}});
  body.members.push_back({std::string("\xc3(", 2), std::uint16_t{2}});
  body.members.push_back({"text", std::string("\x80\x1b[31m", 6)});
  body.members.push_back({"fine", std::string("caf\xc3\xa9")});
  Struct inner;
  inner.members.push_back({std::string("x\xff"), std::uint32_t{3}});
  body.subsections.push_back({std::string("dev/\xfe"), 1, inner});
  s.sections.push_back({SectionKind::full, 0, std::string("se\xffrial"), 0, 1, body});
  return s;
}

TEST(HostileNames, TreeJsonKeepsNamesThatAreNotUtf8ByteForByte) {
  const StateStream s = stream_with_bad_names();
  const std::string text = to_json(s);
  EXPECT_TRUE(is_valid_utf8(text));
  EXPECT_NE(text.find("\"name_hex\""), std::string::npos);
  EXPECT_NE(text.find("\"n_hex\""), std::string::npos);
  EXPECT_NE(text.find("\"hex\""), std::string::npos);
  // Valid UTF-8 stays readable text.
  EXPECT_NE(text.find("caf\xc3\xa9"), std::string::npos);
  auto back = stream_from_json(text);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, s);
  // The one-line form too.
  auto compact = stream_from_json(to_json(s, TreeJsonOptions{-1}));
  ASSERT_TRUE(compact);
  EXPECT_EQ(*compact, s);
}

TEST(HostileNames, WriterMatchesNlohmannLayoutForValidNames) {
  // The writer has no DOM; its text must be what nlohmann's dump gave before.
  StateStream s = stream_with_bad_names();
  s.sections[0].name = "serial";
  s.sections[0].body.members[1].name = "plain";
  s.sections[0].body.members[2].value = std::string("tab\there \"quoted\" \x01");
  s.sections[0].body.members.push_back({"d", 1.5});
  s.sections[0].body.members.push_back({"e", Array{}});
  s.sections[0].body.subsections[0].name = "dev/sub";
  s.sections[0].body.subsections[0].body.members[0].name = "x";
  s.envelope.members.push_back({"format", std::string("qemu-savevm")});
  for (int indent : {-1, 0, 1, 2}) {
    const std::string text = to_json(s, TreeJsonOptions{indent});
    auto parsed = nlohmann::ordered_json::parse(text);
    EXPECT_EQ(parsed.dump(indent) + "\n", text) << "indent " << indent;
  }
}

// A real stream whose machine type name took one bad byte (the crash was in
// `convert --to json`): every path keeps the byte.
TEST(HostileNames, CorpusStreamWithAByteFlippedInTheMachineNameConvertsLosslessly) {
  Bytes b = testing::read_bytes(testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig");
  const std::string machine = "pc-i440fx-7.2";
  auto it = std::search(b.begin(), b.begin() + 64, machine.begin(), machine.end());
  ASSERT_NE(it, b.begin() + 64);
  it[2] = 0xff;
  auto tree = qemu::decode_qemu_stream(b);
  ASSERT_TRUE(tree) << tree.error().to_string();
  const std::string text = to_json(*tree);
  EXPECT_TRUE(is_valid_utf8(text));
  auto back = stream_from_json(text);
  ASSERT_TRUE(back) << back.error().to_string();
  auto again = qemu::encode_qemu_stream(*back);
  ASSERT_TRUE(again);
  EXPECT_TRUE(*again == b);

  testing::TempDir dir;
  const auto in = dir.path / "flipped.mig";
  { std::ofstream(in, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size())); }
  const std::string q = "'" + in.string() + "'";
  const std::string d = dir.path.string();
  auto r = testing::run(testing::cli() + " convert " + q + " " + d + "/f.json --to json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = testing::run(testing::cli() + " convert " + d + "/f.json " + d + "/f.swf --to framed");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  r = testing::run(testing::cli() + " convert " + d + "/f.swf " + d + "/back.mig --to qemu");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(testing::read_bytes(dir.path / "back.mig") == b);
  r = testing::run(testing::cli() + " analyze " + d + "/f.swf --format json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(is_valid_utf8(r.out));
  EXPECT_TRUE(nlohmann::json::accept(r.out)) << r.out;
}

TEST(HostileNames, PrintableEscapesControlBytesAndInvalidUtf8) {
  EXPECT_EQ(printable("serial"), "serial");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(printable(std::string("a\x1b[31m\nb\xff\x7f", 10)), "a\\x1b[31m\\x0ab\\xff\\x7f");
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));                  // overlong '/'
  Error e = make_error(Errc::invalid_value, "block '\x1b]0;x\x07' unknown");
  e.section = "ram\n/0";
  EXPECT_EQ(e.to_string().find('\x1b'), std::string::npos);
  EXPECT_EQ(e.to_string().find('\n'), std::string::npos);
}

TEST(HostileNames, AnalyzeEscapesNamesForTheTerminal) {
  StateStream s;
  Struct body;
  body.members.push_back({"x", std::uint8_t{1}});
  s.sections.push_back({SectionKind::full, 0, "evil\x1b]0;title\x07\nline", 0, 1, body});
  FramedEncodeOptions enc;
  enc.header.machine_type = "pc\x1b[2J";
  auto bytes = encode_framed(s, enc);
  ASSERT_TRUE(bytes);
  testing::TempDir dir;
  const auto p = dir.path / "evil.swf";
  { std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes->data()), static_cast<std::streamsize>(bytes->size())); }
  for (const char* format : {"text", "json"}) {
    auto r = testing::run(testing::cli() + " analyze " + p.string() + " --format " + format);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << format;
    EXPECT_EQ(r.out.find('\x07'), std::string::npos) << format;
    const std::string shown = std::string(format) == "text"
                                  ? r.out
                                  : nlohmann::json::parse(r.out)["sections"][0]["section"].get<std::string>();
    EXPECT_NE(shown.find("evil\\x1b]0;title\\x07\\x0aline"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace statewire
