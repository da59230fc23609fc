// `statewire check` speed on the real QEMU 7.2 dumps (214 devices, 4031
// fields each): the two corpus dumps, a dump against itself, a dump against a
// copy with one change in every device (the slow path everywhere), and the
// whole job including parsing both JSON files.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "statewire/check.hpp"
#include "statewire/schema_json.hpp"

namespace {

using namespace statewire;

std::string read(const std::string& name) {
  std::ifstream in(std::string(STATEWIRE_BENCH_CORPUS_DIR) + "/" + name, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string& i440fx_text() {
  static const std::string s = read("vmstate-pc-i440fx-7.2.json");
  return s;
}
const std::string& q35_text() {
  static const std::string s = read("vmstate-pc-q35-5.2.json");
  return s;
}

SchemaSet parse(const std::string& text) {
  auto s = parse_schema_json(text);
  return s ? std::move(*s) : SchemaSet{};
}

// Every device with fields gets its last top-level field widened, so every
// field list goes through alignment and pair comparison.
SchemaSet mutated(SchemaSet s) {
  for (auto& d : s.devices)
    if (d.description.fields && !d.description.fields->empty())
      d.description.fields->back().size += 1;
  return s;
}

void BM_CheckCorpusPair(benchmark::State& state) {
  SchemaSet a = parse(i440fx_text()), b = parse(q35_text());
  if (a.devices.empty() || b.devices.empty()) return state.SkipWithError("corpus not found");
  for (auto _ : state) benchmark::DoNotOptimize(check_compat(a, b));
  state.counters["devices"] = static_cast<double>(a.devices.size());
}
BENCHMARK(BM_CheckCorpusPair)->Unit(benchmark::kMillisecond);

void BM_CheckDumpAgainstItself(benchmark::State& state) {
  SchemaSet a = parse(i440fx_text());
  if (a.devices.empty()) return state.SkipWithError("corpus not found");
  for (auto _ : state) benchmark::DoNotOptimize(check_compat(a, a));
}
BENCHMARK(BM_CheckDumpAgainstItself)->Unit(benchmark::kMillisecond);

void BM_CheckEveryDeviceChanged(benchmark::State& state) {
  SchemaSet a = parse(i440fx_text());
  if (a.devices.empty()) return state.SkipWithError("corpus not found");
  SchemaSet b = mutated(a);
  std::size_t findings = 0;
  for (auto _ : state) {
    CheckReport r = check_compat(a, b);
    findings = r.findings.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["findings"] = static_cast<double>(findings);
}
BENCHMARK(BM_CheckEveryDeviceChanged)->Unit(benchmark::kMillisecond);

void BM_CheckEveryDeviceChangedRenderJson(benchmark::State& state) {
  SchemaSet a = parse(i440fx_text());
  if (a.devices.empty()) return state.SkipWithError("corpus not found");
  SchemaSet b = mutated(a);
  for (auto _ : state) benchmark::DoNotOptimize(render_check_json(check_compat(a, b)));
}
BENCHMARK(BM_CheckEveryDeviceChangedRenderJson)->Unit(benchmark::kMillisecond);

// What `statewire check OLD NEW` does minus process start: parse both files, compare.
void BM_ParseBothAndCheck(benchmark::State& state) {
  if (i440fx_text().empty()) return state.SkipWithError("corpus not found");
  for (auto _ : state) {
    SchemaSet a = parse(i440fx_text()), b = parse(q35_text());
    benchmark::DoNotOptimize(check_compat(a, b));
  }
}
BENCHMARK(BM_ParseBothAndCheck)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
