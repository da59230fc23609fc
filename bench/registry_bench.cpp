// The registry's cost over calling the descriptions by hand, on the example
// VM model (uart, timer, nic), side by side in one run:
//   - Direct: each device's description saves / loads its body (what callers
//     wrote by hand before the registry);
//   - Registry bodies: save_body per registration / a LoadTransaction staging
//     each body into a copy and applying all on commit (the path a
//     section-at-a-time session takes);
//   - Registry through a codec: the whole VM as one qemu, framed or JSON
//     stream (tree built, encoded; decoded, loaded, applied).
// Run (one line): build/bench/registry_bench --benchmark_min_time=0.2
//   --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include "statewire/codec.hpp"
#include "statewire/registry.hpp"
#include "vm_model/vm_model.hpp"

namespace {

using namespace statewire;
using vm_model::Vm;

Registry registry_of(Vm& vm) { return std::move(*vm_model::vm_registry(vm)); }

std::vector<Bytes> bodies_of(const Registry& reg) {
  std::vector<Bytes> out;
  for (std::size_t i = 0; i < reg.size(); ++i) {
    ByteWriter w;
    (void)reg.save_body(i, w);
    out.emplace_back(w.bytes().begin(), w.bytes().end());
  }
  return out;
}

std::size_t total_size(const std::vector<Bytes>& bodies) {
  std::size_t n = 0;
  for (const Bytes& b : bodies) n += b.size();
  return n;
}

void BM_VmSave_Direct(benchmark::State& state) {
  const Vm vm = vm_model::make_sample_vm();
  ByteWriter w;
  for (auto _ : state) {
    w.truncate(0);
    bool ok = vm_model::uart_description().save(vm.uart, w).has_value() &&
              vm_model::timer_description().save(vm.timer, w).has_value() &&
              vm_model::nic_description().save(vm.nic, w).has_value();
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(w.bytes().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.size()));
}
BENCHMARK(BM_VmSave_Direct);

void BM_VmSave_RegistryBodies(benchmark::State& state) {
  Vm vm = vm_model::make_sample_vm();
  const Registry reg = registry_of(vm);
  ByteWriter w;
  for (auto _ : state) {
    w.truncate(0);
    bool ok = true;
    for (std::size_t i = 0; i < reg.size(); ++i) ok = reg.save_body(i, w).has_value() && ok;
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(w.bytes().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.size()));
}
BENCHMARK(BM_VmSave_RegistryBodies);

void BM_VmLoad_Direct(benchmark::State& state) {
  Vm vm = vm_model::make_sample_vm();
  const std::vector<Bytes> bodies = bodies_of(registry_of(vm));
  Vm out;
  for (auto _ : state) {
    bool ok = vm_model::uart_description().load(out.uart, bodies[0], 3).has_value() &&
              vm_model::timer_description().load(out.timer, bodies[1], 3).has_value() &&
              vm_model::nic_description().load(out.nic, bodies[2], 3).has_value();
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  if (!(out == vm)) state.SkipWithError("loaded VM differs");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total_size(bodies)));
}
BENCHMARK(BM_VmLoad_Direct);

void BM_VmLoad_RegistryBodies(benchmark::State& state) {
  Vm vm = vm_model::make_sample_vm();
  const Registry src = registry_of(vm);
  const std::vector<Bytes> bodies = bodies_of(src);
  Vm out;
  Registry reg = registry_of(out);
  for (auto _ : state) {
    LoadTransaction t = reg.begin_load();
    bool ok = true;
    for (std::size_t i = 0; i < reg.size(); ++i) {
      const Registration& r = reg.registrations()[i];
      ok = t.stage_body(r.section, r.instance_id, r.version(), bodies[i]).has_value() && ok;
    }
    ok = t.commit().has_value() && ok;
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  if (!(out == vm)) state.SkipWithError("loaded VM differs");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total_size(bodies)));
}
BENCHMARK(BM_VmLoad_RegistryBodies);

const char* const kCodecs[] = {"qemu", "framed", "json"};

void BM_VmSave_RegistryCodec(benchmark::State& state) {
  auto codec = make_codec(kCodecs[state.range(0)]);
  Vm vm = vm_model::make_sample_vm();
  const Registry reg = registry_of(vm);
  std::size_t size = 0;
  for (auto _ : state) {
    auto bytes = reg.save(*codec);
    size = bytes ? bytes->size() : 0;
    benchmark::DoNotOptimize(bytes);
  }
  state.SetLabel(kCodecs[state.range(0)]);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * size));
  state.counters["bytes"] = static_cast<double>(size);
}
BENCHMARK(BM_VmSave_RegistryCodec)->DenseRange(0, 2);

void BM_VmLoad_RegistryCodec(benchmark::State& state) {
  auto codec = make_codec(kCodecs[state.range(0)]);
  Vm vm = vm_model::make_sample_vm();
  auto bytes = registry_of(vm).save(*codec);
  Vm out;
  Registry reg = registry_of(out);
  for (auto _ : state) {
    bool ok = reg.load(*bytes, *codec).has_value();
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  if (!(out == vm)) state.SkipWithError("loaded VM differs");
  state.SetLabel(kCodecs[state.range(0)]);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes->size()));
}
BENCHMARK(BM_VmLoad_RegistryCodec)->DenseRange(0, 2);

}  // namespace

BENCHMARK_MAIN();
