// Shared helpers for tests: where the corpus is, reading files, running the CLI.
#pragma once

#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <sys/wait.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace statewire::testing {

// The real QEMU corpus, unpacked by the build from tests/data/qemu-7.2
// (cmake/test_corpus.cmake; scripts/make-test-corpus.sh makes it).
inline std::filesystem::path corpus_dir() { return STATEWIRE_CORPUS_DIR; }
inline std::filesystem::path data_dir() { return STATEWIRE_TEST_DATA_DIR; }

// A test whose data is missing fails saying which file, instead of reading
// nothing and failing somewhere later (GoogleTest reports the exception).
[[noreturn]] inline void missing_test_data(const std::filesystem::path& p) {
  throw std::runtime_error("missing test data: " + p.string() +
                           " (the corpus is unpacked by the build target statewire_corpus "
                           "from tests/data; scripts/make-test-corpus.sh makes it)");
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) missing_test_data(p);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<std::uint8_t> read_bytes(const std::filesystem::path& p) {
  std::string s = read_file(p);
  return std::vector<std::uint8_t>(s.begin(), s.end());
}

// Every file in the corpus with this extension, sorted.
inline std::vector<std::filesystem::path> corpus_files(const std::string& ext) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(corpus_dir(), ec))
    if (e.path().extension() == ext) out.push_back(e.path());
  if (out.empty()) missing_test_data(corpus_dir() / ("*" + ext));
  std::sort(out.begin(), out.end());
  return out;
}

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout and stderr together
};

// Runs a shell command line, capturing its output.
inline CommandResult run(const std::string& cmdline) {
  CommandResult r;
  FILE* p = popen((cmdline + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string cli() { return STATEWIRE_CLI_PATH; }

// A fresh directory under /tmp, removed with everything in it at scope end.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/statewire-test-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace statewire::testing
