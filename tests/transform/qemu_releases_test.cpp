// QEMU 7.2 streams made loadable by QEMU 10.2 and back, through the built-in
// transforms, against QEMU 10.2's -dump-vmstate of the same machine type.
// The 10.2 dumps live beside the 7.2 corpus: corpus_dir()/../qemu-10.2/.
#include <gtest/gtest.h>

#include <filesystem>

#include "statewire/planner.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/schema_json.hpp"
#include "qemu_release_util.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

namespace fs = std::filesystem;

fs::path dump_10_2(const std::string& machine) {
  return testing::corpus_dir() / ".." / "qemu-10.2" / ("vmstate-" + machine + ".json");
}

#define REQUIRE_10_2_DUMP(path)                                                     \
  if (!fs::exists(path)) GTEST_SKIP() << "QEMU 10.2 dump not present: " << (path)

StateStream decode(const fs::path& p) { return testing::decode_stream(p); }
using Destination = testing::DumpDestination;

const Section* find(const StateStream& s, std::string_view name) {
  for (const auto& x : s.sections)
    if (x.name == name) return &x;
  return nullptr;
}

TEST(QemuReleases, Qemu72StreamsLoadInto102AfterTheHpetRename) {
  fs::path dump = dump_10_2("pc-i440fx-7.2");
  REQUIRE_10_2_DUMP(dump);
  Destination to102(dump);
  int planned = 0;
  for (const auto& p : testing::corpus_files(".mig")) {
    StateStream s = decode(p);
    const Section* before = find(s, "hpet");
    const bool described = before && before->body.find("num_timers");
    MigrationPlan plan = to102.plan(s);
    EXPECT_TRUE(plan.ok()) << p << "\n" << render_plan_text(plan);
    if (const Section* hpet = find(plan.result, "hpet"); hpet && described) {
      EXPECT_NE(hpet->body.find("num_timers_save"), nullptr) << p;
      EXPECT_EQ(hpet->body.find("num_timers"), nullptr) << p;
      ++planned;
    }
  }
  EXPECT_GE(planned, 4);
}

TEST(QemuReleases, WithoutTheTransformTheRenameIsRefusedNamingTheField) {
  fs::path dump = dump_10_2("pc-i440fx-7.2");
  REQUIRE_10_2_DUMP(dump);
  Destination to102(dump);
  to102.transforms = TransformSet{};
  MigrationPlan plan = to102.plan(decode(testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig"));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.refusals[0].section, "hpet/0");
  EXPECT_EQ(plan.refusals[0].field_path, "num_timers");
}

TEST(QemuReleases, ConvertTo102AndBackGivesTheOriginalBytes) {
  fs::path dump = dump_10_2("pc-i440fx-7.2");
  REQUIRE_10_2_DUMP(dump);
  testing::TempDir dir;
  fs::path in = testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig";
  fs::path to = dir.path / "to102.mig", back = dir.path / "back.mig";
  auto r = testing::run(testing::cli() + " convert " + in.string() + " " + to.string() +
                        " --to qemu --to-schema " + dump.string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The converted stream's own trailer describes what it carries...
  auto a = testing::run(testing::cli() + " analyze " + to.string() + " --format json");
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_NE(a.out.find("\"num_timers_save\""), std::string::npos);
  // ...and 10.2's schema accepts every section as it stands.
  auto p = testing::run(testing::cli() + " plan " + to.string() + " --to-schema " + dump.string());
  EXPECT_EQ(p.exit_code, 0) << p.out;
  EXPECT_NE(p.out.find("0 transformed, 0 refusal(s)"), std::string::npos) << p.out;
  std::string dump72 = (testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string();
  r = testing::run(testing::cli() + " convert " + to.string() + " " + back.string() +
                   " --to qemu --to-schema " + dump72);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(testing::read_bytes(back) == testing::read_bytes(in));
}

TEST(QemuReleases, LevelTriggeredPicFrom102IsRefusedBy72WithTheReason) {
  std::string dump72 = (testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string();
  Destination to72(dump72);
  StateStream s = decode(testing::corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig");
  // What QEMU 10.2 sends while the guest has ICW1's LTIM bit set.
  Struct ltim;
  ltim.members.push_back({"ltim", Value(std::uint8_t{1})});
  bool added = false;
  for (auto& sec : s.sections)
    if (sec.name == "i8259" && sec.instance_id == 0) {
      sec.body.subsections.push_back({"i8259/ltim", 1, ltim});
      added = true;
    }
  ASSERT_TRUE(added);
  MigrationPlan plan = to72.plan(s);
  ASSERT_EQ(plan.refusals.size(), 1u) << render_plan_text(plan);
  EXPECT_EQ(plan.refusals[0].code, Errc::unknown_subsection);
  EXPECT_EQ(plan.refusals[0].section, "i8259/0");
  EXPECT_EQ(plan.refusals[0].field_path, "[i8259/ltim]");
  EXPECT_NE(plan.refusals[0].message.find("level-triggered"), std::string::npos);
}

}  // namespace
}  // namespace statewire
