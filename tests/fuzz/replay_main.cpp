// Replay driver for the fuzz targets when built without libFuzzer (GCC has none).
//
//   <target> FILE|DIR...        run every input once
//   <target> --mutate N FILE|DIR...  also run N deterministic mutations of each
//                                     (bit flips, truncations, byte insertions,
//                                     splices), so CI exercises the decoders on
//                                     many malformed inputs in seconds.
// A crash, sanitizer report or hang is the failure; the return code of the
// target is ignored, as libFuzzer does.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::uint8_t> read(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The input being run, written to ./crash-input if the target aborts or crashes.
const std::vector<std::uint8_t>* g_current = nullptr;

extern "C" void on_crash(int sig) {
  if (g_current) {
    if (FILE* f = std::fopen("crash-input", "wb")) {
      std::fwrite(g_current->data(), 1, g_current->size(), f);
      std::fclose(f);
    }
    std::fprintf(stderr, "signal %d: input written to ./crash-input (%zu bytes)\n", sig,
                 g_current->size());
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void run(const std::vector<std::uint8_t>& in) {
  g_current = &in;
  LLVMFuzzerTestOneInput(in.data(), in.size());
  g_current = nullptr;
}

std::vector<std::uint8_t> mutate(std::vector<std::uint8_t> in, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n ? static_cast<std::size_t>(rng() % n) : 0; };
  switch (rng() % 6) {
    case 0:  // flip a bit
      if (!in.empty()) in[pick(in.size())] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      break;
    case 1:  // truncate
      in.resize(pick(in.size() + 1));
      break;
    case 2:  // insert a random byte
      in.insert(in.begin() + static_cast<long>(pick(in.size() + 1)), static_cast<std::uint8_t>(rng()));
      break;
    case 3:  // overwrite with an interesting value
      if (!in.empty()) {
        static constexpr std::uint8_t kVals[] = {0x00, 0x01, 0x05, 0x30, 0x7e, 0x7f, 0x80, 0xff};
        in[pick(in.size())] = kVals[rng() % sizeof kVals];
      }
      break;
    case 4:  // delete a range
      if (!in.empty()) {
        std::size_t a = pick(in.size()), n = pick(in.size() - a + 1);
        in.erase(in.begin() + static_cast<long>(a), in.begin() + static_cast<long>(a + n));
      }
      break;
    default:  // duplicate a range
      if (!in.empty()) {
        std::size_t a = pick(in.size()), n = pick(std::min<std::size_t>(64, in.size() - a) + 1);
        std::vector<std::uint8_t> chunk(in.begin() + static_cast<long>(a),
                                        in.begin() + static_cast<long>(a + n));
        in.insert(in.begin() + static_cast<long>(pick(in.size() + 1)), chunk.begin(), chunk.end());
      }
  }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 0;
  std::vector<std::filesystem::path> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mutate" && i + 1 < argc) {
      mutations = std::strtol(argv[++i], nullptr, 10);
      continue;
    }
    if (std::filesystem::is_directory(a)) {
      for (const auto& e : std::filesystem::directory_iterator(a))
        if (e.is_regular_file()) inputs.push_back(e.path());
    } else {
      inputs.push_back(a);
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: %s [--mutate N] FILE|DIR...\n", argv[0]);
    return 2;
  }
  for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) std::signal(sig, on_crash);
  std::mt19937_64 rng(0x5747);  // fixed: a failure reproduces
  std::size_t runs = 0;
  for (const auto& p : inputs) {
    auto seed = read(p);
    run(seed);
    ++runs;
    auto cur = seed;
    for (long m = 0; m < mutations; ++m) {
      cur = (m % 8 == 0) ? mutate(seed, rng) : mutate(cur, rng);
      run(cur);
      ++runs;
    }
  }
  std::printf("%zu inputs ran without a crash\n", runs);
  return 0;
}
