// Every real QEMU 7.2 stream of the corpus decodes, and decode -> encode and
// decode -> JSON -> decode -> encode give the same bytes back.
#include <gtest/gtest.h>

#include <algorithm>

#include "statewire/qemu_stream.hpp"
#include "statewire/schema_json.hpp"
#include "statewire/tree_json.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

using statewire::testing::corpus_files;
using statewire::testing::read_bytes;

std::size_t count_source(const StateStream& s, bool opaque) {
  std::size_t n = 0;
  for (const auto& sec : s.sections)
    if ((sec.body.find(keys::kOpaque) != nullptr) == opaque) ++n;
  return n;
}

TEST(QemuStream, EveryCorpusStreamReencodesByteForByte) {
  auto files = corpus_files(".mig");
  ASSERT_GE(files.size(), 8u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.filename().string());
    Bytes in = read_bytes(f);
    auto tree = decode_qemu_stream(in);
    ASSERT_TRUE(tree) << tree.error().to_string();
    EXPECT_GT(tree->sections.size(), 5u);
    auto out = encode_qemu_stream(*tree);
    ASSERT_TRUE(out) << out.error().to_string();
    ASSERT_EQ(out->size(), in.size());
    EXPECT_TRUE(*out == in);
  }
}

TEST(QemuStream, StreamsWithTrailerDecodeEveryDeviceSection) {
  for (const auto& f : corpus_files(".mig")) {
    if (f.filename().string().find("novmdesc") != std::string::npos) continue;
    SCOPED_TRACE(f.filename().string());
    auto tree = decode_qemu_stream(read_bytes(f));
    ASSERT_TRUE(tree) << tree.error().to_string();
    for (const auto& sec : tree->sections)
      EXPECT_EQ(sec.body.find(keys::kOpaque), nullptr) << sec.label();
  }
}

// RAM read through a caller's reader (the CLI's pread) instead of the span.
QemuDecodeOptions with_reader(const Bytes& in) {
  QemuDecodeOptions opt;
  opt.bulk_read = [&in](std::uint64_t off, std::span<std::uint8_t> dst) -> Result<std::size_t> {
    std::size_t n = off >= in.size() ? 0 : std::min<std::size_t>(dst.size(), in.size() - off);
    std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(off), n, dst.begin());
    return n;
  };
  return opt;
}

TEST(QemuStream, BulkReaderGivesTheSameTreeAndErrors) {
  for (const auto& f : corpus_files(".mig")) {
    SCOPED_TRACE(f.filename().string());
    Bytes in = read_bytes(f);
    auto plain = decode_qemu_stream(in);
    auto read = decode_qemu_stream(in, with_reader(in));
    ASSERT_TRUE(plain && read);
    EXPECT_TRUE(*plain == *read);
    // A stream cut inside its RAM fails the same way on both paths.
    Bytes cut(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(in.size() / 3));
    auto a = decode_qemu_stream(cut);
    auto b = decode_qemu_stream(cut, with_reader(cut));
    ASSERT_FALSE(a);
    ASSERT_FALSE(b);
    EXPECT_EQ(a.error().offset, b.error().offset);
    EXPECT_EQ(a.error().code, Errc::truncated);
    EXPECT_EQ(b.error().code, Errc::truncated);
  }
}

TEST(QemuStream, JsonRoundTripGivesTheSameBytes) {
  for (const auto& f : corpus_files(".mig")) {
    SCOPED_TRACE(f.filename().string());
    Bytes in = read_bytes(f);
    auto tree = decode_qemu_stream(in);
    ASSERT_TRUE(tree) << tree.error().to_string();
    auto back = stream_from_json(to_json(*tree));
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_TRUE(*back == *tree);
    auto out = encode_qemu_stream(*back);
    ASSERT_TRUE(out) << out.error().to_string();
    EXPECT_TRUE(*out == in);
  }
}

TEST(QemuStream, NovmdescStreamDecodesDevicesFromASchemaDump) {
  Bytes in = read_bytes(statewire::testing::corpus_dir() / "q35-7.2-novmdesc-running1s.mig");
  auto without = decode_qemu_stream(in);
  ASSERT_TRUE(without) << without.error().to_string();
  auto dump = load_schema_file(statewire::testing::corpus_dir() / "vmstate-pc-q35-5.2.json");
  ASSERT_TRUE(dump) << dump.error().to_string();
  QemuDecodeOptions opt;
  opt.dump = &*dump;
  auto with = decode_qemu_stream(in, opt);
  ASSERT_TRUE(with) << with.error().to_string();
  // The dump explains sections the bare stream could not.
  EXPECT_LT(count_source(*with, true), count_source(*without, true));
  auto out = encode_qemu_stream(*with);
  ASSERT_TRUE(out);
  EXPECT_TRUE(*out == in);
}

}  // namespace
}  // namespace statewire::qemu
