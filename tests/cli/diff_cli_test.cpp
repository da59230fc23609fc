// `statewire diff A B` on real streams: field differences per device in
// "section path: old -> new" form, across formats, RAM as page ranges,
// --ignore ram, JSON output, exit 0 when equal and 1 when not.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace statewire::testing {
namespace {

using Json = nlohmann::ordered_json;

TEST(DiffCli, SameStateInAnotherFormatHasNoDifferences) {
  TempDir t;
  const auto in = (corpus_dir() / "microvm-virtio-paused.mig").string();
  const auto js = (t.path / "s.json").string();
  ASSERT_EQ(run(cli() + " convert '" + in + "' '" + js + "' --to json").exit_code, 0);
  auto r = run(cli() + " diff '" + in + "' '" + js + "'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "no differences\n");
}

TEST(DiffCli, EditedRegisterAndRamPagesAreReported) {
  TempDir t;
  const auto in = (corpus_dir() / "isapc-ne2k-paused.mig").string();
  const auto js = (t.path / "s.json").string();
  ASSERT_EQ(run(cli() + " convert '" + in + "' '" + js + "' --to json").exit_code, 0);
  // Change the first byte of the first two full RAM pages in the tree JSON.
  Json j = Json::parse(read_file(js));
  int changed = 0;
  std::string block;
  for (auto& sec : j["sections"]) {
    if (sec["name"] != "ram") continue;
    for (auto& f : sec["fields"])
      for (auto& rec : f["items"])
        for (auto& m : rec["fields"]) {
          if (m["n"] == "block") block = m["v"];
          if (m["n"] == "data" && block == "pc.bios" && changed < 2) {
            std::string hex = m["v"];
            hex[0] = hex[0] == 'f' ? '0' : 'f';
            m["v"] = hex;
            ++changed;
          }
        }
  }
  ASSERT_EQ(changed, 2);
  const auto edited = (t.path / "e.json").string();
  std::ofstream(edited) << j.dump();
  const auto set = (t.path / "e2.json").string();
  ASSERT_EQ(run(cli() + " set '" + edited + "' '" + set + "' cpu.env.eip=0x2bb1").exit_code, 0);

  auto r = run(cli() + " diff '" + in + "' '" + set + "'");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("cpu/0 env.eip: 0xfff0 (65520) -> 0x2bb1 (11185)\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ram pc.bios: 2 pages differ in 1 range: 0x0-0x1fff"), std::string::npos) << r.out;

  auto no_ram = run(cli() + " diff '" + in + "' '" + set + "' --ignore ram");
  EXPECT_EQ(no_ram.out.find("ram "), std::string::npos) << no_ram.out;
  EXPECT_NE(no_ram.out.find("1 difference\n"), std::string::npos) << no_ram.out;

  const auto out = (t.path / "d.json").string();
  auto jr = run("(" + cli() + " diff '" + in + "' '" + set + "' --format json > '" + out + "')");
  EXPECT_EQ(jr.exit_code, 1);
  Json d = Json::parse(read_file(out));
  ASSERT_EQ(d["devices"].size(), 1u);
  EXPECT_EQ(d["devices"][0]["section"], "cpu/0");
  EXPECT_EQ(d["devices"][0]["differences"][0]["path"], "env.eip");
  ASSERT_EQ(d["ram"].size(), 1u);
  EXPECT_EQ(d["ram"][0]["block"], "pc.bios");
  EXPECT_EQ(d["ram"][0]["pages"], 2);
}

TEST(DiffCli, DifferentMachinesListSectionsOnlyInOne) {
  auto r = run(cli() + " diff '" + (corpus_dir() / "isapc-ne2k-paused.mig").string() + "' '" +
               (corpus_dir() / "microvm-virtio-paused.mig").string() + "' --ignore ram");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("ne2000/0: only in"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire::testing
