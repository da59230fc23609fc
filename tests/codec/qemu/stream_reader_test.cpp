// QemuStreamReader and QemuStreamWriter, section at a time: the reader fed in
// tiny pieces (as from a pipe or socket) sees exactly what the whole-buffer
// decode sees, a cut input yields every complete section and then an error
// naming where it ends, memory stays within the bound on a stream many times
// larger, and the writer fed record by record gives the original bytes.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <random>
#include <string_view>

#include "statewire/byte_source.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/schema_json.hpp"
#include "statewire/tree_json.hpp"
#include "codec/piece_source.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

using statewire::testing::corpus_dir;
using statewire::testing::corpus_files;
using statewire::testing::read_bytes;

using statewire::testing::PieceSource;

// Every event a visitor gets, one line each (RAM pages by a hash of their
// bytes), so two walks can be compared line by line.
class EventLog final : public QemuStreamVisitor {
 public:
  std::vector<std::string> lines;
  std::vector<SectionSummary> ended;

  Result<void> on_configuration(const Struct& body, std::uint64_t off) override {
    lines.push_back(fmt::format("config @{:#x} {}", off, to_json(body)));
    return {};
  }
  Result<void> on_command(std::uint16_t cmd, ByteSpan data, std::uint64_t off) override {
    lines.push_back(fmt::format("command {} len {} @{:#x}", cmd, data.size(), off));
    return {};
  }
  Result<void> on_section_begin(const SectionHeader& h) override {
    lines.push_back(fmt::format("begin {} {}/{} v{} id {} @{:#x} body @{:#x}", int(h.kind), h.idstr,
                                h.instance_id, h.version_id, h.section_id, h.offset, h.body_offset));
    return {};
  }
  Result<void> on_ram_blocks(std::uint64_t total, std::uint16_t flags,
                             std::span<const RamBlock> blocks) override {
    std::string s = fmt::format("blocks {:#x} {:#x}", total, flags);
    for (const auto& b : blocks) s += fmt::format(" {}={:#x}", b.id, b.used_length);
    lines.push_back(s);
    return {};
  }
  Result<void> on_ram_record(const RamRecord& r) override {
    const std::string_view data(reinterpret_cast<const char*>(r.data.data()), r.data.size());
    lines.push_back(fmt::format("ram @{:#x} {:#x} {:#x} {} {} {} {}", r.stream_offset, r.addr,
                                r.flags, r.named, r.block ? *r.block : "-", r.fill,
                                std::hash<std::string_view>{}(data)));
    return {};
  }
  Result<void> on_device_body(const SectionHeader& h, Struct&& body, ByteSpan raw, SchemaSource src,
                              const Description* d) override {
    lines.push_back(fmt::format("device {} {} bytes by {} {} {}", h.idstr, raw.size(),
                                schema_source_name(src), d ? d->name : "-", to_json(body)));
    return {};
  }
  Result<void> on_section_end(const SectionSummary& s) override {
    lines.push_back(fmt::format("end {} size {} footer {} {} {}", s.header.idstr, s.body_size,
                                s.footer, schema_source_name(s.source), s.note));
    ended.push_back(s);
    return {};
  }
  Result<void> on_eof(std::uint64_t off) override {
    lines.push_back(fmt::format("eof @{:#x}", off));
    return {};
  }
  Result<void> on_trailer(std::string_view json, std::uint64_t off) override {
    lines.push_back(fmt::format("trailer {} @{:#x}", json.size(), off));
    return {};
  }
};

QemuDecodeOptions options_with_dump(const SchemaSet* dump) {
  QemuDecodeOptions opt;
  opt.dump = dump;
  return opt;
}

TEST(QemuStreamReader, TinyPiecesGiveTheSameSectionsAsTheWholeBuffer) {
  auto dump = load_schema_file((corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
  ASSERT_TRUE(dump) << dump.error().to_string();
  const QemuDecodeOptions opt = options_with_dump(&*dump);
  auto files = corpus_files(".mig");
  ASSERT_GE(files.size(), 8u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.filename().string());
    const Bytes in = read_bytes(f);
    EventLog whole;
    ASSERT_TRUE(scan_qemu_stream(ByteSpan(in), whole, opt));
    ASSERT_GT(whole.ended.size(), 5u);
    // One byte per read on the small streams (the 4 MiB one: 7 bytes, still
    // far below any record); then random sizes.
    for (std::size_t piece : {in.size() > (1u << 21) ? std::size_t{7} : std::size_t{1}, std::size_t{0}}) {
      SCOPED_TRACE(piece);
      PieceSource src(in, piece);
      EventLog pieces;
      QemuStreamReader reader(src, opt);
      auto r = reader.run(pieces);
      ASSERT_TRUE(r) << r.error().to_string();
      EXPECT_EQ(reader.offset(), in.size());
      EXPECT_GT(src.reads(), in.size() / 4096);
      ASSERT_EQ(pieces.lines.size(), whole.lines.size());
      for (std::size_t i = 0; i < whole.lines.size(); ++i)
        ASSERT_EQ(pieces.lines[i], whole.lines[i]) << "event " << i;
    }
  }
}

TEST(QemuStreamReader, StepHandsOverOneRamRecordAtATime) {
  const Bytes in = read_bytes(corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig");
  PieceSource src(in, 0);
  QemuStreamReader reader(src);
  EventLog log;
  std::size_t steps = 0, max_events = 0;
  while (true) {
    const std::size_t before = log.lines.size();
    auto more = reader.step(log);
    ASSERT_TRUE(more) << more.error().to_string();
    ++steps;
    max_events = std::max(max_events, log.lines.size() - before);
    if (!*more) break;
  }
  std::size_t pages = 0;
  for (const auto& l : log.lines) pages += l.rfind("ram ", 0) == 0;
  EXPECT_GT(pages, 1000u);
  EXPECT_GE(steps, pages);     // at least one step per RAM record
  EXPECT_LE(max_events, 4u);   // a step is one record: begin + body + end at most (+ EOF/trailer)
}

TEST(QemuStreamReader, CutInputYieldsEveryCompleteSectionThenNamesTheOffset) {
  const Bytes in = read_bytes(corpus_dir() / "i440fx-4.2-virtio-running2s.mig");
  EventLog whole;
  ASSERT_TRUE(scan_qemu_stream(ByteSpan(in), whole));
  std::mt19937_64 rng(7);
  std::vector<std::size_t> cuts = {9, 100, in.size() / 3, in.size() - 200000, in.size() - 30000,
                                   in.size() - 1000, in.size() - 1};
  for (int i = 0; i < 12; ++i) cuts.push_back(std::uniform_int_distribution<std::size_t>(10, in.size() - 1)(rng));
  for (std::size_t cut : cuts) {
    SCOPED_TRACE(cut);
    PieceSource src(ByteSpan(in).first(cut), 0);
    EventLog got;
    QemuStreamReader reader(src);
    auto r = reader.run(got);
    ASSERT_FALSE(r);
    ASSERT_TRUE(r.error().offset) << r.error().to_string();
    EXPECT_LE(*r.error().offset, cut) << r.error().to_string();
    // Every section handed over is one of the whole stream's, in order, and
    // ends inside the cut; every section that ends well before it (room for
    // the footer check's look at the next record) was handed over.
    std::size_t complete = 0;
    for (const auto& s : whole.ended)
      if (s.header.body_offset + s.body_size + 5 + 270 <= cut) ++complete;
    ASSERT_GE(got.ended.size(), complete);
    for (std::size_t i = 0; i < got.ended.size(); ++i) {
      EXPECT_EQ(got.ended[i].header.offset, whole.ended[i].header.offset);
      EXPECT_EQ(got.ended[i].body_size, whole.ended[i].body_size);
      EXPECT_LE(got.ended[i].header.body_offset + got.ended[i].body_size, cut);
    }
  }
}

// A QEMU stream of `pages` random 4 KiB pages in PART sections of 256 pages,
// written with QemuStreamWriter one RAM record at a time.
Bytes synthetic_ram_stream(std::size_t pages) {
  BytesSink sink;
  QemuStreamWriter w(&sink);
  Struct env;
  env.members.push_back({std::string(keys::kVersion), Value(std::uint32_t{3})});
  env.members.push_back({std::string(keys::kFooters), Value(true)});
  EXPECT_TRUE(w.begin(env));
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
  EXPECT_TRUE(w.begin_section(ram));
  Struct sizes = record(pages * 4096, kRamMemSize);
  Struct block;
  block.members.push_back({"id", Value(std::string("pc.ram"))});
  block.members.push_back({"used_length", Value(std::uint64_t(pages) * 4096)});
  Array blocks;
  blocks.items.push_back(Value(std::move(block)));
  sizes.members.push_back({"blocks", Value(std::move(blocks))});
  EXPECT_TRUE(w.ram_record(Value(std::move(sizes))));
  EXPECT_TRUE(w.ram_record(Value(record(0, kRamEos))));
  EXPECT_TRUE(w.end_section());
  std::mt19937_64 rng(3);
  Blob page;
  page.bytes.resize(4096);
  ram.kind = SectionKind::part;
  for (std::size_t p = 0; p < pages; ++p) {
    if (p % 256 == 0) {
      EXPECT_TRUE(w.begin_section(ram));
    }
    Struct r = record(p * 4096, p % 256 ? kRamPage | kRamContinue : kRamPage);
    if (p % 256 == 0) r.members.push_back({"block", Value(std::string("pc.ram"))});
    for (auto& b : page.bytes) b = static_cast<std::uint8_t>(rng());
    r.members.push_back({"data", Value(page)});
    EXPECT_TRUE(w.ram_record(Value(std::move(r))));
    if (p % 256 == 255 || p + 1 == pages) {
      EXPECT_TRUE(w.ram_record(Value(record(0, kRamEos))));
      EXPECT_TRUE(w.end_section());
    }
  }
  EXPECT_TRUE(w.finish());
  return std::move(sink).take();
}

TEST(QemuStreamReader, MemoryStaysWithinTheBoundOnAStreamManyTimesLarger) {
  const Bytes in = synthetic_ram_stream(16384);  // 64 MiB of pages
  ASSERT_GT(in.size(), 64u << 20);
  QemuDecodeOptions opt;
  opt.max_buffer = 2u << 20;
  PieceSource src(in, 0);
  QemuStreamReader reader(src, opt);
  EventLog log;
  ASSERT_TRUE(reader.run(log));
  EXPECT_EQ(reader.offset(), in.size());
  EXPECT_LE(reader.buffer_high_water(), opt.max_buffer);
  EXPECT_GT(in.size(), 30 * reader.buffer_high_water());
  // The same stream whole decodes to the same sections.
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree) << tree.error().to_string();
  EXPECT_EQ(log.ended.size(), tree->sections.size());
}

TEST(QemuStreamReader, RecordLargerThanTheBoundIsAnErrorNamingIt) {
  const Bytes in = read_bytes(corpus_dir() / "i440fx-2.12-rtl8139-paused.mig");
  QemuDecodeOptions opt;
  opt.max_buffer = 4096;  // the trailer alone is larger
  PieceSource src(in, 0);
  QemuStreamReader reader(src, opt);
  EventLog log;
  auto r = reader.run(log);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::limit_exceeded) << r.error().to_string();
  EXPECT_TRUE(r.error().offset);
  EXPECT_FALSE(log.ended.empty());
}

TEST(QemuStreamWriter, RecordByRecordGivesTheWholeEncodeBytes) {
  for (const auto& f : corpus_files(".mig")) {
    SCOPED_TRACE(f.filename().string());
    const Bytes in = read_bytes(f);
    auto tree = decode_qemu_stream(in);
    ASSERT_TRUE(tree) << tree.error().to_string();
    BytesSink sink;
    QemuStreamWriter w(&sink);
    ASSERT_TRUE(w.begin(tree->envelope));
    std::size_t ram_records = 0;
    for (const Section& s : tree->sections) {
      const Value* recs = s.body.find(keys::kRamRecords);
      if (s.name == "ram" && recs) {
        Section head = s;
        head.body = Struct{};
        ASSERT_TRUE(w.begin_section(head));
        for (const Value& r : recs->get_if<Array>()->items) {
          ASSERT_TRUE(w.ram_record(r));
          ++ram_records;
        }
        ASSERT_TRUE(w.end_section());
      } else {
        ASSERT_TRUE(w.section(s));
      }
    }
    ASSERT_TRUE(w.finish());
    EXPECT_GT(ram_records, 10u);
    EXPECT_TRUE(sink.bytes() == in);
  }
}

TEST(QemuStreamWriter, CommandForASectionAlreadyWrittenIsRefused) {
  QemuStreamWriter w;
  Struct env;
  env.members.push_back({std::string(keys::kFooters), Value(true)});
  ASSERT_TRUE(w.begin(env));
  Section s;
  s.name = "timer";
  s.kind = SectionKind::full;
  ASSERT_TRUE(w.section(s));
  Struct cmd;
  cmd.members.push_back({"before", Value(std::uint32_t{0})});
  cmd.members.push_back({"cmd", Value(std::uint16_t{2})});
  cmd.members.push_back({"data", Value(Blob{})});
  Array list;
  list.items.push_back(Value(std::move(cmd)));
  Struct more;
  more.members.push_back({std::string(keys::kCommands), Value(std::move(list))});
  auto r = w.envelope(more);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field_path, "commands[0].before");
}

}  // namespace
}  // namespace statewire::qemu
