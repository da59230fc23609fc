// The example VM model: round trips, trees against the body codec, and the
// checked-in bodies of older versions (tests/data/vm_model/*.hex) loading into
// the newest code with the defaults of fields those versions lacked.
#include "vm_model/vm_model.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <sstream>

#include "statewire/schema_json.hpp"
#include "statewire/vmstate_body.hpp"
#include "test_util.hpp"

namespace vm_model {
namespace {

using statewire::Bytes;
using statewire::Errc;
using statewire::SaveOptions;

// Hex bytes separated by spaces; '#' starts a comment to the end of the line.
Bytes read_hex(const std::string& name) {
  std::string text = statewire::testing::read_file(statewire::testing::data_dir() / "vm_model" / name);
  Bytes out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream tokens(line);
    std::string tok;
    while (tokens >> tok) out.push_back(static_cast<std::uint8_t>(std::stoul(tok, nullptr, 16)));
  }
  return out;
}

// The sample VM as a build without the optional features had it: no
// subsection is needed, so an older build's bytes are exactly reproducible.
Vm old_feature_sample() {
  Vm vm = make_sample_vm();
  vm.uart.timeout_deadline_ns = -1;
  vm.uart.timeout_chars = 0;
  vm.timer.calibrated = false;
  vm.timer.scale = 1.0;
  vm.timer.offset_ns = 0;
  vm.nic.tso = false;
  vm.nic.rx_csum = false;
  vm.nic.mss = 1460;
  return vm;
}

template <class T>
void expect_tree_matches_decoded(const statewire::NativeDescription<T>& d, const T& obj) {
  auto bytes = d.save(obj);
  auto tree = d.to_tree(obj);
  ASSERT_TRUE(bytes && tree);
  const statewire::TestResolver tests = d.test_resolver();
  statewire::BodyDecodeOptions opt;
  opt.tests = &tests;
  statewire::Cursor cur(*bytes);
  auto decoded = statewire::decode_body(d.schema(), cur, d.version(), opt);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_TRUE(cur.empty());
  EXPECT_EQ(*decoded, *tree) << d.name();
  statewire::ByteWriter w;
  ASSERT_TRUE(statewire::encode_body(*tree, w));
  EXPECT_EQ(Bytes(w.bytes().begin(), w.bytes().end()), *bytes) << d.name();
}

// Every proper prefix of a body is an error naming the section, except the
// one that ends where the fields end (the subsections are optional).
template <class T>
void expect_prefixes_fail(const statewire::NativeDescription<T>& d, const T& obj) {
  auto bytes = d.save(obj);
  auto tree = d.to_tree(obj);
  ASSERT_TRUE(bytes && tree);
  tree->subsections.clear();
  statewire::ByteWriter fields_only;
  ASSERT_TRUE(statewire::encode_body(*tree, fields_only));
  for (std::size_t len = 0; len < bytes->size(); ++len) {
    T fresh{};
    auto r = d.load(fresh, statewire::ByteSpan(bytes->data(), len), d.version());
    if (len == fields_only.size()) {
      EXPECT_TRUE(r) << d.name() << " without its subsections";
      continue;
    }
    ASSERT_FALSE(r) << d.name() << " prefix of " << len << " bytes";
    EXPECT_EQ(r.error().section, d.name());
    EXPECT_TRUE(r.error().offset.has_value());
    if (len < fields_only.size()) {
      EXPECT_EQ(r.error().code, Errc::truncated) << r.error().to_string();
      EXPECT_FALSE(r.error().field_path.empty());
    }
    EXPECT_TRUE(fresh == T{}) << "a failed load leaves the object as it was";
  }
}

TEST(VmModel, EveryProperPrefixOfEachDeviceBodyIsRefused) {
  const Vm vm = make_sample_vm();
  expect_prefixes_fail(uart_description(), vm.uart);
  expect_prefixes_fail(timer_description(), vm.timer);
  expect_prefixes_fail(nic_description(), vm.nic);
}

TEST(VmModel, SampleSavesAndLoadsIntoFreshDevices) {
  Vm vm = make_sample_vm();
  auto reg = vm_registry(vm);
  ASSERT_TRUE(reg) << reg.error().to_string();
  auto stream = reg->save();
  ASSERT_TRUE(stream) << stream.error().to_string();
  ASSERT_EQ(stream->sections.size(), 3u);
  Vm fresh;
  auto fresh_reg = vm_registry(fresh);
  ASSERT_TRUE(fresh_reg);
  auto r = fresh_reg->load(*stream);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(fresh, vm);
}

TEST(VmModel, SampleSendsEverySubsectionAndTestGatedField) {
  Vm vm = make_sample_vm();
  auto reg = vm_registry(vm);
  ASSERT_TRUE(reg);
  auto tree = reg->save();
  ASSERT_TRUE(tree);
  ASSERT_EQ(tree->sections.size(), 3u);
  EXPECT_EQ(tree->sections[0].body.subsections.at(0).name, "uart/timeout");
  EXPECT_EQ(tree->sections[1].body.subsections.at(0).name, "timer/calibration");
  EXPECT_EQ(tree->sections[2].body.subsections.at(0).name, "nic/offload");
  EXPECT_NE(tree->sections[0].body.find("loopback_data"), nullptr);
  EXPECT_NE(tree->sections[1].body.find("oneshot_remaining_ns"), nullptr);
  EXPECT_NE(tree->sections[2].body.find("vlan_tag"), nullptr);
}

TEST(VmModel, TreesFromObjectsEqualTreesDecodedFromTheirBytes) {
  for (const Vm& vm : {make_sample_vm(), old_feature_sample(), Vm{}}) {
    expect_tree_matches_decoded(uart_description(), vm.uart);
    expect_tree_matches_decoded(timer_description(), vm.timer);
    expect_tree_matches_decoded(nic_description(), vm.nic);
  }
}

TEST(VmModel, OlderVersionsReproduceTheCheckedInBytes) {
  const Vm vm = old_feature_sample();
  EXPECT_EQ(*uart_description().save(vm.uart, SaveOptions{1}), read_hex("uart_v1.hex"));
  EXPECT_EQ(*uart_description().save(vm.uart, SaveOptions{2}), read_hex("uart_v2.hex"));
  EXPECT_EQ(*timer_description().save(vm.timer, SaveOptions{2}), read_hex("timer_v2.hex"));
  EXPECT_EQ(*nic_description().save(vm.nic, SaveOptions{1}), read_hex("nic_v1.hex"));
  EXPECT_EQ(*nic_description().save(vm.nic, SaveOptions{2}), read_hex("nic_v2.hex"));
}

TEST(VmModel, UartV1AndV2BytesLoadWithDefaultsForNewerFields) {
  const Uart s = old_feature_sample().uart;
  Uart v1;
  ASSERT_TRUE(uart_description().load(v1, read_hex("uart_v1.hex"), 1));
  Uart want;  // v1 has the register file and divider only
  want.divider = s.divider;
  want.rbr = s.rbr;
  want.ier = s.ier;
  want.iir = s.iir;
  want.lcr = s.lcr;
  want.mcr = s.mcr;
  want.lsr = s.lsr;
  want.msr = s.msr;
  want.scr = s.scr;
  uart_update_baud(want);
  EXPECT_EQ(v1, want);
  EXPECT_EQ(v1.baud, 115200u) << "post_load derives the baud rate";

  Uart v2;
  ASSERT_TRUE(uart_description().load(v2, read_hex("uart_v2.hex"), 2));
  want.fcr = s.fcr;
  want.rx_count = s.rx_count;
  want.rx_fifo = s.rx_fifo;
  want.loopback_data = s.loopback_data;  // test-gated from v2 on
  EXPECT_EQ(v2, want);
  EXPECT_FALSE(v2.thr_ipending);
}

TEST(VmModel, TimerV2BytesLoadWithDefaultsAndV1IsTooOld) {
  const Timer s = old_feature_sample().timer;
  Timer t;
  ASSERT_TRUE(timer_description().load(t, read_hex("timer_v2.hex"), 2));
  Timer want = s;
  want.comparators = Timer{}.comparators;  // v3
  want.label = Timer{}.label;              // v3
  EXPECT_EQ(t, want);

  auto r = timer_description().load(t, read_hex("timer_v2.hex"), 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::version_too_old);
  EXPECT_EQ(r.error().section, "timer");
}

TEST(VmModel, NicV1AndV2BytesLoadWithDefaultsForNewerFields) {
  const Nic s = old_feature_sample().nic;
  Nic v1;
  ASSERT_TRUE(nic_description().load(v1, read_hex("nic_v1.hex"), 1));
  Nic want;
  want.mac = s.mac;
  want.ctrl = s.ctrl;
  want.status = s.status;
  want.rx_ring = s.rx_ring;
  want.rx_head = s.rx_head;
  want.rx_tail = s.rx_tail;
  want.regs = s.regs;
  want.vlan_tag = s.vlan_tag;
  EXPECT_EQ(v1, want);

  Nic v2;
  ASSERT_TRUE(nic_description().load(v2, read_hex("nic_v2.hex"), 2));
  want.filter_count = s.filter_count;
  want.filters = s.filters;
  want.rx_packets = s.rx_packets;
  want.tx_packets = s.tx_packets;
  want.rx_bytes = s.rx_bytes;
  want.tx_bytes = s.tx_bytes;
  EXPECT_EQ(v2, want);
  EXPECT_TRUE(v2.tx_ring.empty());
}

TEST(VmModel, HooksRefuseBadDeviceState) {
  Vm vm = make_sample_vm();
  vm.timer.period_ns = 0;
  auto saved = timer_description().save(vm.timer);
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, Errc::hook_failed);
  EXPECT_EQ(saved.error().section, "timer");

  vm = make_sample_vm();
  vm.nic.rx_head = 9;
  auto bytes = nic_description().save(vm.nic);
  ASSERT_TRUE(bytes);
  Nic fresh;
  auto r = nic_description().load(fresh, *bytes, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::hook_failed);
  EXPECT_EQ(r.error().section, "nic");
  EXPECT_EQ(fresh, Nic{});
}

TEST(VmModel, FilterTableAboveItsBoundIsRefused) {
  Vm vm = make_sample_vm();
  auto bytes = nic_description().save(vm.nic);
  ASSERT_TRUE(bytes);
  // filter_count sits after mac(6) ctrl(4) status(4) rx_ring(8*12) head(2) tail(2) regs(128).
  const std::size_t at = 6 + 4 + 4 + 8 * 12 + 2 + 2 + 32 * 4;
  ASSERT_EQ((*bytes)[at], vm.nic.filter_count);
  (*bytes)[at] = kNicMaxFilters + 1;
  Nic fresh;
  auto r = nic_description().load(fresh, *bytes, 3);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_EQ(r.error().field_path, "filters");
  EXPECT_EQ(r.error().section, "nic");
}

TEST(VmModel, SchemasExportAndLoadBack) {
  const statewire::SchemaSet set = vm_schemas();
  for (bool extended : {false, true}) {
    auto back = statewire::parse_schema_json(
        statewire::to_schema_json(set, statewire::SchemaJsonOptions{extended}));
    ASSERT_TRUE(back) << back.error().to_string();
    ASSERT_EQ(back->devices.size(), 3u);
    if (extended) {
      EXPECT_EQ(*back, set);
    }
    EXPECT_EQ(back->devices[2].description.find_field("rx_ring")->size, sizeof(NicDesc));
  }
}

}  // namespace
}  // namespace vm_model
