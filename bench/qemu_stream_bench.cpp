// QEMU stream codec throughput on the real corpus:
//   DeviceSectionDecode  decode_body over every device section of a stream,
//                        schemas from its trailer (bytes = device body bytes)
//   AnalyzeRandomRam     analyze (one streaming pass, RAM counted) over the
//                        stream holding 4 MiB of random RAM (bytes = stream)
//   DecodeTree/EncodeTree  the whole stream to a StateStream and back
//                        (DecodeTree/0: virtio fields as bytes, /1: as trees)
// Compare with `cat STREAM > /dev/null` and QEMU's analyze-migration.py via
// bench/compare_analyze.sh (whole processes, hyperfine).
#include <benchmark/benchmark.h>

#include <fstream>
#include <iterator>

#include "codec/qemu/trailer.hpp"
#include "statewire/qemu_analyze.hpp"
#include "statewire/qemu_stream.hpp"

namespace {

using namespace statewire;

Bytes load(const std::string& name) {
  std::ifstream in(std::string(STATEWIRE_BENCH_CORPUS_DIR) + "/" + name, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every device section body of a stream, with its header.
struct DeviceBodies : qemu::QemuStreamVisitor {
  std::vector<std::pair<qemu::SectionHeader, ByteSpan>> items;
  Result<void> on_device_body(const qemu::SectionHeader& h, Struct&&, ByteSpan raw,
                              qemu::SchemaSource, const Description*) override {
    items.emplace_back(h, raw);
    return {};
  }
};

void DeviceSectionDecode(benchmark::State& state, const char* file) {
  Bytes in = load(file);
  auto trailer = qemu::detail::locate_trailer(in);
  if (!trailer || !*trailer) return state.SkipWithError("no trailer");
  DeviceBodies v;
  qemu::QemuDecodeOptions scan;
  scan.decode_devices = false;
  if (!qemu::scan_qemu_stream(in, v, scan)) return state.SkipWithError("scan failed");
  struct Work {
    const Description* d;
    std::uint32_t version;
    ByteSpan raw;
  };
  std::vector<Work> work;
  std::uint64_t bytes = 0;
  for (const auto& [h, raw] : v.items) {
    const auto* dev = (*trailer)->find(h.idstr, h.instance_id);
    if (!dev) continue;
    work.push_back({dev->description.get(), h.version_id, raw});
    bytes += raw.size();
  }
  for (auto _ : state) {
    for (const Work& w : work) {
      Cursor c(w.raw, 0);
      auto r = decode_body(*w.d, c, w.version);
      if (!r) return state.SkipWithError(r.error().to_string().c_str());
      benchmark::DoNotOptimize(r);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["sections"] = static_cast<double>(work.size());
  state.counters["body_bytes"] = static_cast<double>(bytes);
}
BENCHMARK_CAPTURE(DeviceSectionDecode, virtio, "i440fx-4.2-virtio-running2s.mig");
BENCHMARK_CAPTURE(DeviceSectionDecode, q35_ahci_hda, "q35-5.2-ahci-hda-running2s.mig");

void AnalyzeRandomRam(benchmark::State& state) {
  Bytes in = load("i440fx-7.2-random-ram-4m-paused.mig");
  for (auto _ : state) {
    auto r = qemu::analyze_qemu_stream(in);
    if (!r) return state.SkipWithError(r.error().to_string().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(AnalyzeRandomRam);

void AnalyzeStateJson(benchmark::State& state) {
  Bytes in = load("i440fx-4.2-virtio-running2s.mig");
  qemu::AnalyzeOptions opt;
  opt.state_json = true;
  // 0 lossless (default), 1 qemu-10.2, 2 qemu-7.2: the cost of gathering elements by name.
  opt.layout = static_cast<qemu::StateLayout>(state.range(0));
  for (auto _ : state) {
    auto r = qemu::analyze_qemu_stream(in, opt);
    if (!r) return state.SkipWithError(r.error().to_string().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(AnalyzeStateJson)->Arg(0)->Arg(1)->Arg(2);

// Arg 1: virtio fields decoded into trees (the default); 0: kept as bytes.
void DecodeTree(benchmark::State& state) {
  Bytes in = load("i440fx-4.2-virtio-running2s.mig");
  qemu::QemuDecodeOptions opt;
  opt.custom_infos = state.range(0) != 0;
  for (auto _ : state) {
    auto r = qemu::decode_qemu_stream(in, opt);
    if (!r) return state.SkipWithError(r.error().to_string().c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(DecodeTree)->Arg(0)->Arg(1);

void EncodeTree(benchmark::State& state) {
  Bytes in = load("i440fx-4.2-virtio-running2s.mig");
  auto tree = qemu::decode_qemu_stream(in);
  if (!tree) return state.SkipWithError("decode failed");
  for (auto _ : state) {
    auto r = qemu::encode_qemu_stream(*tree);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(EncodeTree);

}  // namespace

BENCHMARK_MAIN();
