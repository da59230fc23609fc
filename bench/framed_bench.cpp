// Framed codec vs the QEMU codec on the same trees: every corpus stream,
// decoded once, then encoded and decoded by each codec in one run.
//
//   build/bench/framed_bench --benchmark_min_time=0.5
//
// Target (issue): framed encode+decode at most 1.3x the QEMU codec's time,
// without compression. Compressed variants show the ratio in the counters.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"

namespace {

using namespace statewire;

struct Corpus {
  std::vector<std::string> names;
  std::vector<Bytes> raw;
  std::vector<StateStream> trees;
};

const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus out;
    std::filesystem::path dir = STATEWIRE_BENCH_CORPUS_DIR;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".mig") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      Bytes b{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      auto tree = qemu::decode_qemu_stream(b);
      if (!tree) continue;
      out.names.push_back(f.stem().string());
      out.raw.push_back(std::move(b));
      out.trees.push_back(std::move(*tree));
    }
    return out;
  }();
  return c;
}

std::uint64_t total_bytes() {
  std::uint64_t n = 0;
  for (const auto& b : corpus().raw) n += b.size();
  return n;
}

void BM_QemuEncode(benchmark::State& st) {
  for (auto _ : st)
    for (const auto& t : corpus().trees) benchmark::DoNotOptimize(qemu::encode_qemu_stream(t));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * total_bytes()));
}

void BM_QemuDecode(benchmark::State& st) {
  for (auto _ : st)
    for (const auto& b : corpus().raw) benchmark::DoNotOptimize(qemu::decode_qemu_stream(b));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * total_bytes()));
}

void BM_FramedEncode(benchmark::State& st) {
  FramedEncodeOptions o;
  o.compression = static_cast<Compression>(st.range(0));
  std::uint64_t out = 0;
  for (auto _ : st) {
    out = 0;
    for (const auto& t : corpus().trees) {
      auto b = encode_framed(t, o);
      out += b->size();
      benchmark::DoNotOptimize(b);
    }
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * total_bytes()));
  st.counters["size_vs_qemu"] = static_cast<double>(out) / static_cast<double>(total_bytes());
}

void BM_FramedDecode(benchmark::State& st) {
  FramedEncodeOptions o;
  o.compression = static_cast<Compression>(st.range(0));
  std::vector<Bytes> framed;
  for (const auto& t : corpus().trees) framed.push_back(*encode_framed(t, o));
  for (auto _ : st)
    for (const auto& b : framed) benchmark::DoNotOptimize(decode_framed(b));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * total_bytes()));
}

BENCHMARK(BM_QemuEncode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FramedEncode)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_QemuDecode)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FramedDecode)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
