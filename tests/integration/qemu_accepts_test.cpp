// A real QEMU (Debian's qemu-system-x86 7.2) loads what statewire writes:
// re-encoded corpus streams, and streams with a device field or a RAM page
// edited through the JSON tree, with the edit visible in QEMU's monitor.
// Runs tools/qemu/qemu-accepts; skips when QEMU or python3 is missing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>

#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

const fs::path kCorpus = STATEWIRE_CORPUS_DIR;
const fs::path kTools = STATEWIRE_TOOLS_DIR;

using Run = statewire::testing::CommandResult;
using statewire::testing::read_bytes;
using statewire::testing::run;
using statewire::testing::TempDir;

// Writes `bytes` as NAME.mig beside a copy of the corpus stream's .args and
// asks QEMU to load it, running the monitor commands afterwards.
Run qemu_accepts(const TempDir& t, const fs::path& corpus_stream, const Bytes& bytes,
                 const std::vector<std::string>& hmp = {}) {
  fs::path out = t.path / corpus_stream.filename();
  std::ofstream(out, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  fs::copy_file(corpus_stream.string() + ".args", out.string() + ".args",
                fs::copy_options::overwrite_existing);
  std::string cmd = "'" + (kTools / "qemu-accepts").string() + "' '" + out.string() + "'";
  for (const auto& h : hmp) cmd += " --hmp '" + h + "'";
  return run(cmd);
}

#define SKIP_WITHOUT_QEMU()                                                              \
  do {                                                                                   \
    if (run("command -v qemu-system-x86_64 && command -v python3").exit_code != 0)      \
      GTEST_SKIP() << "qemu-system-x86_64 or python3 is not installed";                  \
  } while (0)

TEST(QemuAccepts, ReencodedCorpusStreamsAreAccepted) {
  SKIP_WITHOUT_QEMU();
  TempDir t;
  for (const auto& path : statewire::testing::corpus_files(".mig")) {
    SCOPED_TRACE(path.filename().string());
    Bytes in = read_bytes(path);
    auto tree = decode_qemu_stream(in);
    ASSERT_TRUE(tree) << tree.error().to_string();
    // Through the JSON, as `statewire convert` does.
    auto back = stream_from_json(to_json(*tree));
    ASSERT_TRUE(back) << back.error().to_string();
    auto out = encode_qemu_stream(*back);
    ASSERT_TRUE(out) << out.error().to_string();
    ASSERT_TRUE(*out == in);
    auto r = qemu_accepts(t, path, *out);
    ASSERT_NE(r.exit_code, 2) << r.out;
    EXPECT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(r.out.rfind("ACCEPTED", 0), 0u) << r.out;
  }
}

// Decodes a corpus stream, lets `edit` change the tree's JSON, encodes it
// into `out` (call under ASSERT_NO_FATAL_FAILURE).
void edited(const fs::path& stream, const std::function<void(Json&)>& edit, Bytes& out) {
  auto tree = decode_qemu_stream(read_bytes(stream));
  ASSERT_TRUE(tree) << tree.error().to_string();
  Json j = Json::parse(to_json(*tree));
  edit(j);
  auto back = stream_from_json(j.dump());
  ASSERT_TRUE(back) << back.error().to_string();
  auto encoded = encode_qemu_stream(*back);
  ASSERT_TRUE(encoded) << encoded.error().to_string();
  out = std::move(*encoded);
}

Json& section(Json& j, const std::string& name) {
  for (auto& s : j["sections"])
    if (s["name"] == name) return s;
  throw std::runtime_error("no section " + name);
}

Json& field(Json& fields, const std::string& name) {
  for (auto& f : fields)
    if (f["n"] == name) return f;
  throw std::runtime_error("no field " + name);
}

TEST(QemuAccepts, EditedCpuRegisterIsLoadedByQemu) {
  SKIP_WITHOUT_QEMU();
  TempDir t;
  const fs::path stream = kCorpus / "isapc-ne2k-paused.mig";
  Bytes out;
  ASSERT_NO_FATAL_FAILURE(edited(stream, [](Json& j) {
    Json& regs = field(section(j, "cpu")["fields"], "env.regs");
    regs["items"][0]["v"] = 0x1234567890abcdefull;  // RAX
  }, out));
  auto r = qemu_accepts(t, stream, out, {"info registers"});
  ASSERT_NE(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // isapc runs a 32-bit CPU model: the monitor shows the low half of RAX.
  EXPECT_NE(r.out.find("EAX=90abcdef"), std::string::npos) << r.out;
}

TEST(QemuAccepts, EditedRamPageIsLoadedByQemu) {
  SKIP_WITHOUT_QEMU();
  TempDir t;
  const fs::path stream = kCorpus / "i440fx-7.2-random-ram-4m-paused.mig";
  std::uint64_t addr = 0;
  bool found = false;
  Bytes out;
  ASSERT_NO_FATAL_FAILURE(edited(stream, [&](Json& j) {
    // The first full page of the guest's RAM block (sw-ram starts at GPA 0).
    for (auto& s : j["sections"]) {
      if (s["name"] != "ram") continue;
      for (auto& f : s["fields"]) {
        if (f["n"] != "records") continue;
        for (auto& rec : f["items"]) {
          auto& fs = rec["fields"];
          bool page = false, ours = false;
          for (auto& m : fs) {
            if (m["n"] == "data") page = true;
            if (m["n"] == "block" && m["v"] == "sw-ram") ours = true;
          }
          if (!page || !ours) continue;
          for (auto& m : fs) {
            if (m["n"] == "addr") {
              addr = m["v"].get<std::uint64_t>();
              found = true;
            }
            if (m["n"] == "data") {
              std::string hex = m["v"];
              hex.replace(0, 8, "deadbeef");
              m["v"] = hex;
            }
          }
          return;
        }
      }
    }
  }, out));
  ASSERT_TRUE(found) << "no full page of block sw-ram in the stream";
  char cmd[64];
  std::snprintf(cmd, sizeof cmd, "xp /4xb 0x%llx", static_cast<unsigned long long>(addr));
  auto r = qemu_accepts(t, stream, out, {cmd});
  ASSERT_NE(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("0xde 0xad 0xbe 0xef"), std::string::npos) << r.out;
}

// The other direction: a tree QEMU must refuse is refused, with QEMU's reason.
TEST(QemuAccepts, SectionVersionNewerThanQemusIsRejected) {
  SKIP_WITHOUT_QEMU();
  TempDir t;
  const fs::path stream = kCorpus / "microvm-virtio-paused.mig";
  auto tree = decode_qemu_stream(read_bytes(stream));
  ASSERT_TRUE(tree) << tree.error().to_string();
  for (auto& s : tree->sections)
    if (s.name == "cpu") s.version_id = 99;
  auto out = encode_qemu_stream(*tree);
  ASSERT_TRUE(out);
  auto r = qemu_accepts(t, stream, *out);
  ASSERT_NE(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(r.out.rfind("REJECTED", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("unsupported version 99 for 'cpu'"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace statewire::qemu
