// Fuzz target: what a live-migration peer sends before and around the state
// (handshake.hpp, session/control.hpp, memory_region.hpp). The first byte
// picks the decoder, the rest is the payload as it arrives:
//   0 hello   1 welcome   2 error (a refusal)   3 data-channel hello
//   4 memory layout   5 round report   6 complete   7 verdict   8 region CRCs
// Whatever decodes must encode and decode back to the same value. A hello is
// also judged (check_hello) against a fixed destination with a transform
// chain, and against a destination built from the hello itself, which must
// accept it unless a section is announced twice or its version range is empty. Seeds: tests/fuzz/seeds/
// handshake/, written from real registries by tests/hostile/handshake_seeds_test.cpp.
#include <cstdlib>
#include <set>
#include <utility>

#include "session/control.hpp"
#include "statewire/handshake.hpp"
#include "statewire/memory_region.hpp"
#include "statewire/transform.hpp"

namespace {

using namespace statewire;

// The destination the vm model would be: its sections, two regions, and a
// transform chain uart 1 -> 2 -> 3 so versions out of range reach the planner.
const DestinationProfile& fixed_destination() {
  static const TransformSet chain = [] {
    TransformSet ts;
    for (std::uint32_t v : {1u, 2u}) {
      Transform t;
      t.section = "uart";
      t.from = v;
      t.to = v + 1;
      ts.add(std::move(t));
    }
    Transform drop;  // a section the destination lacks, taken by the planner
    drop.section = "legacy";
    drop.from = drop.to = 1;
    ts.add(std::move(drop));
    return ts;
  }();
  static const DestinationProfile d = [] {
    DestinationProfile p;
    p.machine_types = {"vm-model", "demo-2.0"};
    p.capabilities = supported_capabilities();
    p.max_channels = 4;
    p.sections = {{"uart", 0, 3, 3, 0, false}, {"timer", 0, 3, 2, 0, false},
                  {"nic", 0, 3, 1, 0, true}};
    p.regions = {{"ram", 1u << 20, 4096}, {"vram", 8192, 4096}};
    p.transforms = &chain;
    return p;
  }();
  return d;
}

void judge(const Hello& h) {
  if (auto v = check_hello(h, fixed_destination())) {
    auto w = decode_welcome(encode_welcome(v->welcome));
    if (!w || !(*w == v->welcome)) std::abort();
  } else if (encode_error(v.error()).empty()) {
    std::abort();
  }
  // A destination that is exactly what the hello asks for accepts it...
  DestinationProfile self;
  self.machine_types = {h.machine_type};
  self.capabilities = h.capabilities;
  self.max_channels = h.channels;
  self.sections = h.sections;
  self.regions = h.regions;
  // Unless a section is announced twice or its own range excludes its version.
  std::set<std::pair<std::string, std::uint32_t>> seen;
  bool refusable = false;
  for (const auto& s : h.sections)
    refusable = refusable || !seen.insert({s.name, s.instance_id}).second ||
                s.version < s.minimum_version;
  auto v = check_hello(h, self);
  if (refusable) {
    if (v) std::abort();
    return;
  }
  if (!v || v->needs_planner || v->welcome.channels < 1 || v->welcome.channels > h.channels)
    std::abort();
}

template <class T, class Enc, class Dec>
void round_trip(const T& value, Enc enc, Dec dec) {
  auto back = dec(enc(value));
  if (!back || !(*back == value)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const ByteSpan p(data + 1, size - 1);
  switch (data[0] % 9) {
    case 0:
      if (auto h = decode_hello(p)) {
        round_trip(*h, encode_hello, [](ByteSpan b) { return decode_hello(b); });
        judge(*h);
      }
      break;
    case 1:
      if (auto w = decode_welcome(p))
        round_trip(*w, encode_welcome, [](ByteSpan b) { return decode_welcome(b); });
      break;
    case 2:
      if (auto e = decode_error(p)) {
        // The encoder shortens long texts; what a peer sent within the limits comes back.
        auto back = decode_error(encode_error(*e));
        if (!back || back->code != e->code || back->offset != e->offset) std::abort();
        (void)e->to_string();
      }
      break;
    case 3:
      if (auto h = detail::decode_data_hello(p)) {
        auto back = detail::decode_data_hello(detail::encode_data_hello(h->session_id, h->index, h->count));
        if (!back || back->session_id != h->session_id || back->index != h->index ||
            back->count != h->count)
          std::abort();
      }
      break;
    case 4:
      if (auto l = decode_layout(p)) {
        round_trip(*l, [](const auto& v) { return encode_layout(v); },
                   [](ByteSpan b) { return decode_layout(b); });
        (void)check_layout(*l, fixed_destination().regions);
      }
      break;
    case 5:
      if (auto r = detail::decode_round(p)) {
        auto back = detail::decode_round(detail::encode_round(*r));
        if (!back || back->round != r->round || back->final != r->final ||
            back->page_bytes != r->page_bytes || back->wire_bytes != r->wire_bytes)
          std::abort();
      }
      break;
    case 6:
      if (auto c = detail::decode_complete(p)) {
        auto back = detail::decode_complete(detail::encode_complete(*c));
        if (!back || back->device_state_crc != c->device_state_crc ||
            back->sections.size() != c->sections.size())
          std::abort();
        for (std::size_t i = 0; i < c->sections.size(); ++i) {
          const auto &a = c->sections[i], &b = back->sections[i];
          if (a.name != b.name || a.instance_id != b.instance_id || a.version != b.version ||
              a.crc != b.crc)
            std::abort();
        }
      }
      break;
    case 7:
      if (auto v = detail::decode_verdict(p)) {
        auto back = detail::decode_verdict(detail::encode_verdict(*v));
        if (!back || back->ok != v->ok) std::abort();
      }
      break;
    default: {
      // The count the destination expects: its regions (a handful), from the payload's end.
      const std::size_t expected = p.empty() ? 0 : p[p.size() - 1] % 8;
      if (auto c = detail::decode_crcs(p.first(p.empty() ? 0 : p.size() - 1), expected))
        round_trip(*c, detail::encode_crcs,
                   [expected](ByteSpan b) { return detail::decode_crcs(b, expected); });
    }
  }
  return 0;
}
