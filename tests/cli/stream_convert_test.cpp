// `convert` and `analyze` on pipes, section at a time: every corpus stream
// crosses qemu -> framed (compressed or not) -> qemu through pipes unchanged;
// a cut stream fails naming the offset and leaves no output file; and a
// stream larger than the memory the processes may use converts anyway.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "statewire/byte_source.hpp"
#include "statewire/qemu_stream.hpp"
#include "test_util.hpp"

namespace statewire::testing {
namespace {

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

TEST(StreamConvert, EveryCorpusStreamCrossesPipesToFramedAndBackUnchanged) {
  TempDir t;
  for (const auto& s : corpus_files(".mig")) {
    for (std::string compress : {"none", "zstd", "lz4"}) {
      SCOPED_TRACE(s.filename().string() + " " + compress);
      const auto out = t.path / "back.mig";
      auto r = run("cat " + quoted(s) + " | " + cli() + " convert - - --to framed --compress " +
                   compress + " | " + cli() + " convert - - --to qemu > " + quoted(out));
      ASSERT_EQ(r.exit_code, 0) << r.out;
      EXPECT_TRUE(read_bytes(out) == read_bytes(s));
    }
  }
}

TEST(StreamConvert, ZstdInputIsDecompressedAsItIsRead) {
  TempDir t;
  for (const auto& s : corpus_files(".mig")) {
    SCOPED_TRACE(s.filename().string());
    const auto zst = t.path / "in.mig.zst";
    ASSERT_EQ(run("zstd -q -c " + quoted(s) + " > " + quoted(zst)).exit_code, 0);
    const auto out = t.path / "back.mig";
    auto r = run("cat " + quoted(zst) + " | " + cli() + " convert - - --to framed | " + cli() +
                 " convert - " + quoted(out) + " --to qemu");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_TRUE(read_bytes(out) == read_bytes(s));
    auto a = run(cli() + " analyze " + quoted(zst));
    auto b = run(cli() + " analyze " + quoted(s));
    EXPECT_EQ(a.exit_code, 0);
    EXPECT_EQ(a.out, b.out);
  }
  // Cut inside a frame: refused with the compressed offset, no output left.
  const auto src = corpus_dir() / "i440fx-4.2-virtio-running2s.mig";
  auto r = run("zstd -q -c " + quoted(src) + " | head -c 100000 | " + cli() + " convert - " +
               quoted(t.path / "x.framed") + " --to framed");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("ends inside a zstd frame after 100000 compressed bytes"), std::string::npos)
      << r.out;
  EXPECT_FALSE(std::filesystem::exists(t.path / "x.framed"));
}

TEST(StreamConvert, JsonWrittenFromAPipeConvertsBackToTheSameBytes) {
  TempDir t;
  for (const auto& s : corpus_files(".mig")) {
    SCOPED_TRACE(s.filename().string());
    const auto out = t.path / "back.mig";
    auto r = run("cat " + quoted(s) + " | " + cli() + " convert - - --to json | " + cli() +
                 " convert - " + quoted(out) + " --to qemu");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_TRUE(read_bytes(out) == read_bytes(s));
  }
}

TEST(StreamConvert, FramedWrittenFromAPipeHoldsTheSameTreeAsFromAFile) {
  TempDir t;
  for (const auto& s : corpus_files(".mig")) {
    SCOPED_TRACE(s.filename().string());
    auto a = run("cat " + quoted(s) + " | " + cli() + " convert - " + quoted(t.path / "a.framed") +
                 " --to framed && " + cli() + " convert " + quoted(t.path / "a.framed") + " " +
                 quoted(t.path / "a.json") + " --to json");
    ASSERT_EQ(a.exit_code, 0) << a.out;
    auto b = run(cli() + " convert " + quoted(s) + " " + quoted(t.path / "b.json") + " --to json");
    ASSERT_EQ(b.exit_code, 0) << b.out;
    EXPECT_TRUE(read_file(t.path / "a.json") == read_file(t.path / "b.json"));
    // The framed summary names the same schema fingerprints either way.
    auto sa = run(cli() + " analyze " + quoted(t.path / "a.framed") + " --format json");
    auto fb = run(cli() + " convert " + quoted(s) + " " + quoted(t.path / "b.framed") + " --to framed");
    ASSERT_EQ(fb.exit_code, 0) << fb.out;
    auto sb = run(cli() + " analyze " + quoted(t.path / "b.framed") + " --format json");
    auto sections = [](const std::string& j) { return j.substr(j.find("\"sections\"")); };
    EXPECT_EQ(sections(sa.out), sections(sb.out));
  }
}

TEST(StreamConvert, AnalyzeJsonFromAPipeEqualsTheFile) {
  for (const auto& s : corpus_files(".mig")) {
    auto file = run(cli() + " analyze " + quoted(s) + " --format json");
    auto pipe = run("cat " + quoted(s) + " | " + cli() + " analyze - --format json");
    EXPECT_EQ(pipe.exit_code, file.exit_code) << s;
    EXPECT_EQ(pipe.out, file.out) << s;
  }
}

TEST(StreamConvert, CutStreamNamesTheOffsetAndLeavesNoFile) {
  TempDir t;
  const auto in = corpus_dir() / "i440fx-4.2-virtio-running2s.mig";
  const auto out = t.path / "out.framed";
  for (std::string from : {"qemu", "framed"}) {
    std::filesystem::path src = in;
    if (from == "framed") {
      src = t.path / "in.framed";
      ASSERT_EQ(run(cli() + " convert " + quoted(in) + " " + quoted(src) + " --to framed").exit_code, 0);
    }
    const auto size = std::filesystem::file_size(src);
    const std::string to = from == "qemu" ? "framed" : "qemu";
    for (std::uintmax_t cut : {size / 2, size - 7}) {
      SCOPED_TRACE(from + " cut at " + std::to_string(cut));
      auto r = run("head -c " + std::to_string(cut) + " " + quoted(src) + " | " + cli() +
                   " convert - " + quoted(out) + " --to " + to);
      EXPECT_EQ(r.exit_code, 1) << r.out;
      EXPECT_NE(r.out.find("offset"), std::string::npos) << r.out;
      EXPECT_FALSE(std::filesystem::exists(out));
    }
  }
}

// A QEMU stream of `pages` random 4 KiB pages, written to `path` section by
// section (nothing of its size is held).
void write_big_stream(const std::filesystem::path& path, std::size_t pages) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  FdSink sink(fd);
  qemu::QemuStreamWriter w(&sink);
  Struct env;
  env.members.push_back({std::string(qemu::keys::kFooters), Value(true)});
  ASSERT_TRUE(w.begin(env));
  auto record = [](std::uint64_t addr, std::uint16_t flags) {
    Struct r;
    r.members.push_back({"addr", Value(addr)});
    r.members.push_back({"flags", Value(flags)});
    return r;
  };
  Section ram;
  ram.name = "ram";
  ram.kind = SectionKind::start;
  ram.section_id = 2;
  ram.version_id = 4;
  ASSERT_TRUE(w.begin_section(ram));
  Struct sizes = record(pages * 4096, qemu::kRamMemSize);
  Struct block;
  block.members.push_back({"id", Value(std::string("pc.ram"))});
  block.members.push_back({"used_length", Value(std::uint64_t(pages) * 4096)});
  Array blocks;
  blocks.items.push_back(Value(std::move(block)));
  sizes.members.push_back({"blocks", Value(std::move(blocks))});
  ASSERT_TRUE(w.ram_record(Value(std::move(sizes))));
  ASSERT_TRUE(w.ram_record(Value(record(0, qemu::kRamEos))));
  ASSERT_TRUE(w.end_section());
  ram.kind = SectionKind::part;
  std::mt19937_64 rng(1);
  for (std::size_t p = 0; p < pages; ++p) {
    if (p % 4096 == 0) {
      ASSERT_TRUE(w.begin_section(ram));
    }
    Struct r = record(p * 4096, p % 4096 ? qemu::kRamPage | qemu::kRamContinue : qemu::kRamPage);
    if (p % 4096 == 0) r.members.push_back({"block", Value(std::string("pc.ram"))});
    Blob b;
    b.bytes.resize(4096);
    for (std::size_t i = 0; i < 4096; i += 8) {
      const std::uint64_t x = rng();
      std::memcpy(b.bytes.data() + i, &x, 8);
    }
    r.members.push_back({"data", Value(std::move(b))});
    ASSERT_TRUE(w.ram_record(Value(std::move(r))));
    if (p % 4096 == 4095 || p + 1 == pages) {
      ASSERT_TRUE(w.ram_record(Value(record(0, qemu::kRamEos))));
      ASSERT_TRUE(w.end_section());
    }
  }
  ASSERT_TRUE(w.finish());
  ::close(fd);
}

TEST(StreamConvert, StreamLargerThanTheProcessMemoryLimitConvertsThroughPipes) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan reserves terabytes of shadow address space at start, so `ulimit -v`
  // cannot bound it; the peak memory is checked in the plain build.
  GTEST_SKIP() << "ulimit -v cannot bound an AddressSanitizer process";
#endif
  TempDir t;
  const auto big = t.path / "big.mig";
  write_big_stream(big, 40960);  // 160 MiB of pages
  ASSERT_GT(std::filesystem::file_size(big), 160u << 20);
  // Each process may map at most 120 MiB: holding the stream is impossible.
  const std::string limit = "ulimit -v 122880; ";
  const auto back = t.path / "back.mig";
  for (std::string compress : {"none", "lz4"}) {
    SCOPED_TRACE(compress);
    auto r = run("bash -c \"" + limit + "cat " + quoted(big) + " | " + cli() +
                 " convert - - --to framed --compress " + compress + " | " + cli() +
                 " convert - - --to qemu > " + quoted(back) + "\"");
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(run("cmp " + quoted(big) + " " + quoted(back)).exit_code, 0);
  }
  auto j = run("bash -c \"" + limit + "cat " + quoted(big) + " | " + cli() +
               " convert - - --to json | wc -c\"");
  ASSERT_EQ(j.exit_code, 0) << j.out;
  EXPECT_GT(std::stoull(j.out), 2 * std::filesystem::file_size(big));  // pages as hex
  auto a = run("bash -c \"" + limit + "cat " + quoted(big) + " | " + cli() + " analyze -\"");
  ASSERT_EQ(a.exit_code, 0) << a.out;
  EXPECT_NE(a.out.find("full page 40960"), std::string::npos) << a.out;
}

}  // namespace
}  // namespace statewire::testing
