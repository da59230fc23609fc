// The registry on real QEMU 7.2 streams: two of QEMU's own sections (the CPU
// timers and the global run state, described here in C++ as a program of
// ours would describe them) load from every corpus stream, both from the trees
// the stream's own trailer explains and from opaque body bytes, and save back
// to QEMU's exact bytes; a whole QEMU stream is refused at its first section
// this registry does not know, with nothing changed.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "statewire/registry.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

// softmmu/cpu-timers.c vmstate_timers (QEMU 7.2): version 2, minimum 1.
struct CpuTimers {
  std::int64_t cpu_ticks_offset = 0;
  std::int64_t cpu_clock_offset = 0;
  friend bool operator==(const CpuTimers&, const CpuTimers&) = default;
};

// migration/global_state.c vmstate_globalstate (QEMU 7.2): the run state name
// as a NUL-terminated string in a 100-byte buffer, and its length plus one.
struct GlobalState {
  std::uint32_t size = 0;
  std::array<std::uint8_t, 100> runstate{};
  friend bool operator==(const GlobalState&, const GlobalState&) = default;
};

const NativeDescription<CpuTimers>& timers_description() {
  static const auto d = describe<CpuTimers>("timer", 2, 1)
                            .field("cpu_ticks_offset", &CpuTimers::cpu_ticks_offset)
                            .unused(8)
                            .field("cpu_clock_offset", &CpuTimers::cpu_clock_offset, since(2));
  return d;
}

const NativeDescription<GlobalState>& global_state_description() {
  static const auto d = describe<GlobalState>("globalstate", 1, 1)
                            .field("size", &GlobalState::size)
                            .buffer("runstate", &GlobalState::runstate)
                            .post_load([](GlobalState& g, std::uint32_t) -> Result<void> {
                              if (g.size == 0 || g.size > g.runstate.size())
                                return fail(Errc::hook_failed, "run state size out of range");
                              return ok();
                            });
  return d;
}

struct QemuMachine {
  CpuTimers timers;
  GlobalState global;
};

Registry registry_of(QemuMachine& m) {
  Registry reg;
  EXPECT_TRUE(reg.add(timers_description(), m.timers));
  EXPECT_TRUE(reg.add(global_state_description(), m.global));
  return reg;
}

StateStream only(const StateStream& s, std::initializer_list<std::string_view> names) {
  StateStream out;
  for (const Section& sec : s.sections)
    if (std::find(names.begin(), names.end(), sec.name) != names.end()) out.sections.push_back(sec);
  return out;
}

Bytes body_bytes(const Struct& body) {
  ByteWriter w;
  EXPECT_TRUE(encode_body(body, w));
  return Bytes(w.bytes().begin(), w.bytes().end());
}

TEST(RegistryCorpus, QemuSectionsLoadFromTreesAndFromBytesAndSaveBackExactly) {
  const auto files = testing::corpus_files(".mig");
  ASSERT_FALSE(files.empty());
  // With the stream's own trailer (trees), and without any schema (bytes).
  CodecOptions bytes_only;
  bytes_only.qemu.schema_order.clear();
  const std::unique_ptr<Codec> codecs[] = {make_codec("qemu"), make_codec("qemu", bytes_only)};
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    const Bytes file = testing::read_bytes(path);
    std::optional<QemuMachine> first;
    for (const auto& codec : codecs) {
      auto decoded = codec->decode(file);
      ASSERT_TRUE(decoded) << decoded.error().to_string();
      const StateStream ours = only(*decoded, {"timer", "globalstate"});
      ASSERT_EQ(ours.sections.size(), 2u);
      QemuMachine m;
      Registry reg = registry_of(m);
      auto r = reg.load(ours);
      ASSERT_TRUE(r) << r.error().to_string();
      // Saved again, each body is QEMU's own bytes.
      for (const Section& s : ours.sections) {
        const std::size_t i = *reg.find(s.name, s.instance_id);
        ByteWriter w;
        auto v = reg.save_body(i, w, RegistrySaveOptions{{{s.name, s.version_id}}});
        ASSERT_TRUE(v) << v.error().to_string();
        EXPECT_EQ(Bytes(w.bytes().begin(), w.bytes().end()), body_bytes(s.body)) << s.name;
      }
      // The run state is what the corpus tool did: "paused" streams were saved
      // from -S before the guest ran ("prelaunch"), "running" ones after the
      // tool ran the guest and stopped it ("paused").
      const std::string runstate(reinterpret_cast<const char*>(m.global.runstate.data()));
      EXPECT_EQ(m.global.size, runstate.size() + 1);
      const bool ran = path.filename().string().find("running") != std::string::npos;
      EXPECT_EQ(runstate, ran ? "paused" : "prelaunch");
      // Trees and bytes give the same objects.
      if (!first) {
        first = m;
      } else {
        EXPECT_EQ(m.timers, first->timers);
        EXPECT_EQ(m.global, first->global);
      }
    }
  }
}

// The same section described with other tree shapes than QEMU's trailer gives
// (the run state as an array of bytes, not one buffer; the padding as a u64):
// the same wire bytes, so the registry loads it from the body bytes.
struct GlobalStateAsArray {
  std::uint32_t size = 0;
  std::array<std::uint8_t, 100> runstate{};
};
struct CpuTimersWithPad {
  std::int64_t cpu_ticks_offset = 0;
  std::uint64_t pad = 0;
  std::int64_t cpu_clock_offset = 0;
};

TEST(RegistryCorpus, OtherTreeShapesForTheSameBytesLoadFromTheBodyBytes) {
  const auto global = describe<GlobalStateAsArray>("globalstate", 1, 1)
                          .field("size", &GlobalStateAsArray::size)
                          .field("runstate", &GlobalStateAsArray::runstate);
  const auto timers = describe<CpuTimersWithPad>("timer", 2, 1)
                          .field("cpu_ticks_offset", &CpuTimersWithPad::cpu_ticks_offset)
                          .field("unused", &CpuTimersWithPad::pad)
                          .field("cpu_clock_offset", &CpuTimersWithPad::cpu_clock_offset, since(2));
  for (const auto& path : testing::corpus_files(".mig")) {
    SCOPED_TRACE(path.filename().string());
    const Bytes file = testing::read_bytes(path);
    auto decoded = make_codec("qemu")->decode(file);
    ASSERT_TRUE(decoded);
    const StateStream ours = only(*decoded, {"timer", "globalstate"});
    GlobalStateAsArray g;
    CpuTimersWithPad t;
    Registry reg;
    ASSERT_TRUE(reg.add(global, g));
    ASSERT_TRUE(reg.add(timers, t));
    RegistryLoadOptions strict;
    strict.bytes_when_shapes_differ = false;
    auto strict_r = reg.load(ours, strict);
    if (ours.sections[0].body.find(qemu::keys::kOpaque)) {
      EXPECT_TRUE(strict_r) << "no trailer: the bodies are bytes, loaded as such";
    } else {
      ASSERT_FALSE(strict_r) << "strict: the trailer's tree is not our shape";
      EXPECT_EQ(strict_r.error().code, Errc::mismatch);
      EXPECT_FALSE(strict_r.error().field_path.empty());
    }
    auto r = reg.load(ours);
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_EQ(g.size, std::strlen(reinterpret_cast<const char*>(g.runstate.data())) + 1);
    QemuMachine m;  // the buffer-shaped descriptions agree on every value
    ASSERT_TRUE(registry_of(m).load(ours));
    EXPECT_EQ(g.runstate, m.global.runstate);
    EXPECT_EQ(t.cpu_ticks_offset, m.timers.cpu_ticks_offset);
    EXPECT_EQ(t.cpu_clock_offset, m.timers.cpu_clock_offset);
    EXPECT_EQ(t.pad, 0u);
  }
}

TEST(RegistryCorpus, WholeQemuStreamIsRefusedAtItsFirstUnknownSection) {
  for (const auto& path : testing::corpus_files(".mig")) {
    SCOPED_TRACE(path.filename().string());
    auto decoded = make_codec("qemu")->decode(testing::read_bytes(path));
    ASSERT_TRUE(decoded);
    std::string first_unknown;
    for (const Section& s : decoded->sections) {
      if (s.name != "timer" && s.name != "globalstate") {
        first_unknown = s.label();
        break;
      }
    }
    ASSERT_FALSE(first_unknown.empty());
    QemuMachine m;
    m.timers.cpu_ticks_offset = 12345;
    Registry reg = registry_of(m);
    auto r = reg.load(*decoded);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::unknown_section);
    EXPECT_EQ(r.error().section, first_unknown);
    EXPECT_EQ(m.timers.cpu_ticks_offset, 12345);
    EXPECT_EQ(m.global, GlobalState{});
  }
}

}  // namespace
}  // namespace statewire
