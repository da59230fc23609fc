// `convert --to qemu` refuses trees QEMU would refuse (issue 17), naming the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.hpp"

namespace statewire {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

struct EditedJson {
  testing::TempDir dir;
  fs::path json = dir.path / "s.json";
  fs::path out = dir.path / "s.mig";

  // The corpus stream as tree JSON, with `edit` applied to section fw_cfg.
  template <class F>
  explicit EditedJson(F edit) {
    fs::path in = testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig";
    auto r = testing::run(testing::cli() + " convert " + in.string() + " " + json.string() + " --to json");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    Json j = Json::parse(testing::read_file(json));
    for (auto& s : j["sections"])
      if (s["name"] == "fw_cfg") edit(s);
    std::ofstream(json) << j.dump();
  }
  testing::CommandResult convert(const std::string& extra = "") {
    return testing::run(testing::cli() + " convert " + json.string() + " " + out.string() +
                        " --to qemu" + extra);
  }
};

TEST(ConvertValidate, DeletedFieldIsRefusedNamingItAndNothingIsWritten) {
  EditedJson e([](Json& s) { s["fields"].erase(0); });
  auto r = e.convert();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("fw_cfg/0: field cur_entry: missing"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(e.out));
}

TEST(ConvertValidate, WidenedFieldIsRefused) {
  EditedJson e([](Json& s) { s["fields"][0]["t"] = "u32"; });
  auto r = e.convert();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("fw_cfg/0: field cur_entry: is u32 (4 bytes), the destination reads u16"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(e.out));
}

TEST(ConvertValidate, ForceWritesAnywayWithAWarning) {
  EditedJson e([](Json& s) { s["fields"][0]["t"] = "u32"; });
  auto r = e.convert(" --force");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("warning"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(e.out));
}

TEST(ConvertValidate, SchemaDumpIsTheDestinationWhenGiven) {
  EditedJson e([](Json& s) { s["fields"][0]["t"] = "u32"; });
  std::string dump = (testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string();
  auto r = e.convert(" --schema " + dump);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("fw_cfg/0: field cur_entry: takes 4 bytes, the destination reads 2"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("checked against " + dump), std::string::npos) << r.out;
}

TEST(ConvertValidate, UneditedStreamsStillConvertUnchanged) {
  EditedJson e([](Json&) {});
  auto r = e.convert();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(testing::read_bytes(e.out) ==
              testing::read_bytes(testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig"));
}

}  // namespace
}  // namespace statewire
