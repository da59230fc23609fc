// The devices whose state differs between QEMU 7.2 and 10.2 (e1000e, the ESP
// SCSI controller am53c974, pvscsi; globalstate on the way back), on real
// streams of the same VM made by both releases (tests/data/qemu-7.2 and
// qemu-10.2: q35-7.2-e1000e-esp-pvscsi-paused), planned through the built-in
// transforms against the other release's -dump-vmstate and back.
#include <gtest/gtest.h>

#include <filesystem>

#include "statewire/check.hpp"
#include "statewire/planner.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/schema_json.hpp"
#include "qemu_release_util.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

namespace fs = std::filesystem;

const char* kVm = "q35-7.2-e1000e-esp-pvscsi-paused.mig";

fs::path dir_10_2() { return testing::corpus_dir() / ".." / "qemu-10.2"; }
fs::path dump_10_2() { return dir_10_2() / "vmstate-pc-q35-7.2.json"; }
// 7.2's devices are the same on every machine type; the corpus has its i440fx dump.
fs::path dump_7_2() { return testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json"; }

StateStream decode(const fs::path& p) { return testing::decode_stream(p); }
using Destination = testing::DumpDestination;

Section* find(StateStream& s, std::string_view vmsd) {
  for (auto& x : s.sections)
    if (SchemaCatalog::vmsd_name(x.name) == vmsd) return &x;
  return nullptr;
}

Struct* esp_of(StateStream& s) {
  Section* sec = find(s, "pciespscsi");
  Value* esp = sec ? sec->body.find("esp") : nullptr;
  return esp ? esp->get_if<Struct>() : nullptr;
}

std::vector<std::string> names(const Struct& s) {
  std::vector<std::string> out;
  for (const auto& m : s.members) out.push_back(m.name);
  return out;
}

std::vector<std::string> chain_of(const MigrationPlan& p, std::string_view vmsd) {
  std::vector<std::string> out;
  for (const auto& s : p.sections)
    if (SchemaCatalog::vmsd_name(s.section.substr(0, s.section.rfind('/'))) == vmsd)
      for (const Transform* t : s.chain) out.push_back(t->label());
  return out;
}

TEST(QemuDevices, Stream72IsRefusedBy102WithoutTheTransforms) {
  Destination to102(dump_10_2());
  to102.transforms = TransformSet{};
  MigrationPlan plan = to102.plan(decode(testing::corpus_dir() / kVm));
  ASSERT_FALSE(plan.ok());
  bool drq = false, pending = false;
  for (const auto& e : plan.refusals) {
    drq = drq || (e.section == "0000:00:02.0/pciespscsi/0" && e.field_path == "esp.drq_state");
    pending = pending || (e.section == "0000:00:01.0/e1000e/0" && e.field_path == "core.itr_intr_pending");
  }
  EXPECT_TRUE(drq) << render_plan_text(plan);
  EXPECT_TRUE(pending) << render_plan_text(plan);
}

TEST(QemuDevices, Stream72PlansInto102AndBackFieldByField) {
  const StateStream original = decode(testing::corpus_dir() / kVm);
  const Destination fwd_dest(dump_10_2());  // outlives the plan: its chain points into it
  MigrationPlan fwd = fwd_dest.plan(original);
  ASSERT_TRUE(fwd.ok()) << render_plan_text(fwd);
  EXPECT_EQ(chain_of(fwd, "e1000e").size(), 1u);
  EXPECT_EQ(chain_of(fwd, "pciespscsi").size(), 1u);
  EXPECT_TRUE(chain_of(fwd, "pvscsi").empty());  // pvscsi/pcie is what both releases send

  StateStream to102 = fwd.result;
  // e1000e: the pending flags ride in the unused bytes 10.2 skips.
  Section* nic = find(to102, "e1000e");
  ASSERT_NE(nic, nullptr);
  EXPECT_EQ(nic->body.find("core.itr_intr_pending"), nullptr);
  EXPECT_EQ(nic->body.find("core.eitr_intr_pending"), nullptr);
  std::size_t unused = 0;
  for (const auto& m : nic->body.members)
    if (m.name == "unused") {
      ++unused;
      if (const Blob* b = m.value.get_if<Blob>()) {
        EXPECT_EQ(b->bytes, Bytes(5, 0));
      }
    }
  EXPECT_EQ(unused, 2u);
  // ESP: the v6 body 10.2 reads, DRQ low, mig_version_id untouched.
  Struct* esp = esp_of(to102);
  ASSERT_NE(esp, nullptr);
  const std::vector<std::string> want = {"rregs", "wregs", "ti_size", "status", "dma", "do_cmd",
                                         "data_ready", "cmdfifo_cdb_offset", "fifo", "cmdfifo",
                                         "mig_ti_cmd", "lun", "drq_state"};
  EXPECT_EQ(names(*esp), want);
  EXPECT_EQ(*esp->find("drq_state"), Value(false));
  EXPECT_EQ(*find(to102, "pciespscsi")->body.find("esp.mig_version_id"), Value(std::uint8_t{6}));

  const Destination back_dest(dump_7_2());  // outlives the plan: its chain points into it
  MigrationPlan back = back_dest.plan(to102);
  ASSERT_TRUE(back.ok()) << render_plan_text(back);
  for (const char* vmsd : {"e1000e", "pciespscsi", "pvscsi", "globalstate"}) {
    Section* a = find(back.result, vmsd);
    const Section* b = nullptr;
    for (const auto& x : original.sections)
      if (SchemaCatalog::vmsd_name(x.name) == vmsd) b = &x;
    ASSERT_TRUE(a && b) << vmsd;
    EXPECT_TRUE(a->body == b->body) << vmsd << ": not the state 7.2 sent";
  }
}

TEST(QemuDevices, Stream102PlansInto72AsQemu102MapsTheValues) {
  const StateStream original = decode(dir_10_2() / kVm);
  StateStream s = original;
  // The 10.2 source's own values first: an ESP v8 body, unused e1000e bytes.
  ASSERT_EQ(*find(s, "pciespscsi")->body.find("esp.mig_version_id"), Value(std::uint8_t{8}));
  Struct* esp = esp_of(s);
  ASSERT_NE(esp, nullptr);
  ASSERT_NE(esp->find("asc_mode"), nullptr);
  ASSERT_EQ(esp->find("mig_ti_cmd"), nullptr);
  // A DMA TI command under way (ESP_CMD = CMD_TI | CMD_DMA) must become 7.2's ti_cmd.
  Blob* rregs = esp->find("rregs")->get_if<Blob>();
  ASSERT_NE(rregs, nullptr);
  rregs->bytes.at(3) = 0x90;
  // A throttling timer running: 10.2 notifies when it expires, so 7.2 needs the flag.
  Section* nic = find(s, "e1000e");
  Value* eitr = nic->body.find("core.eitr");
  ASSERT_NE(eitr, nullptr);
  Struct* t2 = eitr->get_if<Array>()->items.at(2).get_if<Struct>();
  *t2->find("running") = Value(true);

  const Destination back_dest(dump_7_2());  // outlives the plan: its chain points into it
  MigrationPlan back = back_dest.plan(s);
  ASSERT_TRUE(back.ok()) << render_plan_text(back);
  EXPECT_EQ(chain_of(back, "globalstate").size(), 1u);
  Struct* esp72 = esp_of(back.result);
  const std::vector<std::string> want = {"rregs", "wregs", "ti_size", "status", "dma", "do_cmd",
                                         "data_in_ready", "cmdfifo_cdb_offset", "fifo", "cmdfifo",
                                         "ti_cmd", "lun"};
  EXPECT_EQ(names(*esp72), want);
  EXPECT_EQ(*esp72->find("ti_cmd"), Value(std::uint8_t{0x90}));
  EXPECT_EQ(*find(back.result, "pciespscsi")->body.find("esp.mig_version_id"), Value(std::uint8_t{6}));
  Section* nic72 = find(back.result, "e1000e");
  EXPECT_EQ(*nic72->body.find("core.itr_intr_pending"), Value(false));
  const Array* flags = nic72->body.find("core.eitr_intr_pending")->get_if<Array>();
  ASSERT_NE(flags, nullptr);
  ASSERT_EQ(flags->items.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(flags->items[i], Value(i == 2)) << i;
  const Value* run = find(back.result, "globalstate")->body.find("runstate");
  ASSERT_TRUE(run && run->get_if<Blob>());
  EXPECT_EQ(run->get_if<Blob>()->bytes.size(), 100u);

  // And into 10.2 again: accepted by its schema as it stands (a v6 ESP body).
  const Destination again_dest(dump_10_2());  // outlives the plan: its chain points into it
  MigrationPlan again = again_dest.plan(back.result);
  EXPECT_TRUE(again.ok()) << render_plan_text(again);
}

TEST(QemuDevices, PtpClockAdjustmentIsRefusedGoingBack) {
  StateStream s = decode(dir_10_2() / kVm);
  Section* nic = find(s, "e1000e");
  // What 10.2 sends with migrate-timadj on (machine types after 7.2).
  nic->body.members.push_back({"core.timadj", Value(std::int64_t{-4096})});
  const Destination back_dest(dump_7_2());  // outlives the plan: its chain points into it
  MigrationPlan back = back_dest.plan(s);
  ASSERT_EQ(back.refusals.size(), 1u) << render_plan_text(back);
  EXPECT_EQ(back.refusals[0].section, "0000:00:01.0/e1000e/0");
  EXPECT_EQ(back.refusals[0].field_path, "core.timadj");
  EXPECT_NE(back.refusals[0].message.find("PTP"), std::string::npos) << back.refusals[0].message;
  // A zero adjustment is no adjustment: dropped.
  nic->body.members.back().value = Value(std::int64_t{0});
  EXPECT_TRUE(Destination(dump_7_2()).plan(s).ok());
}

TEST(QemuDevices, PseudoDmaInFlightIsRefusedIdleIsDropped) {
  StateStream s = decode(testing::corpus_dir() / kVm);
  Struct* esp = esp_of(s);
  ASSERT_NE(esp, nullptr);
  // What a 7.2 ESP on a PDMA host (sysbus-esp on a Macintosh) sends.
  Struct pdma;
  pdma.members.push_back({"pdma_cb", Value(std::uint8_t{4})});
  esp->subsections.push_back({"esp/pdma", 0, pdma});
  Destination to102(dump_10_2());
  MigrationPlan idle = to102.plan(s);
  ASSERT_TRUE(idle.ok()) << render_plan_text(idle);
  EXPECT_TRUE(esp_of(idle.result)->subsections.empty());

  esp->find("rregs")->get_if<Blob>()->bytes.at(0) = 0x20;  // transfer counter 32
  MigrationPlan busy = to102.plan(s);
  ASSERT_EQ(busy.refusals.size(), 1u) << render_plan_text(busy);
  EXPECT_EQ(busy.refusals[0].section, "0000:00:02.0/pciespscsi/0");
  EXPECT_EQ(busy.refusals[0].field_path, "esp.drq_state");
  EXPECT_NE(busy.refusals[0].message.find("pseudo-DMA transfer (transfer counter 32"),
            std::string::npos)
      << busy.refusals[0].message;
}

TEST(QemuDevices, PlainPciPvscsiIsRefusedBy102) {
  StateStream s = decode(testing::corpus_dir() / kVm);
  Section* pv = find(s, "pvscsi");
  ASSERT_NE(pv, nullptr);
  ASSERT_EQ(pv->body.subsections.size(), 1u);
  // 7.2 with x-disable-pcie=on: the PCI state in the body, no pvscsi/pcie.
  Member pci{"parent_obj", pv->body.subsections[0].body.members.at(0).value};
  pv->body.subsections.clear();
  pv->body.members.insert(pv->body.members.begin(), std::move(pci));
  const Destination plan_dest(dump_10_2());  // outlives the plan: its chain points into it
  MigrationPlan plan = plan_dest.plan(s);
  ASSERT_EQ(plan.refusals.size(), 1u) << render_plan_text(plan);
  EXPECT_EQ(plan.refusals[0].section, "0000:00:03.0/pvscsi/0");
  EXPECT_EQ(plan.refusals[0].field_path, "parent_obj");
  EXPECT_NE(plan.refusals[0].message.find("x-disable-pcie"), std::string::npos);
}

TEST(QemuDevices, SuspendedGuestIsRefusedBy72) {
  StateStream s = decode(dir_10_2() / kVm);
  Section* g = find(s, "globalstate");
  ASSERT_NE(g, nullptr);
  for (auto& m : g->body.members)
    if (m.name == "has_vm_was_suspended" || m.name == "vm_was_suspended") m.value = Value(std::uint8_t{1});
  const Destination plan_dest(dump_7_2());  // outlives the plan: its chain points into it
  MigrationPlan plan = plan_dest.plan(s);
  ASSERT_EQ(plan.refusals.size(), 1u) << render_plan_text(plan);
  EXPECT_EQ(plan.refusals[0].section, "globalstate/0");
  EXPECT_NE(plan.refusals[0].message.find("suspended"), std::string::npos);
}

TEST(QemuDevices, ConvertRewritesBothWaysThroughTheCli) {
  testing::TempDir dir;
  fs::path in = testing::corpus_dir() / kVm, to = dir.path / "to102.mig", back = dir.path / "back.mig";
  auto r = testing::run(testing::cli() + " convert " + in.string() + " " + to.string() +
                        " --to qemu --to-schema " + dump_10_2().string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The converted stream decodes with its own (rewritten) trailer and needs nothing more.
  auto p = testing::run(testing::cli() + " plan " + to.string() + " --to-schema " + dump_10_2().string());
  EXPECT_EQ(p.exit_code, 0) << p.out;
  EXPECT_NE(p.out.find("0 transformed, 0 refusal(s)"), std::string::npos) << p.out;
  r = testing::run(testing::cli() + " convert " + to.string() + " " + back.string() +
                   " --to qemu --to-schema " + dump_7_2().string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(testing::read_bytes(back) == testing::read_bytes(in));
}

// `check` of the 7.2 dump against 10.2's says which findings the built-in
// repairs handle, per direction, and which ones they refuse with a reason.
TEST(QemuDevices, CheckNamesTheBuiltInRepairs) {
  auto old_set = load_schema_file(dump_7_2().string());
  ASSERT_TRUE(old_set) << old_set.error().to_string();
  const TransformSet builtin = qemu_builtin_transforms();
  CheckOptions opt;
  opt.transforms = &builtin;
  for (const char* machine : {"pc-i440fx-7.2", "pc-q35-7.2"}) {
    auto new_set = load_schema_file((dir_10_2() / ("vmstate-" + std::string(machine) + ".json")).string());
    ASSERT_TRUE(new_set) << new_set.error().to_string();
    CheckReport report = check_compat(*old_set, *new_set, opt);
    auto repairs = [&](std::string_view section, std::string_view path) {
      std::vector<std::string> out;
      for (const auto& f : report.findings)
        if (f.section == section && f.path == path)
          for (const auto& k : f.known_repairs)
            out.push_back(std::string(direction_name(k.direction)) + " " + k.op +
                          (k.refuses.empty() ? "" : " (refuses)"));
      return out;
    };
    EXPECT_EQ(repairs("pciespscsi", "esp.drq_state"),
              (std::vector<std::string>{"forward compute esp.drq_state", "backward drop esp.drq_state"}))
        << machine;
    EXPECT_EQ(repairs("pciespscsi", "esp.[esp/pdma]"),
              (std::vector<std::string>{"forward drop-subsection esp.[esp/pdma]"}))
        << machine;
    EXPECT_EQ(repairs("e1000e", "core.timadj"),
              (std::vector<std::string>{"backward refuse-value core.timadj (refuses)",
                                        "backward drop core.timadj"}))
        << machine;
    EXPECT_EQ(repairs("pvscsi", "parent_obj"),
              (std::vector<std::string>{"forward refuse-value parent_obj (refuses)"}))
        << machine;
  }
  auto r = testing::run(testing::cli() + " check " + dump_7_2().string() + " " + dump_10_2().string());
  EXPECT_NE(r.out.find("statewire forward: built-in transform \"pciespscsi 2->2"), std::string::npos) << r.out;
  auto j = testing::run(testing::cli() + " check " + dump_7_2().string() + " " + dump_10_2().string() +
                        " --format json");
  const std::size_t key = j.out.find("\"statewire_repairs\"");
  ASSERT_NE(key, std::string::npos) << j.out.substr(0, 2000);
  EXPECT_NE(j.out.find("\"op\": \"compute esp.drq_state\"", key), std::string::npos);
}

}  // namespace
}  // namespace statewire
