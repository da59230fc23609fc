// The transform layer on a real QEMU 7.2 stream (i440fx, 24 device sections):
// validating every section against the stream's own trailer (what `convert
// --to qemu` adds before writing), planning into QEMU 10.2's schemas with the
// built-in repairs (what `plan` and `convert --to-schema` do), and decoding
// the same stream for scale.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "statewire/planner.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/schema_json.hpp"

namespace {

using namespace statewire;

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& stream_bytes() {
  static const std::string s =
      read(std::string(STATEWIRE_BENCH_CORPUS_DIR) + "/i440fx-7.2-random-ram-4m-paused.mig");
  return s;
}

ByteSpan span() {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(stream_bytes().data()), stream_bytes().size());
}

const StateStream& stream() {
  static const StateStream s = [] {
    auto r = qemu::decode_qemu_stream(span());
    return r ? std::move(*r) : StateStream{};
  }();
  return s;
}

void BM_DecodeStream(benchmark::State& st) {
  for (auto _ : st) {
    auto r = qemu::decode_qemu_stream(span());
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_DecodeStream)->Unit(benchmark::kMicrosecond);

void BM_ValidateAgainstTrailer(benchmark::State& st) {
  const Value* t = stream().envelope.find(qemu::keys::kTrailer);
  auto c = SchemaCatalog::from_trailer(t ? *t->get_if<std::string>() : std::string());
  if (!c) return st.SkipWithError("no trailer");
  for (auto _ : st) {
    auto v = validate_stream(stream(), [&](const Section& s) { return c->find_all(s.name, s.instance_id); });
    if (!v.ok()) st.SkipWithError("unexpected problems");
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_ValidateAgainstTrailer)->Unit(benchmark::kMicrosecond);

// QEMU 10.2's schemas for a machine type, with the built-in repairs.
struct Into102 {
  SchemaCatalog catalog;
  TransformSet transforms = qemu_builtin_transforms();
  PlanOptions opt;
  bool ok = false;
  explicit Into102(const std::string& machine) {
    auto dump = load_schema_file(std::string(STATEWIRE_BENCH_CORPUS_DIR) + "/../qemu-10.2/vmstate-" +
                                 machine + ".json");
    if (!dump) return;
    catalog = SchemaCatalog::from_dump(*dump);
    for (auto& d : qemu::builtin_qemu_descriptions()) catalog.add(std::move(d));
    opt.transforms = &transforms;
    opt.validate.dump_schema = true;
    ok = true;
  }
};

void BM_PlanInto102(benchmark::State& st) {
  const Into102 to("pc-i440fx-7.2");
  if (!to.ok) return st.SkipWithError("QEMU 10.2 dump not present");
  for (auto _ : st) {
    MigrationPlan p = plan_migration(stream(), to.catalog, to.opt);  // copies the stream, RAM included
    if (!p.ok()) st.SkipWithError("refused");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_PlanInto102)->Unit(benchmark::kMicrosecond);

// What a streamed `convert --to qemu` of a file adds once before its first
// section: the description trailer read into a catalog to check against.
void BM_TrailerCatalog(benchmark::State& st) {
  const Value* t = stream().envelope.find(qemu::keys::kTrailer);
  if (!t) return st.SkipWithError("no trailer");
  for (auto _ : st) {
    auto c = SchemaCatalog::from_trailer(*t->get_if<std::string>());
    if (!c) st.SkipWithError("trailer refused");
    benchmark::DoNotOptimize(c);
  }
}
BENCHMARK(BM_TrailerCatalog)->Unit(benchmark::kMicrosecond);

// The devices that differ between 7.2 and 10.2 (e1000e, am53c974, pvscsi on
// q35, 26 sections, 32 MiB mostly zero RAM) planned into 10.2's schemas.
void BM_PlanDevicesInto102(benchmark::State& st) {
  static const std::string bytes =
      read(std::string(STATEWIRE_BENCH_CORPUS_DIR) + "/q35-7.2-e1000e-esp-pvscsi-paused.mig");
  auto s = qemu::decode_qemu_stream(
      ByteSpan(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
  const Into102 to("pc-q35-7.2");
  if (!s || !to.ok) return st.SkipWithError("corpus stream or QEMU 10.2 dump not present");
  for (auto _ : st) {
    MigrationPlan p = plan_migration(*s, to.catalog, to.opt);
    if (!p.ok()) st.SkipWithError("refused");
    benchmark::DoNotOptimize(p);
  }
}
BENCHMARK(BM_PlanDevicesInto102)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
