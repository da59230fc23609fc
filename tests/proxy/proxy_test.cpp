// run_proxy between TCP loopback channels, fed with the real QEMU 7.2 corpus:
// identity is byte for byte, a plan into QEMU 10.2's schemas gives exactly
// what `convert --to-schema` writes, renames and machine types are rewritten
// with the trailer to match, a refusal cuts the stream before the device
// state, and a source that goes away is an error naming it.
#include <gtest/gtest.h>

#include <thread>

#include "statewire/channel.hpp"
#include "statewire/proxy.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/rules_file.hpp"
#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

using namespace std::chrono_literals;
using testing::corpus_dir;
using testing::read_bytes;

struct ProxyRun {
  ProxyResult result;
  Bytes out;
};

// Feeds `input` (the first `cut` bytes of it, then closes) to a proxy and
// collects what reaches the destination.
ProxyRun through(const Bytes& input, const ProxyOptions& opt, std::size_t cut = SIZE_MAX) {
  auto src_l = Listener::open(*parse_endpoint("tcp:127.0.0.1:0"));
  auto dst_l = Listener::open(*parse_endpoint("tcp:127.0.0.1:0"));
  EXPECT_TRUE(src_l && dst_l);
  ProxyRun run;
  std::thread source([&] {
    auto c = connect(src_l->local(), 5s);
    ASSERT_TRUE(c) << c.error().to_string();
    c->set_timeout(10s);
    const std::size_t n = std::min(cut, input.size());
    (void)c->write(ByteSpan(input.data(), n));
    (void)c->shutdown_write();
    std::uint8_t b[256];
    while (true) {  // until the proxy closes
      auto r = c->read(b);
      if (!r || *r == 0) break;
    }
  });
  std::thread destination([&] {
    auto c = dst_l->accept(10s);
    ASSERT_TRUE(c) << c.error().to_string();
    c->set_timeout(10s);
    std::uint8_t b[65536];
    while (true) {
      auto r = c->read(b);
      if (!r || *r == 0) break;
      run.out.insert(run.out.end(), b, b + *r);
    }
  });
  auto s = src_l->accept(10s);
  auto d = connect(dst_l->local(), 5s);
  EXPECT_TRUE(s && d);
  ProxyOptions o = opt;
  o.idle_timeout = 10s;
  run.result = run_proxy(*s, *d, o);
  source.join();
  destination.join();
  return run;
}

Bytes stream(const char* name) { return read_bytes(corpus_dir() / name); }

TEST(Proxy, IdentityIsByteForByteOnEveryCorpusStream) {
  for (const auto& path : testing::corpus_files(".mig")) {
    SCOPED_TRACE(path.filename().string());
    const Bytes in = read_bytes(path);
    ProxyRun r = through(in, {});
    EXPECT_TRUE(r.result.ok) << r.result.reason;
    EXPECT_EQ(r.out, in);
    EXPECT_EQ(r.result.bytes_in, in.size());
    EXPECT_EQ(r.result.bytes_out, in.size());
    EXPECT_TRUE(r.result.rewritten.empty());
    EXPECT_EQ(r.result.held_bytes, 0u);
    EXPECT_GT(r.result.sections, 10u);
  }
}

TEST(Proxy, PlanIntoAnotherReleaseEqualsConvertToSchema) {
  const auto in_path = corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig";
  const auto dump_path = corpus_dir().parent_path() / "qemu-10.2" / "vmstate-pc-i440fx-7.2.json";
  auto dump = load_schema_file(dump_path.string());
  ASSERT_TRUE(dump) << dump.error().to_string();
  SchemaCatalog cat = SchemaCatalog::from_dump(*dump);
  for (auto& d : qemu::builtin_qemu_descriptions()) cat.add(std::move(d));
  TransformSet ts = qemu_builtin_transforms();
  PlanOptions popt;
  popt.transforms = &ts;
  popt.validate.dump_schema = true;
  ProxyOptions opt;
  opt.destination = &cat;
  opt.plan = &popt;
  ProxyRun r = through(read_bytes(in_path), opt);
  ASSERT_TRUE(r.result.ok) << r.result.reason;
  EXPECT_EQ(r.result.rewritten, std::vector<std::string>{"hpet/0"});
  EXPECT_GT(r.result.held_bytes, 0u);

  testing::TempDir t;
  const auto converted = t.path / "converted.mig";
  auto c = testing::run(testing::cli() + " convert '" + in_path.string() + "' '" +
                        converted.string() + "' --to qemu --to-schema '" + dump_path.string() + "'");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  EXPECT_EQ(r.out, read_bytes(converted));
}

TEST(Proxy, RenameAndMachineTypeRewriteTheTrailerToo) {
  const Bytes in = stream("i440fx-4.2-virtio-running2s.mig");
  ProxyOptions opt;
  opt.renames = {{"timer", "timer-moved"}};
  opt.machine_type = "pc-i440fx-7.2";
  ProxyRun r = through(in, opt);
  ASSERT_TRUE(r.result.ok) << r.result.reason;
  EXPECT_TRUE(r.result.configuration_rewritten);
  EXPECT_EQ(r.result.rewritten, std::vector<std::string>{"timer-moved/0"});
  // Headers only: spliced as they pass, no device section held; the section
  // header and its trailer entry grow by the 6 bytes of "-moved", the
  // machine name by none.
  EXPECT_EQ(r.result.held_bytes, 0u);
  EXPECT_EQ(r.out.size(), in.size() + 2 * 6);
  auto out = qemu::decode_qemu_stream(r.out);
  ASSERT_TRUE(out) << out.error().to_string();
  auto orig = qemu::decode_qemu_stream(in);
  ASSERT_TRUE(orig);
  ASSERT_EQ(out->sections.size(), orig->sections.size());
  for (std::size_t i = 0; i < out->sections.size(); ++i) {
    const auto& a = orig->sections[i];
    const auto& b = out->sections[i];
    EXPECT_EQ(b.name, a.name == "timer" ? std::string("timer-moved") : a.name);
    EXPECT_EQ(b.body, a.body) << a.label();  // state unchanged, RAM included
  }
  const Value* conf = out->envelope.find(qemu::keys::kConfiguration);
  ASSERT_NE(conf, nullptr);
  // The configuration record follows the 8-byte header: 0x07, be32 length, name.
  const std::string head(r.out.begin() + 13, r.out.begin() + 26);
  EXPECT_EQ(head, "pc-i440fx-7.2");
  EXPECT_EQ(std::string(in.begin() + 13, in.begin() + 26), "pc-i440fx-4.2");
  auto trailer = qemu::parse_description_trailer(
      std::get<std::string>(out->envelope.find(qemu::keys::kTrailer)->v));
  ASSERT_TRUE(trailer) << trailer.error().to_string();
  bool moved = false, old = false;
  for (const auto& e : *trailer) {
    moved |= e.idstr == "timer-moved";
    old |= e.idstr == "timer";
  }
  EXPECT_TRUE(moved);
  EXPECT_FALSE(old);
}

TEST(Proxy, RefusalCutsTheStreamBeforeAnyDeviceState) {
  const Bytes in = stream("i440fx-7.2-random-ram-4m-paused.mig");
  auto rules = parse_rules_json(R"({"statewire_rules": 1, "transforms": [
      {"section": "hpet", "from": 2, "to": 2, "note": "test",
       "ops": [{"op": "refuse-value", "path": "config", "value": {"t": "u64", "v": 12345},
                "reason": "not this configuration"}]}]})");
  ASSERT_TRUE(rules) << rules.error().to_string();
  PlanOptions popt;
  popt.transforms = &*rules;
  ProxyOptions opt;
  opt.plan = &popt;
  opt.apply_rules_without_plan = true;
  ProxyRun r = through(in, opt);
  EXPECT_FALSE(r.result.ok);
  EXPECT_NE(r.result.reason.find("hpet/0"), std::string::npos) << r.result.reason;
  EXPECT_NE(r.result.reason.find("config"), std::string::npos) << r.result.reason;
  EXPECT_NE(r.result.reason.find("not this configuration"), std::string::npos) << r.result.reason;
  // What went out is the stream up to the first device section, no more.
  ASSERT_GT(r.result.held_bytes, 0u);
  EXPECT_EQ(r.out.size() + r.result.held_bytes, in.size());
  EXPECT_TRUE(std::equal(r.out.begin(), r.out.end(), in.begin()));
}

TEST(Proxy, SourceGoingAwayIsAnErrorNamingIt) {
  const Bytes in = stream("i440fx-7.2-random-ram-4m-paused.mig");
  for (std::size_t cut : {std::size_t(5), in.size() / 2, in.size() - 200}) {
    SCOPED_TRACE(cut);
    for (bool rewriting : {false, true}) {
      ProxyOptions opt;
      if (rewriting) opt.renames = {{"nothing", "else"}};
      ProxyRun r = through(in, opt, cut);
      EXPECT_FALSE(r.result.ok);
      EXPECT_NE(r.result.reason.find("source closed"), std::string::npos) << r.result.reason;
      EXPECT_LE(r.out.size(), cut);
    }
  }
}

// QEMU's multifd: further source connections pass through unchanged, each to
// its own destination connection, opened after the main channel's (which the
// destination, like QEMU 7.2's, takes first).
TEST(Proxy, MultifdChannelsPassThroughAfterTheMainOne) {
  const Bytes main_stream = stream("i440fx-7.2-random-ram-4m-paused.mig");
  std::vector<Bytes> payloads;
  for (std::uint8_t k = 1; k <= 2; ++k) {
    Bytes b(3u << 20);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<std::uint8_t>(i * k + k);
    payloads.push_back(std::move(b));
  }
  auto src_l = Listener::open(*parse_endpoint("tcp:127.0.0.1:0"));
  auto dst_l = Listener::open(*parse_endpoint("tcp:127.0.0.1:0"));
  ASSERT_TRUE(src_l && dst_l);
  auto drain = [](Channel& c, Bytes& into) {
    c.set_timeout(10s);
    std::uint8_t b[65536];
    while (true) {
      auto r = c.read(b);
      if (!r || *r == 0) break;
      into.insert(into.end(), b, b + *r);
    }
  };
  std::vector<Bytes> got(3);  // in the destination's accept order
  std::thread destination([&] {
    std::vector<Channel> conns;
    std::vector<std::thread> readers;
    for (int i = 0; i < 3; ++i) {
      auto c = dst_l->accept(10s);
      ASSERT_TRUE(c) << c.error().to_string();
      conns.push_back(std::move(*c));
    }
    for (int i = 0; i < 3; ++i) readers.emplace_back([&, i] { drain(conns[i], got[i]); });
    for (auto& t : readers) t.join();
  });
  std::thread source([&] {
    auto m = connect(src_l->local(), 5s);
    ASSERT_TRUE(m);
    std::vector<std::thread> writers;
    for (const auto& p : payloads)
      writers.emplace_back([&, &p = p] {
        auto c = connect(src_l->local(), 5s);
        ASSERT_TRUE(c);
        c->set_timeout(10s);
        EXPECT_TRUE(c->write(p));
        (void)c->shutdown_write();
      });
    m->set_timeout(10s);
    EXPECT_TRUE(m->write(main_stream));
    (void)m->shutdown_write();
    for (auto& t : writers) t.join();
    std::uint8_t b[256];
    while (true) {
      auto r = m->read(b);
      if (!r || *r == 0) break;
    }
  });
  auto s = src_l->accept(10s);
  auto d = connect(dst_l->local(), 5s);
  ASSERT_TRUE(s && d);
  ProxyOptions opt;
  opt.idle_timeout = 10s;
  opt.more_sources = &*src_l;
  const Endpoint to = dst_l->local();
  opt.connect_destination = [to] { return connect(to, 5s); };
  ProxyResult r = run_proxy(*s, *d, opt);
  source.join();
  destination.join();
  EXPECT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.extra_channels, 2u);
  EXPECT_EQ(r.extra_bytes, payloads[0].size() + payloads[1].size());
  EXPECT_EQ(r.bytes_in, main_stream.size() + r.extra_bytes);
  EXPECT_EQ(got[0], main_stream);  // the main channel came first
  EXPECT_TRUE((got[1] == payloads[0] && got[2] == payloads[1]) ||
              (got[1] == payloads[1] && got[2] == payloads[0]));
}

}  // namespace
}  // namespace statewire
