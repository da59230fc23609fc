// The state JSON's layouts on QEMU 10.2-style trailers (the last element of
// an array of structs has no "index"): the default loses nothing and never
// repeats a key; qemu-10.2 gathers elements as that version's script does;
// qemu-7.2 reproduces the older script, which keeps only the last element.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "codec/qemu/qemu_10_2_style.hpp"
#include "statewire/qemu_analyze.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

using statewire::testing::corpus_files;
using statewire::testing::read_bytes;

// Counts keys an object holds more than once (a plain parse keeps only the last).
struct DuplicateKeys : nlohmann::json_sax<nlohmann::json> {
  std::vector<std::set<std::string>> objects;
  std::vector<std::string> found;
  std::string path;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    objects.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    if (!objects.back().insert(k).second) found.push_back(k);
    return true;
  }
  bool end_object() override {
    objects.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    found.push_back("<parse error>");
    return false;
  }
};

std::vector<std::string> duplicate_keys(const std::string& text) {
  DuplicateKeys sax;
  nlohmann::json::sax_parse(text, &sax);
  return sax.found;
}

std::string state_json(const std::vector<std::uint8_t>& in, StateLayout layout) {
  AnalyzeOptions opt;
  opt.state_json = true;
  opt.layout = layout;
  auto r = analyze_qemu_stream(in, opt);
  EXPECT_TRUE(r) << r.error().to_string();
  return r ? r->state_json : std::string();
}

// Streams with a trailer, and their 10.2-style copies.
struct Pair {
  std::string name;
  std::vector<std::uint8_t> v72;
  testing::Qemu102Style v102;
};

std::vector<Pair> pairs() {
  std::vector<Pair> out;
  for (const auto& f : corpus_files(".mig")) {
    Pair p{f.filename().string(), read_bytes(f), {}};
    p.v102 = testing::as_qemu_10_2_style(p.v72);
    if (!p.v102.bytes.empty()) out.push_back(std::move(p));
  }
  return out;
}

TEST(QemuAnalyzeLayout, RewrittenTrailersReallyLackTheLastIndex) {
  auto ps = pairs();
  ASSERT_GE(ps.size(), 5u);
  std::size_t arrays = 0;
  for (const auto& p : ps) arrays += p.v102.arrays;
  EXPECT_GT(arrays, 10u);  // ide buses and bmdma, fdc drives, piix4_pm's hotplug slots, ...
}

TEST(QemuAnalyzeLayout, LosslessKeepsEveryElementOnTenTwoStyleStreams) {
  for (const auto& p : pairs()) {
    SCOPED_TRACE(p.name);
    const std::string old_text = state_json(p.v72, StateLayout::lossless);
    const std::string new_text = state_json(p.v102.bytes, StateLayout::lossless);
    EXPECT_EQ(duplicate_keys(new_text), std::vector<std::string>{});
    // The same device bytes give the same document whichever trailer explained them.
    EXPECT_EQ(new_text, old_text);
    // On 7.2 streams all three layouts agree (the existing script comparisons hold).
    EXPECT_EQ(state_json(p.v72, StateLayout::qemu_7_2), old_text);
    EXPECT_EQ(state_json(p.v72, StateLayout::qemu_10_2), old_text);
  }
}

TEST(QemuAnalyzeLayout, TenTwoLayoutGathersStructArraysIntoLists) {
  for (const auto& p : pairs()) {
    if (p.name != "i440fx-4.2-virtio-running2s.mig") continue;
    const std::string text = state_json(p.v102.bytes, StateLayout::qemu_10_2);
    EXPECT_EQ(duplicate_keys(text), std::vector<std::string>{});
    auto j = nlohmann::ordered_json::parse(text);
    const nlohmann::ordered_json* pm = nullptr;
    const nlohmann::ordered_json* ide = nullptr;
    for (const auto& [k, v] : j.items()) {
      if (k.find("piix4_pm (") != std::string::npos) pm = &v;
      if (k.find("/ide (") != std::string::npos) ide = &v;
    }
    ASSERT_NE(pm, nullptr);
    ASSERT_NE(ide, nullptr);
    // 256 hotplug slot structs, each with its up and down words.
    const auto& slots = (*pm)["acpi_pci_hotplug.acpi_pcihp_pci_status"];
    ASSERT_TRUE(slots.is_array());
    EXPECT_EQ(slots.size(), 256u);
    EXPECT_TRUE(slots.back().contains("up"));
    ASSERT_TRUE((*ide)["bmdma"].is_array());
    EXPECT_EQ((*ide)["bmdma"].size(), 2u);
    ASSERT_TRUE((*ide)["bus"].is_array());
    EXPECT_EQ((*ide)["bus"].size(), 2u);
    EXPECT_EQ(text, state_json(p.v102.bytes, StateLayout::lossless));
    return;
  }
  FAIL() << "corpus stream i440fx-4.2-virtio-running2s.mig not found";
}

TEST(QemuAnalyzeLayout, SevenTwoLayoutKeepsOnlyTheLastStructElementLikeThatScript) {
  for (const auto& p : pairs()) {
    if (p.name != "i440fx-4.2-virtio-running2s.mig") continue;
    const std::string text = state_json(p.v102.bytes, StateLayout::qemu_7_2);
    EXPECT_EQ(duplicate_keys(text), std::vector<std::string>{});
    auto j = nlohmann::ordered_json::parse(text);
    for (const auto& [k, v] : j.items()) {
      if (k.find("/ide (") == std::string::npos) continue;
      // The script replaces the list by the element without "index".
      EXPECT_TRUE(v["bmdma"].is_object());
      EXPECT_TRUE(v["bus"].is_object());
      return;
    }
    FAIL() << "no ide section";
  }
  FAIL() << "corpus stream i440fx-4.2-virtio-running2s.mig not found";
}

TEST(QemuAnalyzeLayout, NullPointersPrintPerLayout) {
  // One FULL section "dev": p[0] a struct, p[1] NULL (7.2's empty "struct"),
  // q two NULLs described once (newer QEMUs' "nullptr" with array_len).
  const std::string json = R"({"page_size": 4096, "devices": [)"
      R"({"name": "dev", "instance_id": 0, "vmsd_name": "dev", "version": 1, "fields": [)"
      R"({"name": "p", "index": 0, "type": "struct", "struct": {"vmsd_name": "elem", "version": 1,)"
      R"( "fields": [{"name": "v", "type": "uint16", "size": 2}]}, "size": 2},)"
      R"({"name": "p", "index": 1, "type": "struct", "struct": {}, "size": 1},)"
      R"({"name": "q", "array_len": 2, "type": "nullptr", "size": 1}]}]})";
  std::vector<std::uint8_t> in = {'Q', 'E', 'V', 'M', 0, 0, 0, 3, 0x04, 0, 0, 0, 0, 3, 'd', 'e', 'v',
                                  0, 0, 0, 0, 0, 0, 0, 1, 0x30, 0x31, 0x30, 0x30, 0x30, 0x00, 0x06};
  for (int shift = 24; shift >= 0; shift -= 8) in.push_back(static_cast<std::uint8_t>(json.size() >> shift));
  in.insert(in.end(), json.begin(), json.end());
  auto doc = [&](StateLayout l) { return nlohmann::ordered_json::parse(state_json(in, l))["dev (0)"]; };
  auto lossless = doc(StateLayout::lossless);
  EXPECT_EQ(lossless["p"][0]["v"], "0x3031");
  EXPECT_TRUE(lossless["p"][1].is_null());
  EXPECT_EQ(lossless["q"], nlohmann::ordered_json::parse("[null, null]"));
  auto v102 = doc(StateLayout::qemu_10_2);
  EXPECT_EQ(v102["p"][1], "nullptr");
  EXPECT_EQ(v102["q"], nlohmann::ordered_json::parse(R"(["nullptr", "nullptr"])"));
  auto v72 = doc(StateLayout::qemu_7_2);  // the marker byte, as the 7.2 script's generic reader
  EXPECT_EQ(v72["p"][1], "30");
  EXPECT_EQ(v72["q"], nlohmann::ordered_json::parse(R"(["30", "30"])"));
}

TEST(QemuAnalyzeLayout, NamesParse) {
  EXPECT_EQ(parse_state_layout("lossless"), StateLayout::lossless);
  EXPECT_EQ(parse_state_layout("qemu-10.2"), StateLayout::qemu_10_2);
  EXPECT_EQ(parse_state_layout("qemu-7.2"), StateLayout::qemu_7_2);
  EXPECT_FALSE(parse_state_layout("qemu-9"));
}

}  // namespace
}  // namespace statewire::qemu
