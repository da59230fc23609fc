#include "statewire/session.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <future>
#include <random>
#include <thread>

#include "evolving_model/model.hpp"
#include "session/control.hpp"
#include "session/fault_proxy.hpp"
#include "statewire/describe.hpp"
#include "test_util.hpp"
#include "vm_model/vm_model.hpp"

namespace statewire {
namespace {

using namespace std::chrono_literals;

// One side's memory: a buffer registered as region "ram".
struct Ram {
  explicit Ram(std::size_t size, std::uint64_t seed = 0) : bytes(size, 0) {
    if (seed) {
      std::mt19937_64 g(seed);
      for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
        const std::uint64_t v = g() | 1;
        std::memcpy(&this->bytes[i], &v, 8);
      }
    }
    EXPECT_TRUE(regions.add(MemoryRegion{"ram", this->bytes.data(), this->bytes.size(), 4096}));
  }
  std::vector<std::uint8_t> bytes;
  RegionSet regions;
};

struct Transitions {
  std::mutex mu;
  std::vector<std::pair<SessionState, SessionState>> seen;
  StateObserver observer() {
    return [this](const StateChange& c) {
      std::lock_guard<std::mutex> g(mu);
      seen.emplace_back(c.from, c.to);
    };
  }
  std::vector<SessionState> path() {
    std::lock_guard<std::mutex> g(mu);
    std::vector<SessionState> out;
    for (auto& [from, to] : seen) out.push_back(to);
    return out;
  }
};

struct Pair {
  SessionSummary source, destination;
};

// Runs the destination on a thread listening at `listen_at` and the source
// connecting to `connect_to` (the listener's own address when empty).
Pair migrate(const Registry& src, const SessionMemory& src_mem, Registry& dst,
             const SessionMemory& dst_mem, const Endpoint& listen_at, SourceOptions so = {},
             DestinationOptions dopt = {}, std::optional<Endpoint> connect_to = std::nullopt,
             std::function<Endpoint(const Endpoint&)> via = nullptr) {
  auto listener = Listener::open(listen_at);
  EXPECT_TRUE(listener) << listener.error().to_string();
  if (!listener) return {};
  dopt.accept_timeout = 10s;
  if (dopt.timeout == Timeout(30000)) dopt.timeout = 10s;
  auto dest = std::async(std::launch::async,
                         [&] { return migrate_destination(dst, dst_mem, *listener, dopt); });
  so.timeout = so.timeout == Timeout(30000) ? Timeout(10000) : so.timeout;
  so.connect_timeout = 2s;
  Endpoint to = connect_to.value_or(listener->local());
  if (via) to = via(listener->local());
  Pair p;
  p.source = migrate_source(src, src_mem, to, so);
  p.destination = dest.get();
  return p;
}

Endpoint unix_at(const testing::TempDir& dir, const char* name) {
  return *parse_endpoint("unix:" + (dir.path / name).string());
}

TEST(Session, DeviceStateOverAUnixSocketWithEveryTransitionObserved) {
  testing::TempDir dir;
  vm_model::Vm a = vm_model::make_sample_vm(), b;
  auto ra = vm_model::vm_registry(a);
  auto rb = vm_model::vm_registry(b);
  ASSERT_TRUE(ra && rb);
  Transitions ts, td;
  SourceOptions so;
  so.machine_type = "vm-model";
  so.on_state = ts.observer();
  DestinationOptions dopt;
  dopt.machine_types = {"vm-model"};
  dopt.on_state = td.observer();
  Pair p = migrate(*ra, {}, *rb, {}, unix_at(dir, "s.sock"), so, dopt);
  ASSERT_EQ(p.source.state, SessionState::complete) << p.source.error->to_string();
  ASSERT_EQ(p.destination.state, SessionState::complete);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(p.source.devices_verified.value_or(false));
  EXPECT_TRUE(p.source.verified());
  EXPECT_NE(p.source.answer.find("equals the source's"), std::string::npos) << p.source.answer;
  const std::vector<SessionState> want = {SessionState::negotiate, SessionState::stop_and_copy,
                                          SessionState::complete};
  EXPECT_EQ(ts.path(), want);
  EXPECT_EQ(td.path(), want);
  EXPECT_GT(p.source.device_bytes, 0u);
}

TEST(Session, MemoryAndDevicesOverTcpLoopbackWithTwoChannelsWhileTheGuestWrites) {
  vm_model::Vm a = vm_model::make_sample_vm(), b;
  auto ra = vm_model::vm_registry(a);
  auto rb = vm_model::vm_registry(b);
  ASSERT_TRUE(ra && rb);
  Ram src(8u << 20, 42), dst(8u << 20);
  ProgramDirtyTracker tracker;
  std::atomic<bool> paused{false}, stop{false};
  std::atomic<int> writes{0};
  // The guest: writes pages (and tells the tracker) until paused.
  std::thread guest([&] {
    std::mt19937_64 g(7);
    while (!stop) {
      if (!paused) {
        const std::size_t page = g() % (src.bytes.size() / 4096);
        src.bytes[page * 4096 + 100] ^= 0x5a;
        tracker.mark_dirty(0, page * 4096 + 100, 1);
        writes++;
      }
      std::this_thread::sleep_for(50us);
    }
  });
  SessionMemory sm;
  sm.regions = &src.regions;
  sm.tracker = &tracker;
  sm.policy.downtime_target = 50ms;
  sm.policy.max_rounds = 5;
  int progress = 0;
  sm.progress = [&](const RamProgress&) { ++progress; };
  SessionMemory dm;
  dm.regions = &dst.regions;
  Transitions ts;
  SourceOptions so;
  so.channels = 2;
  so.on_state = ts.observer();
  so.pause = [&] {
    paused = true;
    std::this_thread::sleep_for(2ms);  // the guest's current write lands
  };
  Pair p = migrate(*ra, sm, *rb, dm, *parse_endpoint("tcp:127.0.0.1:0"), so);
  stop = true;
  guest.join();
  ASSERT_EQ(p.source.state, SessionState::complete) << p.source.error->to_string();
  EXPECT_EQ(p.source.channels, 2u);
  EXPECT_GE(p.source.rounds, 2u);
  EXPECT_GT(progress, 0);
  EXPECT_GT(writes.load(), 0);
  EXPECT_TRUE(src.bytes == dst.bytes);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(p.source.memory_verified.value_or(false));
  EXPECT_TRUE(p.destination.memory_verified.value_or(false));
  EXPECT_TRUE(p.source.verified());
  EXPECT_GT(p.source.downtime_ms, 0.0);
  const std::vector<SessionState> want = {SessionState::negotiate, SessionState::iterate,
                                          SessionState::stop_and_copy, SessionState::complete};
  EXPECT_EQ(ts.path(), want);
}

TEST(Session, DestinationWithoutASectionRefusesBeforeAnyMemoryAndTheSourceSaysWhy) {
  testing::TempDir dir;
  vm_model::Vm a = vm_model::make_sample_vm(), b;
  const vm_model::Vm b0 = b;
  auto ra = vm_model::vm_registry(a);
  ASSERT_TRUE(ra);
  Registry partial;  // the destination has a uart and a timer, no nic
  ASSERT_TRUE(partial.add(vm_model::uart_description(), b.uart));
  ASSERT_TRUE(partial.add(vm_model::timer_description(), b.timer));
  Ram src(1u << 20, 3), dst(1u << 20);
  ProgramDirtyTracker tracker;
  SessionMemory sm;
  sm.regions = &src.regions;
  sm.tracker = &tracker;
  SessionMemory dm;
  dm.regions = &dst.regions;
  bool resumed = false;
  SourceOptions so;
  so.resume = [&] { resumed = true; };
  Pair p = migrate(*ra, sm, partial, dm, unix_at(dir, "m.sock"), so);
  EXPECT_EQ(p.source.state, SessionState::failed);
  ASSERT_TRUE(p.source.error);
  EXPECT_TRUE(p.source.refused_by_peer);
  EXPECT_EQ(p.source.error->code, Errc::unknown_section);
  EXPECT_EQ(p.source.error->section, "nic/0");
  EXPECT_EQ(p.source.memory_bytes, 0u);
  EXPECT_FALSE(resumed);  // never paused
  EXPECT_EQ(p.destination.state, SessionState::failed);
  EXPECT_TRUE(b == b0);
  EXPECT_TRUE(std::all_of(dst.bytes.begin(), dst.bytes.end(), [](auto c) { return c == 0; }));
}

// A device whose newer build sends a subsection the older one does not know.
struct Dev {
  std::uint32_t a = 0;
  std::uint8_t extra = 0;
  friend bool operator==(const Dev&, const Dev&) = default;
};
const NativeDescription<Dev>& dev_with_extra() {
  static const auto d = describe<Dev>("dev", 1, 1)
                            .field("a", &Dev::a)
                            .subsection(describe<Dev>("dev/extra", 1, 1).field("extra", &Dev::extra),
                                        "dev_extra_needed", [](const Dev& d) { return d.extra != 0; });
  return d;
}
const NativeDescription<Dev>& dev_plain() {
  static const auto d = describe<Dev>("dev", 1, 1).field("a", &Dev::a);
  return d;
}

TEST(Session, AnUnknownSubsectionIsRefusedWithItsNameAndTheSourceResumes) {
  testing::TempDir dir;
  Dev a{7, 9}, b;
  Registry ra, rb;
  ASSERT_TRUE(ra.add(dev_with_extra(), a));
  ASSERT_TRUE(rb.add(dev_plain(), b));
  int paused = 0, resumed = 0;
  SourceOptions so;
  so.pause = [&] { ++paused; };
  so.resume = [&] { ++resumed; };
  Pair p = migrate(ra, {}, rb, {}, unix_at(dir, "x.sock"), so);
  EXPECT_EQ(p.source.state, SessionState::failed);
  ASSERT_TRUE(p.source.error);
  EXPECT_TRUE(p.source.refused_by_peer);
  EXPECT_EQ(p.source.error->code, Errc::unknown_subsection) << p.source.error->to_string();
  EXPECT_NE(p.source.error->to_string().find("dev/extra"), std::string::npos)
      << p.source.error->to_string();
  EXPECT_EQ(paused, 1);
  EXPECT_EQ(resumed, 1);  // the source runs on
  EXPECT_EQ(b, Dev{});    // the destination applied nothing
  EXPECT_EQ(a, (Dev{7, 9}));
}

TEST(Session, AnOlderSourceReachesANewerDestinationThroughThePlanner) {
  testing::TempDir dir;
  const auto& v2 = evolving_model::build(2);
  const auto& v4 = evolving_model::build(4);
  auto src = v2.instantiate("demo-2.0", evolving_model::Workload::busy);
  auto dst = v4.instantiate("demo-2.0", std::nullopt);
  ASSERT_TRUE(src && dst);
  const TestResolver tests = v4.tests("demo-2.0");
  SourceOptions so;
  so.machine_type = "demo-2.0";
  DestinationOptions dopt;
  for (const auto& m : v4.machines.machines) dopt.machine_types.push_back(m.name);
  dopt.transforms = &evolving_model::transforms();
  dopt.tests = &tests;
  Pair p = migrate((*src)->registry(), {}, (*dst)->registry(), {}, unix_at(dir, "p.sock"), so, dopt);
  ASSERT_EQ(p.source.state, SessionState::complete) << p.source.error->to_string();
  EXPECT_TRUE(p.source.verified()) << p.source.answer;
  bool timer_planned = false;
  for (const auto& s : p.destination.sections)
    if (s.section == "timer/0") timer_planned = s.planner && s.from == 2 && s.to == 3;
  EXPECT_TRUE(timer_planned);
  // What the destination holds is what release 4 holds after loading the
  // same state offline through the planner's reference path.
  auto saved = (*src)->registry().save();
  ASSERT_TRUE(saved);
  auto now = (*dst)->registry().save();
  ASSERT_TRUE(now);
  const Section* timer = nullptr;
  for (const auto& s : now->sections)
    if (s.name == "timer") timer = &s;
  ASSERT_NE(timer, nullptr);
  EXPECT_EQ(timer->version_id, 3u);
  const Value* remaining = timer->body.find("remaining");
  ASSERT_NE(remaining, nullptr);
  std::uint64_t r = 0;
  ASSERT_TRUE(remaining->as_u64(r));
  EXPECT_EQ(r, 100000u * 4);  // count x prescale, computed by the transform
}

TEST(Session, WhatThePlannerCannotCarryIsRefusedAtStopAndCopyWithTheReason) {
  testing::TempDir dir;
  // Release 2 with a prescaler of 4 cannot go to release 1 (no prescaler).
  auto src = evolving_model::build(2).instantiate("demo-1.0", evolving_model::Workload::busy);
  auto dst = evolving_model::build(1).instantiate("demo-1.0", std::nullopt);
  ASSERT_TRUE(src && dst);
  auto before = (*dst)->registry().save();
  ASSERT_TRUE(before);
  int resumed = 0;
  SourceOptions so;
  so.machine_type = "demo-1.0";
  so.resume = [&] { ++resumed; };
  DestinationOptions dopt;
  dopt.transforms = &evolving_model::transforms();
  Pair p = migrate((*src)->registry(), {}, (*dst)->registry(), {}, unix_at(dir, "r.sock"), so, dopt);
  EXPECT_EQ(p.source.state, SessionState::failed);
  ASSERT_TRUE(p.source.error);
  EXPECT_TRUE(p.source.refused_by_peer);
  EXPECT_NE(p.source.error->to_string().find("prescale"), std::string::npos)
      << p.source.error->to_string();
  EXPECT_EQ(resumed, 1);
  auto after = (*dst)->registry().save();
  ASSERT_TRUE(after);
  EXPECT_TRUE(*before == *after);
}

TEST(Session, AMachineTypeTheDestinationLacksIsRefusedInTheHandshake) {
  testing::TempDir dir;
  auto src = evolving_model::build(4).instantiate("demo-4.0", evolving_model::Workload::busy);
  auto dst = evolving_model::build(2).instantiate("demo-2.0", std::nullopt);
  ASSERT_TRUE(src && dst);
  SourceOptions so;
  so.machine_type = "demo-4.0";
  DestinationOptions dopt;
  for (const auto& m : evolving_model::build(2).machines.machines) dopt.machine_types.push_back(m.name);
  dopt.transforms = &evolving_model::transforms();
  Transitions ts;
  so.on_state = ts.observer();
  Pair p = migrate((*src)->registry(), {}, (*dst)->registry(), {}, unix_at(dir, "v.sock"), so, dopt);
  EXPECT_EQ(p.source.state, SessionState::failed);
  ASSERT_TRUE(p.source.error);
  EXPECT_EQ(p.source.error->code, Errc::unsupported);
  EXPECT_NE(p.source.error->message.find("demo-4.0"), std::string::npos);
  const std::vector<SessionState> want = {SessionState::negotiate, SessionState::failed};
  EXPECT_EQ(ts.path(), want);
}

TEST(Session, TheDestinationChoosesItsDevicesByTheMachineTypeOfTheHello) {
  testing::TempDir dir;
  // A release-4 destination made for demo-4.0 by default; the release-2
  // source runs demo-2.0. select_machine makes demo-2.0's devices from the hello.
  auto src = evolving_model::build(2).instantiate("demo-2.0", evolving_model::Workload::busy);
  auto fallback = evolving_model::build(4).instantiate("demo-4.0", std::nullopt);
  ASSERT_TRUE(src && fallback);
  std::unique_ptr<evolving_model::Instance> chosen;
  std::vector<std::string> asked;
  DestinationOptions dopt;
  for (const auto& m : evolving_model::build(4).machines.machines) dopt.machine_types.push_back(m.name);
  dopt.transforms = &evolving_model::transforms();
  TestResolver tests = evolving_model::build(4).tests("demo-2.0");
  dopt.tests = &tests;
  dopt.select_machine = [&](const std::string& machine) -> Result<Registry*> {
    asked.push_back(machine);
    if (machine == "demo-3.0") return fail(Errc::unsupported, "demo-3.0 is switched off here");
    SW_TRY(inst, evolving_model::build(4).instantiate(machine, std::nullopt));
    chosen = std::move(inst);
    return &chosen->registry();
  };
  SourceOptions so;
  so.machine_type = "demo-2.0";
  Pair p = migrate((*src)->registry(), {}, (*fallback)->registry(), {}, unix_at(dir, "m.sock"), so, dopt);
  ASSERT_EQ(p.source.state, SessionState::complete) << p.source.error->to_string();
  EXPECT_TRUE(p.source.verified()) << p.source.answer;
  EXPECT_EQ(asked, std::vector<std::string>{"demo-2.0"});
  EXPECT_EQ(p.destination.machine_type, "demo-2.0");
  ASSERT_TRUE(chosen);
  // The chosen devices got the state; the fallback's were never touched.
  auto fresh = evolving_model::build(4).instantiate("demo-4.0", std::nullopt);
  ASSERT_TRUE(fresh);
  EXPECT_EQ((*fallback)->registry().save_section(0)->body, (*fresh)->registry().save_section(0)->body);

  // A machine type the hook refuses: its reason reaches the source, which runs on.
  auto src3 = evolving_model::build(3).instantiate("demo-3.0", evolving_model::Workload::busy);
  ASSERT_TRUE(src3);
  so.machine_type = "demo-3.0";
  p = migrate((*src3)->registry(), {}, (*fallback)->registry(), {}, unix_at(dir, "n.sock"), so, dopt);
  EXPECT_EQ(p.source.state, SessionState::failed);
  ASSERT_TRUE(p.source.error);
  EXPECT_TRUE(p.source.refused_by_peer);
  EXPECT_EQ(p.source.error->code, Errc::unsupported);
  EXPECT_NE(p.source.error->message.find("demo-3.0 is switched off here"), std::string::npos)
      << p.source.error->to_string();
}

TEST(Session, CancelDuringThePreCopyRoundsAppliesNothingAnywhere) {
  vm_model::Vm a = vm_model::make_sample_vm(), b;
  const vm_model::Vm a0 = a, b0 = b;
  auto ra = vm_model::vm_registry(a);
  auto rb = vm_model::vm_registry(b);
  ASSERT_TRUE(ra && rb);
  Ram src(16u << 20, 5), dst(16u << 20);
  const auto src0 = src.bytes;
  ProgramDirtyTracker tracker;
  SessionMemory sm;
  sm.regions = &src.regions;
  sm.tracker = &tracker;
  sm.bandwidth_limit = 20'000'000;  // ~0.8 s for the first pass: time to cancel
  SessionMemory dm;
  dm.regions = &dst.regions;
  std::atomic<bool> cancel{false};
  SourceOptions so;
  so.cancel = &cancel;
  int paused = 0;
  so.pause = [&] { ++paused; };
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    cancel = true;
  });
  Pair p = migrate(*ra, sm, *rb, dm, *parse_endpoint("tcp:127.0.0.1:0"), so);
  canceller.join();
  EXPECT_EQ(p.source.state, SessionState::cancelled)
      << (p.source.error ? p.source.error->to_string() : "");
  EXPECT_EQ(p.destination.state, SessionState::cancelled)
      << (p.destination.error ? p.destination.error->to_string() : "");
  EXPECT_EQ(paused, 0);
  EXPECT_TRUE(a == a0);
  EXPECT_TRUE(b == b0);
  EXPECT_TRUE(src.bytes == src0);
  EXPECT_TRUE(std::all_of(dst.bytes.begin(), dst.bytes.end(), [](auto c) { return c == 0; }));
  EXPECT_LT(p.source.seconds, 5.0);
}

TEST(Session, NoDestinationListeningFailsAtOnceFromSetup) {
  testing::TempDir dir;
  vm_model::Vm a = vm_model::make_sample_vm();
  auto ra = vm_model::vm_registry(a);
  ASSERT_TRUE(ra);
  Transitions ts;
  SourceOptions so;
  so.on_state = ts.observer();
  so.connect_timeout = 300ms;
  const auto s = migrate_source(*ra, {}, unix_at(dir, "nobody.sock"), so);
  EXPECT_EQ(s.state, SessionState::failed);
  ASSERT_TRUE(s.error);
  EXPECT_EQ(ts.path(), std::vector<SessionState>{SessionState::failed});
}

TEST(Session, AHostilePeerGetsAClearRefusalNeverAnAllocation) {
  testing::TempDir dir;
  vm_model::Vm b;
  const vm_model::Vm b0 = b;
  auto rb = vm_model::vm_registry(b);
  ASSERT_TRUE(rb);
  const Endpoint at = unix_at(dir, "h.sock");
  struct Case {
    Bytes wire;
    Errc code;
  };
  // A hello of garbage; a header claiming 4 GiB; a message that is no hello.
  Bytes garbage = {'M', 1, 0, 0, 0, 12, 'J', 'U', 'N', 'K', 0, 0, 0, 0, 0, 0, 0, 1};
  Bytes huge = {'M', 1, 0xff, 0xff, 0xff, 0xff};
  Bytes wrong = {'M', 7, 0, 0, 0, 0};
  for (const Case& c : {Case{garbage, Errc::bad_magic}, Case{huge, Errc::limit_exceeded},
                        Case{wrong, Errc::mismatch}}) {
    auto listener = Listener::open(at);
    ASSERT_TRUE(listener);
    DestinationOptions dopt;
    dopt.accept_timeout = 5s;
    dopt.timeout = 2s;
    auto dest = std::async(std::launch::async,
                           [&] { return migrate_destination(*rb, {}, *listener, dopt); });
    auto ch = connect(at, 2s);
    ASSERT_TRUE(ch);
    ch->set_timeout(2s);
    ASSERT_TRUE(ch->write(c.wire));
    const SessionSummary s = dest.get();
    EXPECT_EQ(s.state, SessionState::failed);
    ASSERT_TRUE(s.error);
    EXPECT_EQ(s.error->code, c.code) << s.error->to_string();
    // The refusal travels back on the same socket.
    auto m = detail::read_msg(*ch);
    ASSERT_TRUE(m) << m.error().to_string();
    EXPECT_EQ(m->type, detail::Msg::refuse);
    auto e = decode_error(m->payload);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->code, c.code);
    EXPECT_TRUE(b == b0);
  }
}

TEST(Session, ADataChannelFromAnotherSessionIsRefusedOnTheControlChannel) {
  testing::TempDir dir;
  vm_model::Vm b;
  const vm_model::Vm b0 = b;
  auto rb = vm_model::vm_registry(b);
  ASSERT_TRUE(rb);
  Ram dst(1u << 20);
  SessionMemory dm;
  dm.regions = &dst.regions;
  const Endpoint at = unix_at(dir, "d.sock");
  auto listener = Listener::open(at);
  ASSERT_TRUE(listener);
  DestinationOptions dopt;
  dopt.accept_timeout = 5s;
  dopt.timeout = 3s;
  auto dest = std::async(std::launch::async,
                         [&] { return migrate_destination(*rb, dm, *listener, dopt); });
  // A well-formed hello by hand, then a data channel naming another session.
  vm_model::Vm a = vm_model::make_sample_vm();
  auto ra = vm_model::vm_registry(a);
  ASSERT_TRUE(ra);
  Hello h;
  h.machine_type = "vm-model";
  h.session_id = 1234;
  h.capabilities = supported_capabilities();
  h.sections = section_infos(*ra);
  h.regions = layout(dst.regions);
  auto ch = connect(at, 2s);
  ASSERT_TRUE(ch);
  ch->set_timeout(3s);
  ASSERT_TRUE(detail::send_msg(*ch, detail::Msg::hello, encode_hello(h)));
  auto w = detail::read_msg(*ch);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->type, detail::Msg::welcome);
  auto data = connect(at, 2s);
  ASSERT_TRUE(data);
  ASSERT_TRUE(data->write(detail::encode_data_hello(999, 0, 1)));
  auto m = detail::read_msg(*ch);
  ASSERT_TRUE(m) << m.error().to_string();
  ASSERT_EQ(m->type, detail::Msg::refuse);
  auto e = decode_error(m->payload);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, Errc::mismatch);
  EXPECT_NE(e->message.find("session"), std::string::npos) << e->message;
  const SessionSummary s = dest.get();
  EXPECT_EQ(s.state, SessionState::failed);
  EXPECT_TRUE(b == b0);
}

}  // namespace
}  // namespace statewire
