#include "statewire/handshake.hpp"

#include <gtest/gtest.h>

#include "evolving_model/model.hpp"
#include "statewire/registry.hpp"
#include "vm_model/vm_model.hpp"

namespace statewire {
namespace {

Hello sample_hello() {
  vm_model::Vm vm = vm_model::make_sample_vm();
  auto reg = vm_model::vm_registry(vm);
  EXPECT_TRUE(reg);
  Hello h;
  h.producer = "statewire test";
  h.machine_type = "vm-model";
  h.session_id = 0x1122334455667788ull;
  h.capabilities = supported_capabilities();
  h.channels = 2;
  h.sections = section_infos(*reg);
  h.regions = {{"ram", 1u << 20, 4096}, {"vram", 8192, 4096}};
  return h;
}

DestinationProfile profile_for(const Hello& h) {
  DestinationProfile d;
  d.machine_types = {"vm-model"};
  d.capabilities = supported_capabilities();
  d.sections = h.sections;
  d.regions = h.regions;
  return d;
}

TEST(Handshake, HelloRoundTrips) {
  const Hello h = sample_hello();
  auto back = decode_hello(encode_hello(h));
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, h);
  EXPECT_EQ(back->sections.size(), 3u);
}

TEST(Handshake, EveryPrefixOfAHelloIsRefused) {
  const Bytes b = encode_hello(sample_hello());
  for (std::size_t n = 0; n < b.size(); ++n) {
    auto r = decode_hello(ByteSpan(b.data(), n));
    ASSERT_FALSE(r) << "prefix of " << n << " bytes decoded";
  }
}

TEST(Handshake, RefusesBadMagicAndOtherProtocolVersions) {
  Bytes b = encode_hello(sample_hello());
  b[0] = 'X';
  auto r = decode_hello(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::bad_magic);
  b = encode_hello(sample_hello());
  b[9] = 3;  // protocol version 3
  r = decode_hello(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().offset, 8u);
}

TEST(Handshake, HostileCountsAreRefusedBeforeAnyAllocation) {
  Hello h = sample_hello();
  h.sections.clear();
  h.regions.clear();
  Bytes b = encode_hello(h);
  // The section count sits after the channels field, before the layout's
  // u32 length and u16 region count: claim four billion.
  const std::size_t at = b.size() - 10;
  b[at] = b[at + 1] = b[at + 2] = b[at + 3] = 0xff;
  auto r = decode_hello(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_EQ(r.error().offset, at);

  Hello big = sample_hello();
  big.machine_type.assign(5000, 'm');
  r = decode_hello(encode_hello(big));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);

  Hello chans = sample_hello();
  chans.channels = 1000;
  r = decode_hello(encode_hello(chans));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);

  // The layout's region count (u16, after its u32 length) over the limit.
  Bytes regions = encode_hello(h);
  regions[regions.size() - 2] = 0xff;
  regions[regions.size() - 1] = 0xff;
  r = decode_hello(regions);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded);
  EXPECT_EQ(r.error().offset, regions.size() - 2);
  // A layout length past the end.
  Bytes longer = encode_hello(h);
  longer[longer.size() - 3] = 0x40;
  r = decode_hello(longer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::truncated);
  EXPECT_EQ(r.error().offset, longer.size() - 6);
}

TEST(Handshake, RefusesTrailingBytesAndBadPageSizes) {
  Bytes b = encode_hello(sample_hello());
  b.push_back(0);
  EXPECT_FALSE(decode_hello(b));
  Hello h = sample_hello();
  h.regions[0].page_size = 3000;
  auto r = decode_hello(encode_hello(h));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
}

TEST(Handshake, WelcomeAndErrorRoundTrip) {
  Welcome w;
  w.producer = "statewire";
  w.capabilities = supported_capabilities();
  w.channels = 3;
  w.sections = sample_hello().sections;
  auto back = decode_welcome(encode_welcome(w));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, w);

  Error e = make_error(Errc::unknown_subsection, "subsection nic/extra unknown");
  e.section = "nic/0";
  e.field_path = "[nic/extra]";
  e.offset = 77;
  auto eb = decode_error(encode_error(e));
  ASSERT_TRUE(eb);
  EXPECT_EQ(eb->to_string(), e.to_string());
  Bytes bad = encode_error(e);
  bad[0] = 200;
  EXPECT_FALSE(decode_error(bad));
}

TEST(Handshake, AcceptsItsOwnLayoutAndIntersectsCapabilities) {
  const Hello h = sample_hello();
  DestinationProfile d = profile_for(h);
  d.capabilities = parse_capability_list("codec.framed,checksum.crc32c,multi-channel");
  d.max_channels = 1 + 0;
  auto v = check_hello(h, d);
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_FALSE(v->needs_planner);
  EXPECT_EQ(v->welcome.channels, 1u);  // the destination's bound
  EXPECT_FALSE(v->welcome.capabilities.contains(caps::kCompressZstd));
  EXPECT_TRUE(v->welcome.capabilities.contains(caps::kCodecFramed));

  d.max_channels = 8;
  d.capabilities = parse_capability_list("codec.framed");  // no multi-channel
  v = check_hello(h, d);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->welcome.channels, 1u);
}

TEST(Handshake, RefusesAnUnknownSectionNamingIt) {
  const Hello h = sample_hello();
  DestinationProfile d = profile_for(h);
  d.sections.pop_back();  // the destination has no nic
  auto v = check_hello(h, d);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::unknown_section);
  EXPECT_EQ(v.error().section, "nic/0");
}

TEST(Handshake, RefusesASectionItRequiresButIsNotSent) {
  Hello h = sample_hello();
  DestinationProfile d = profile_for(h);
  h.sections.erase(h.sections.begin());  // the source sends no uart
  auto v = check_hello(h, d);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::not_found);
  EXPECT_EQ(v.error().section, "uart/0");
}

TEST(Handshake, RefusesVersionsOutOfRangeWithoutTransformsAndListsEveryProblem) {
  Hello h = sample_hello();
  DestinationProfile d = profile_for(h);
  h.sections[1].version = d.sections[1].version + 1;
  h.regions[0].size *= 2;
  h.machine_type = "pc-q35-9.0";
  auto v = check_hello(h, d);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::unsupported);  // the machine type comes first
  const std::string all = v.error().to_string();
  EXPECT_NE(all.find("3 problems"), std::string::npos) << all;
  EXPECT_NE(all.find("timer/0"), std::string::npos) << all;
  // The layouts are compared by check_layout (memory_region.hpp): by name.
  EXPECT_NE(all.find("memory layouts differ: region 'ram' is 1048576 bytes here and 2097152 on the peer"),
            std::string::npos) << all;
}

TEST(Handshake, EveryLayoutDifferenceIsListedByRegionName) {
  Hello h = sample_hello();
  DestinationProfile d = profile_for(h);
  h.regions[0].page_size = 8192;
  h.regions.erase(h.regions.begin() + 1);  // no vram
  h.regions.push_back({"rom", 65536, 4096});
  auto v = check_hello(h, d);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::mismatch);
  const std::string all = v.error().to_string();
  EXPECT_NE(all.find("region 'ram' has 4096-byte pages here and 8192 on the peer"), std::string::npos) << all;
  EXPECT_NE(all.find("region 'vram' (8192 bytes) is missing on the peer"), std::string::npos) << all;
  EXPECT_NE(all.find("the peer has region 'rom' (65536 bytes) that is not registered here"),
            std::string::npos) << all;
}

TEST(Handshake, VersionsThatDifferGoThroughThePlannerWhenAChainExists) {
  // The evolving model: release 2's timer is version 2, release 4 reads only 3.
  auto src = evolving_model::build(2).instantiate("demo-2.0", evolving_model::Workload::busy);
  auto dst = evolving_model::build(4).instantiate("demo-2.0", std::nullopt);
  ASSERT_TRUE(src && dst);
  Hello h;
  h.machine_type = "demo-2.0";
  h.sections = section_infos((*src)->registry());
  DestinationProfile d;
  d.sections = section_infos((*dst)->registry());
  d.transforms = &evolving_model::transforms();
  auto v = check_hello(h, d);
  ASSERT_TRUE(v) << v.error().to_string();
  EXPECT_TRUE(v->needs_planner);
  bool timer = false;
  for (const auto& s : v->sections)
    if (s.section == "timer/0") timer = s.planner && s.from == 2 && s.to == 3;
  EXPECT_TRUE(timer);

  d.transforms = nullptr;  // the same without transforms: refused, naming the timer
  v = check_hello(h, d);
  ASSERT_FALSE(v);
  EXPECT_NE(v.error().to_string().find("timer/0"), std::string::npos);
}

}  // namespace
}  // namespace statewire
