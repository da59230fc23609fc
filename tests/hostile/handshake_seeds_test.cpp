// The handshake fuzz target's seeds (tests/fuzz/seeds/handshake/) are real
// messages: a Hello from the vm model's and the evolving model's registries,
// the destination's answers to them, and the control messages around the state.
// Each file is one selector byte (which decoder, see handshake_fuzz.cpp) and
// a payload. This test checks that every committed seed still decodes as what
// it is, so a change of the wire format cannot leave the fuzzer starting from
// inputs its decoders refuse at the first bytes; it rewrites them with
//   STATEWIRE_WRITE_FUZZ_SEEDS=1 build/tests/statewire_tests --gtest_filter='HandshakeSeeds*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "evolving_model/model.hpp"
#include "session/control.hpp"
#include "statewire/handshake.hpp"
#include "statewire/memory_region.hpp"
#include "statewire/registry.hpp"
#include "test_util.hpp"
#include "vm_model/vm_model.hpp"

namespace statewire {
namespace {

const std::filesystem::path kSeedDir = std::filesystem::path(STATEWIRE_TESTS_DIR) / "fuzz/seeds/handshake";

Bytes tagged(std::uint8_t selector, const Bytes& payload) {
  Bytes b{selector};
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// Every seed, by file name, made from the models' registries.
std::map<std::string, Bytes> make_seeds() {
  std::map<std::string, Bytes> out;
  vm_model::Vm vm = vm_model::make_sample_vm();
  auto reg = vm_model::vm_registry(vm);
  EXPECT_TRUE(reg);
  if (!reg) return out;
  Hello h;
  h.producer = "statewire seeds";
  h.machine_type = "vm-model";
  h.session_id = 0x5eed5eed12345678ull;
  h.capabilities = supported_capabilities();
  h.channels = 2;
  h.sections = section_infos(*reg);
  h.regions = {{"ram", 1u << 20, 4096}, {"vram", 8192, 4096}};
  out["hello_vm_model.bin"] = tagged(0, encode_hello(h));

  DestinationProfile d;
  d.machine_types = {"vm-model"};
  d.capabilities = supported_capabilities();
  d.sections = h.sections;
  d.regions = h.regions;
  auto v = check_hello(h, d);
  EXPECT_TRUE(v);
  if (v) out["welcome_vm_model.bin"] = tagged(1, encode_welcome(v->welcome));

  // Release 2 of the evolving model speaks older versions: the hello the
  // planner path is for, and its refusal by a destination without transforms.
  auto src = evolving_model::build(2).instantiate("demo-2.0", evolving_model::Workload::busy);
  auto dst = evolving_model::build(4).instantiate("demo-2.0", std::nullopt);
  EXPECT_TRUE(src && dst);
  if (src && dst) {
    Hello old;
    old.producer = "statewire seeds";
    old.machine_type = "demo-2.0";
    old.capabilities = parse_capability_list("codec.framed,checksum.crc32c");
    old.sections = section_infos((*src)->registry());
    out["hello_evolving_2.bin"] = tagged(0, encode_hello(old));
    DestinationProfile d4;
    d4.sections = section_infos((*dst)->registry());
    auto refused = check_hello(old, d4);
    EXPECT_FALSE(refused);
    if (!refused) out["refusal_evolving.bin"] = tagged(2, encode_error(refused.error()));
  }

  out["data_hello.bin"] = tagged(3, detail::encode_data_hello(h.session_id, 1, 2));
  out["layout.bin"] = tagged(4, encode_layout(h.regions));
  out["round.bin"] = tagged(5, detail::encode_round({3, true, 1u << 20, 70000}));
  detail::CompleteReport c;
  c.device_state_crc = 0xdeadbeef;
  for (const auto& s : h.sections) c.sections.push_back({s.name, s.instance_id, s.version, 0x1234});
  out["complete.bin"] = tagged(6, detail::encode_complete(c));
  out["verdict.bin"] = tagged(7, detail::encode_verdict({1, "every section verified"}));
  Bytes crcs = tagged(8, detail::encode_crcs({0x11111111, 0x22222222}));
  crcs.push_back(2);  // the count the destination expects
  out["crcs.bin"] = crcs;
  return out;
}

// Whether a seed decodes with the decoder its first byte picks.
bool decodes(const Bytes& seed) {
  if (seed.empty()) return false;
  ByteSpan p(seed.data() + 1, seed.size() - 1);
  switch (seed[0]) {
    case 0: return decode_hello(p).has_value();
    case 1: return decode_welcome(p).has_value();
    case 2: return decode_error(p).has_value();
    case 3: return detail::decode_data_hello(p).has_value();
    case 4: return decode_layout(p).has_value();
    case 5: return detail::decode_round(p).has_value();
    case 6: return detail::decode_complete(p).has_value();
    case 7: return detail::decode_verdict(p).has_value();
    case 8: return !p.empty() && detail::decode_crcs(p.first(p.size() - 1), p.back()).has_value();
    default: return false;
  }
}

TEST(HandshakeSeeds, EveryCommittedSeedDecodesAsWhatItIs) {
  const auto seeds = make_seeds();
  ASSERT_EQ(seeds.size(), 10u);
  if (std::getenv("STATEWIRE_WRITE_FUZZ_SEEDS")) {
    std::filesystem::create_directories(kSeedDir);
    for (const auto& [name, bytes] : seeds)
      std::ofstream(kSeedDir / name, std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  for (const auto& [name, bytes] : seeds) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(decodes(bytes));  // what the models make today
    const Bytes committed = testing::read_bytes(kSeedDir / name);
    EXPECT_TRUE(decodes(committed))
        << "the committed seed no longer decodes: rewrite the seeds with "
           "STATEWIRE_WRITE_FUZZ_SEEDS=1 (see this file's head)";
  }
}

}  // namespace
}  // namespace statewire
