// The registry of described objects: the example VM saved and loaded through
// every codec, errors that name the section, the missing-section policy,
// all-or-nothing loads (objects compared byte for byte before and after),
// instance ids, and section-at-a-time staging.
#include "statewire/registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.hpp"
#include "vm_model/vm_model.hpp"

namespace statewire {
namespace {

using vm_model::Vm;

// Registration options one member at a time (GCC 12's -Wextra warns about a
// designated initializer that leaves members to their defaults).
RegisterOptions instance(std::uint32_t id) {
  RegisterOptions o;
  o.instance_id = id;
  return o;
}
RegisterOptions section_named(std::string name) {
  RegisterOptions o;
  o.section = std::move(name);
  return o;
}
RegisterOptions may_be_missing() {
  RegisterOptions o;
  o.may_be_missing = true;
  return o;
}

Registry registry_of(Vm& vm) {
  auto r = vm_model::vm_registry(vm);
  EXPECT_TRUE(r) << r.error().to_string();
  return std::move(*r);
}

// Every registered object's body bytes, as the registry saves them: what
// "unchanged" means for the all-or-nothing tests.
std::vector<Bytes> object_bytes(const Registry& reg) {
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < reg.size(); ++i) {
    ByteWriter w;
    EXPECT_TRUE(reg.save_body(i, w));
    out.emplace_back(w.bytes().begin(), w.bytes().end());
  }
  return out;
}

// A VM whose every device differs from the sample, so a load that applied
// anything would show.
Vm other_vm() {
  Vm vm;
  vm.uart.scr = 0x99;
  vm.timer.counter = 77;
  vm.nic.regs[0] = 0xdead;
  return vm;
}

StateStream sample_stream() {
  Vm vm = vm_model::make_sample_vm();
  auto s = registry_of(vm).save();
  EXPECT_TRUE(s) << s.error().to_string();
  return *s;
}

// Loads `s` into a VM that starts as other_vm(); returns the error and checks
// that no device changed.
Error refused_without_change(const StateStream& s, const RegistryLoadOptions& o = {}) {
  Vm target = other_vm();
  Registry reg = registry_of(target);
  const std::vector<Bytes> before = object_bytes(reg);
  auto r = reg.load(s, o);
  EXPECT_FALSE(r) << "the load was expected to fail";
  EXPECT_EQ(object_bytes(reg), before);
  EXPECT_EQ(target, other_vm());
  return r ? Error{} : r.error();
}

TEST(Registry, VmRoundTripsThroughEachCodec) {
  Vm vm = vm_model::make_sample_vm();
  Registry reg = registry_of(vm);
  for (std::string_view name : codec_names()) {
    SCOPED_TRACE(std::string(name));
    auto codec = make_codec(name);
    auto bytes = reg.save(*codec);
    ASSERT_TRUE(bytes) << bytes.error().to_string();
    Vm fresh;
    Registry fresh_reg = registry_of(fresh);
    auto r = fresh_reg.load(*bytes, *codec);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(fresh, vm);
    auto again = fresh_reg.save(*codec);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *bytes) << "saving the loaded VM gives the same bytes";
  }
}

TEST(Registry, QemuStreamWithoutSchemaLoadsFromBodyBytes) {
  // The qemu codec keeps bodies it has no schema for as opaque bytes; the
  // registry loads those with the byte loader, the others from trees.
  Vm vm = vm_model::make_sample_vm();
  Registry reg = registry_of(vm);
  auto bytes = reg.save(*make_codec("qemu"));
  ASSERT_TRUE(bytes);
  auto stream = make_codec("qemu")->decode(*bytes);
  ASSERT_TRUE(stream);
  ASSERT_EQ(stream->sections.size(), 3u);
  for (const Section& s : stream->sections) {
    ASSERT_EQ(s.body.members.size(), 1u);
    EXPECT_EQ(s.body.members[0].name, qemu::keys::kOpaque);
  }
  Vm fresh;
  ASSERT_TRUE(registry_of(fresh).load(*stream));
  EXPECT_EQ(fresh, vm);
}

TEST(Registry, SectionsLoadInAnyWireOrder) {
  StateStream s = sample_stream();
  std::reverse(s.sections.begin(), s.sections.end());
  Vm fresh;
  auto r = registry_of(fresh).load(s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(fresh, vm_model::make_sample_vm());
}

TEST(Registry, UnknownSectionIsRefusedByName) {
  StateStream s = sample_stream();
  Section rtc;
  rtc.name = "rtc";
  rtc.instance_id = 2;
  rtc.version_id = 1;
  s.sections.insert(s.sections.begin() + 1, rtc);
  Error e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::unknown_section);
  EXPECT_EQ(e.section, "rtc/2");
}

TEST(Registry, UnregisteredInstanceIsRefusedByName) {
  StateStream s = sample_stream();
  s.sections.back().instance_id = 1;  // only nic/0 is registered
  Error e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::unknown_section);
  EXPECT_EQ(e.section, "nic/1");
  EXPECT_NE(e.message.find("registered: 0"), std::string::npos) << e.to_string();
}

TEST(Registry, MissingSectionIsRefusedByDefault) {
  StateStream s = sample_stream();
  s.sections.erase(s.sections.begin() + 1);
  Error e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::not_found);
  EXPECT_EQ(e.section, "timer/0");

  s.sections.pop_back();  // the nic too: the first is named, the rest counted
  e = refused_without_change(s);
  EXPECT_EQ(e.section, "timer/0");
  EXPECT_NE(e.message.find("1 more missing: nic/0"), std::string::npos) << e.to_string();
}

TEST(Registry, MissingSectionAllowedForOneRegistration) {
  StateStream s = sample_stream();
  s.sections.erase(s.sections.begin() + 1);  // no timer
  Vm target = other_vm();
  Registry reg;
  ASSERT_TRUE(reg.add(vm_model::uart_description(), target.uart));
  ASSERT_TRUE(reg.add(vm_model::timer_description(), target.timer, may_be_missing()));
  ASSERT_TRUE(reg.add(vm_model::nic_description(), target.nic));
  auto r = reg.load(s);
  ASSERT_TRUE(r) << r.error().to_string();
  const Vm sample = vm_model::make_sample_vm();
  EXPECT_EQ(target.uart, sample.uart);
  EXPECT_EQ(target.nic, sample.nic);
  EXPECT_EQ(target.timer, other_vm().timer) << "an absent section leaves its object as it was";

  s.sections.erase(s.sections.begin());  // no uart either: that one is required
  Error e = [&] {
    auto r2 = reg.load(s);
    EXPECT_FALSE(r2);
    return r2 ? Error{} : r2.error();
  }();
  EXPECT_EQ(e.code, Errc::not_found);
  EXPECT_EQ(e.section, "uart/0");
}

TEST(Registry, MissingSectionsAllowedGlobally) {
  StateStream s = sample_stream();
  s.sections.erase(s.sections.begin(), s.sections.begin() + 2);  // only the nic
  Vm target = other_vm();
  RegistryLoadOptions o;
  o.missing = MissingPolicy::allow;
  auto r = registry_of(target).load(s, o);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(target.nic, vm_model::make_sample_vm().nic);
  EXPECT_EQ(target.uart, other_vm().uart);
  EXPECT_EQ(target.timer, other_vm().timer);
}

TEST(Registry, VersionTooNewOrTooOldNamesTheSection) {
  StateStream s = sample_stream();
  s.sections[2].version_id = vm_model::nic_description().version() + 1;
  Error e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::version_too_new);
  EXPECT_EQ(e.section, "nic/0");

  s = sample_stream();
  s.sections[1].version_id = vm_model::timer_description().minimum_version() - 1;
  e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::version_too_old);
  EXPECT_EQ(e.section, "timer/0");
}

TEST(Registry, BadLastSectionLeavesEveryObjectUnchangedThroughEachCodec) {
  // The nic's ring index fails its post_load after uart and timer staged.
  Vm bad = vm_model::make_sample_vm();
  bad.nic.rx_head = vm_model::kNicRingSize;
  Registry bad_reg = registry_of(bad);
  for (std::string_view name : codec_names()) {
    SCOPED_TRACE(std::string(name));
    auto codec = make_codec(name);
    auto bytes = bad_reg.save(*codec);
    ASSERT_TRUE(bytes) << bytes.error().to_string();
    Vm target = other_vm();
    Registry reg = registry_of(target);
    const std::vector<Bytes> before = object_bytes(reg);
    auto r = reg.load(*bytes, *codec);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::hook_failed) << r.error().to_string();
    EXPECT_EQ(r.error().section, "nic/0");
    EXPECT_EQ(object_bytes(reg), before);
    EXPECT_EQ(target, other_vm());
  }
}

TEST(Registry, TruncatedLastBodyLeavesEveryObjectUnchanged) {
  Vm vm = vm_model::make_sample_vm();
  auto bytes = registry_of(vm).save(*make_codec("qemu"));
  ASSERT_TRUE(bytes);
  auto stream = make_codec("qemu")->decode(*bytes);
  ASSERT_TRUE(stream);
  Blob* nic = stream->sections.back().body.members[0].value.get_if<Blob>();
  ASSERT_NE(nic, nullptr);
  // Cut inside the fields (before the subsection), so the body ends early.
  nic->bytes.resize(nic->bytes.size() / 2);
  Error e = refused_without_change(*stream);
  EXPECT_EQ(e.code, Errc::truncated) << e.to_string();
  EXPECT_EQ(e.section, "nic/0");
  EXPECT_TRUE(e.offset.has_value());
  EXPECT_FALSE(e.field_path.empty());
}

TEST(Registry, TreeWithAWrongFieldIsRefusedByFieldName) {
  StateStream s = sample_stream();
  Value* ctrl = s.sections[2].body.find("ctrl");
  ASSERT_NE(ctrl, nullptr);
  *ctrl = Value(std::uint16_t{1});  // u32 in the description
  Error e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::mismatch);
  EXPECT_EQ(e.section, "nic/0");
  EXPECT_EQ(e.field_path, "ctrl");
}

TEST(Registry, SubsectionUnknownToTheDestinationIsRefusedFromTreesAndBytes) {
  // A newer source sends a subsection this build does not know: refused,
  // never skipped, whether the body arrives as a tree or as bytes.
  StateStream s = sample_stream();
  Struct rss;
  rss.members.push_back({"key", Value(std::uint8_t{7})});
  s.sections[2].body.subsections.push_back({"nic/rss", 1, rss});
  Error e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::unknown_subsection) << e.to_string();
  EXPECT_EQ(e.section, "nic/0");

  auto bytes = make_codec("qemu")->encode(s);
  ASSERT_TRUE(bytes);
  auto opaque = make_codec("qemu")->decode(*bytes);
  ASSERT_TRUE(opaque);
  ASSERT_NE(opaque->sections[2].body.members[0].value.get_if<Blob>(), nullptr);
  e = refused_without_change(*opaque);
  EXPECT_EQ(e.code, Errc::unknown_subsection) << e.to_string();
  EXPECT_EQ(e.section, "nic/0");
}

TEST(Registry, SectionSentTwiceIsRefused) {
  StateStream s = sample_stream();
  s.sections.push_back(s.sections[0]);
  Error e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::mismatch);
  EXPECT_EQ(e.section, "uart/0");
}

TEST(Registry, IterativeRecordsAreRefused) {
  StateStream s = sample_stream();
  s.sections[0].kind = SectionKind::start;
  Error e = refused_without_change(s);
  EXPECT_EQ(e.code, Errc::unsupported);
  EXPECT_EQ(e.section, "uart/0");
}

// Two objects of one description, told apart by instance id.
struct TwoNics {
  vm_model::Nic a, b;
};

TwoNics two_nics() {
  TwoNics t{vm_model::make_sample_vm().nic, vm_model::make_sample_vm().nic};
  t.b.mac = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
  t.b.rx_head = 1;
  t.b.tx_ring.clear();
  t.b.tx_count = 0;
  t.b.tso = t.b.rx_csum = false;  // no offload subsection: mss is not sent
  t.b.mss = vm_model::Nic{}.mss;
  return t;
}

Registry registry_of(TwoNics& t) {
  Registry reg;
  EXPECT_TRUE(reg.add(vm_model::nic_description(), t.a, instance(0)));
  EXPECT_TRUE(reg.add(vm_model::nic_description(), t.b, instance(1)));
  return reg;
}

TEST(Registry, TwoInstancesOfOneDeviceRoundTripThroughEachCodec) {
  TwoNics src = two_nics();
  Registry reg = registry_of(src);
  auto tree = reg.save();
  ASSERT_TRUE(tree);
  ASSERT_EQ(tree->sections.size(), 2u);
  EXPECT_EQ(tree->sections[0].label(), "nic/0");
  EXPECT_EQ(tree->sections[1].label(), "nic/1");
  for (std::string_view name : codec_names()) {
    SCOPED_TRACE(std::string(name));
    auto codec = make_codec(name);
    auto bytes = reg.save(*codec);
    ASSERT_TRUE(bytes);
    TwoNics dst;
    auto r = registry_of(dst).load(*bytes, *codec);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(dst.a, src.a);
    EXPECT_EQ(dst.b, src.b);
  }
  // Instances are matched by id, not position: swapped ids swap the objects.
  std::swap(tree->sections[0].instance_id, tree->sections[1].instance_id);
  TwoNics dst;
  ASSERT_TRUE(registry_of(dst).load(*tree));
  EXPECT_EQ(dst.a, src.b);
  EXPECT_EQ(dst.b, src.a);
  // One type in the schemas, however many instances.
  EXPECT_EQ(reg.schemas().devices.size(), 1u);
}

TEST(Registry, RefusesDuplicateAndUnwritableRegistrations) {
  TwoNics t;
  Registry reg;
  ASSERT_TRUE(reg.add(vm_model::nic_description(), t.a));
  auto dup = reg.add(vm_model::nic_description(), t.b);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, Errc::invalid_value);
  EXPECT_EQ(dup.error().section, "nic/0");
  auto too_long = reg.add(vm_model::nic_description(), t.b, section_named(std::string(256, 'n')));
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, Errc::invalid_value);
  EXPECT_EQ(reg.size(), 1u);
  // Another idstr for the same description is another section.
  ASSERT_TRUE(reg.add(vm_model::nic_description(), t.b, section_named("0000:00:03.0/nic")));
  ASSERT_EQ(reg.size(), 2u);
  EXPECT_EQ(reg.registrations()[1].label(), "0000:00:03.0/nic/0");
}

TEST(Registry, RefusesOverlappingObjects) {
  // Two sections over one object would stage two copies; applying the second
  // would undo the first, so the registry refuses the second registration.
  TwoNics t;
  Registry reg;
  ASSERT_TRUE(reg.add(vm_model::nic_description(), t.a));
  auto same = reg.add(vm_model::nic_description(), t.a, instance(1));
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, Errc::invalid_value);
  EXPECT_EQ(same.error().section, "nic/1");
  EXPECT_NE(same.error().message.find("nic/0"), std::string::npos);
  auto member = reg.add(vm_model::nic_desc_description(), t.a.rx_ring[3]);
  ASSERT_FALSE(member) << "a member of a registered object overlaps it";
  ASSERT_TRUE(reg.add(vm_model::nic_description(), t.b, instance(1)));
  EXPECT_EQ(reg.size(), 2u);
}

TEST(Registry, MisusedDescriptionIsRefusedWhenRegistered) {
  struct Bad {
    std::uint8_t n = 0;
    std::array<std::uint8_t, 4> xs{};
  };
  const auto d = describe<Bad>("bad", 1, 1).field("n", &Bad::n).varray("xs", &Bad::xs, &Bad::n, 9);
  Bad b;
  Registry reg;
  auto r = reg.add(d, b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::schema_invalid);
  EXPECT_EQ(reg.size(), 0u);
}

TEST(Registry, SavesOlderVersionsOnRequest) {
  Vm vm = vm_model::make_sample_vm();
  Registry reg = registry_of(vm);
  RegistrySaveOptions o;
  o.versions["nic"] = 1;
  auto s = reg.save(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->sections[2].version_id, 1u);
  EXPECT_EQ(s->sections[0].version_id, vm_model::uart_description().version());
  ByteWriter w;
  auto v = reg.save_body(2, w, o);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 1u);
  const Bytes body(w.bytes().begin(), w.bytes().end());
  EXPECT_EQ(body, *vm_model::nic_description().save(vm.nic, SaveOptions{1}));

  // The newest code loads it; fields v1 lacks keep the destination's values.
  Vm target = other_vm();
  auto r = registry_of(target).load(*s);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(target.nic.mac, vm.nic.mac);
  EXPECT_EQ(target.nic.filter_count, other_vm().nic.filter_count);

  o.versions["nic"] = 9;  // a version the description never had
  auto bad = reg.save(o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::version_too_new);
  EXPECT_EQ(bad.error().section, "nic/0");
}

TEST(LoadTransaction, StagesSectionsOneAtATimeAndAppliesOnCommit) {
  Vm src = vm_model::make_sample_vm();
  Registry src_reg = registry_of(src);
  Vm target = other_vm();
  Registry reg = registry_of(target);
  LoadTransaction t = reg.begin_load();
  EXPECT_EQ(t.missing().size(), 3u);
  for (std::size_t i = src_reg.size(); i-- > 0;) {  // the wire order need not be ours
    ByteWriter w;
    auto v = src_reg.save_body(i, w);
    ASSERT_TRUE(v);
    const Registration& r = src_reg.registrations()[i];
    ASSERT_TRUE(t.stage_body(r.section, r.instance_id, *v, w.bytes()));
    EXPECT_TRUE(t.is_staged(i));
    EXPECT_EQ(target, other_vm()) << "nothing applies before commit";
  }
  EXPECT_TRUE(t.missing().empty());
  EXPECT_EQ(t.staged_count(), 3u);
  ASSERT_TRUE(t.commit());
  EXPECT_EQ(target, src);
  auto again = t.commit();
  ASSERT_FALSE(again) << "a transaction commits once";
}

TEST(LoadTransaction, DroppedWithoutCommitAppliesNothing) {
  const StateStream s = sample_stream();
  Vm target = other_vm();
  Registry reg = registry_of(target);
  {
    LoadTransaction t = reg.begin_load();
    for (const Section& sec : s.sections) ASSERT_TRUE(t.stage(sec));
    EXPECT_TRUE(t.missing().empty());
  }  // a cancelled migration
  EXPECT_EQ(target, other_vm());
}

TEST(LoadTransaction, AFailedStageSpendsTheTransaction) {
  Vm src = vm_model::make_sample_vm();
  Registry src_reg = registry_of(src);
  Vm target = other_vm();
  Registry reg = registry_of(target);
  LoadTransaction t = reg.begin_load();
  ByteWriter uart;
  ASSERT_TRUE(src_reg.save_body(0, uart));
  ASSERT_TRUE(t.stage_body("uart", 0, 3, uart.bytes()));
  // A timer body that ends early, with the error offset inside that body.
  ByteWriter timer;
  ASSERT_TRUE(src_reg.save_body(1, timer));
  auto bad = t.stage_body("timer", 0, 3, ByteSpan(timer.bytes().data(), 5));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::truncated);
  EXPECT_EQ(bad.error().section, "timer/0");
  ASSERT_TRUE(bad.error().offset.has_value());
  EXPECT_LE(*bad.error().offset, 5u);
  // Later sections are refused with the first error; commit applies nothing.
  ByteWriter nic;
  ASSERT_TRUE(src_reg.save_body(2, nic));
  auto after = t.stage_body("nic", 0, 3, nic.bytes());
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().section, "timer/0");
  auto c = t.commit();
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, Errc::truncated);
  EXPECT_EQ(target, other_vm());
}

TEST(Registry, FingerprintsNameTheSchemaOfEachFramedSection) {
  Vm vm = vm_model::make_sample_vm();
  Registry reg = registry_of(vm);
  FramedEncodeOptions enc;
  enc.fingerprints = reg.fingerprints();
  auto s = reg.save();
  ASSERT_TRUE(s);
  auto bytes = encode_framed(*s, enc);
  ASSERT_TRUE(bytes);
  auto back = decode_framed(*bytes);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->provenance.size(), 3u);
  for (std::size_t i = 0; i < reg.size(); ++i) {
    EXPECT_EQ(back->provenance[i].section, reg.registrations()[i].label());
    EXPECT_EQ(back->provenance[i].schema_fingerprint,
              schema_fingerprint(*reg.registrations()[i].schema));
  }
}

}  // namespace
}  // namespace statewire
