// FramedStreamReader and FramedStreamWriter, section at a time: read in tiny
// pieces they give what decode_framed gives; written section by section they
// give encode_framed's bytes; RAM sent one record at a time (an "open" chunked
// array) decodes to the same tree; a cut input yields its complete records and
// an error naming the offset; memory stays within the bound.
#include <gtest/gtest.h>

#include <random>

#include "codec/piece_source.hpp"
#include "statewire/byte_source.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

using statewire::testing::corpus_dir;
using statewire::testing::corpus_files;
using statewire::testing::PieceSource;
using statewire::testing::read_bytes;

struct Collected {
  FramedStream stream;
  std::size_t items = 0, chunks = 0;
};

// What decode_framed does, through the section-at-a-time reader.
Result<Collected> collect(FramedStreamReader& r) {
  Collected c;
  while (true) {
    SW_TRY(item, r.next());
    if (!item) break;
    ++c.items;
    switch (item->kind) {
      case FramedItem::Kind::envelope:
        for (auto& m : item->envelope.members) c.stream.stream.envelope.members.push_back(std::move(m));
        break;
      case FramedItem::Kind::section:
        c.stream.provenance.push_back(item->provenance);
        c.stream.stream.sections.push_back(std::move(item->section));
        break;
      case FramedItem::Kind::chunk: {
        ++c.chunks;
        auto& arr = *c.stream.stream.sections.back().body.members[item->member].value.get_if<Array>();
        EXPECT_EQ(item->first, arr.items.size());
        for (auto& v : item->items) arr.items.push_back(std::move(v));
        break;
      }
      case FramedItem::Kind::end: break;
    }
  }
  SW_TRY(h, r.header());
  c.stream.header = *h;
  return c;
}

std::vector<std::pair<StateStream, std::string>> corpus_trees() {
  std::vector<std::pair<StateStream, std::string>> out;
  for (const auto& f : corpus_files(".mig")) {
    auto tree = qemu::decode_qemu_stream(read_bytes(f));
    EXPECT_TRUE(tree) << f;
    if (tree) out.emplace_back(std::move(*tree), f.filename().string());
  }
  return out;
}

FramedEncodeOptions encode_options(Compression c) {
  FramedEncodeOptions o;
  o.compression = c;
  o.header.machine_type = "pc-i440fx-7.2";
  o.fingerprints["cpu"] = 0x1234;
  return o;
}

TEST(FramedStreamReader, TinyPiecesGiveWhatDecodeFramedGives) {
  auto trees = corpus_trees();
  ASSERT_GE(trees.size(), 8u);
  for (const auto& [tree, name] : trees) {
    for (Compression c : {Compression::none, Compression::zstd, Compression::lz4}) {
      SCOPED_TRACE(name + " compression " + std::to_string(int(c)));
      const auto opt = encode_options(c);
      auto bytes = encode_framed(tree, opt);
      ASSERT_TRUE(bytes) << bytes.error().to_string();
      auto whole = decode_framed(*bytes);
      ASSERT_TRUE(whole) << whole.error().to_string();
      // One byte per read for the uncompressed small streams (7 for the
      // 4 MiB one), random sizes for every stream and compression.
      std::vector<std::size_t> pieces = {0};
      if (c == Compression::none) pieces.push_back(bytes->size() > (1u << 21) ? 7 : 1);
      for (std::size_t piece : pieces) {
        PieceSource src(*bytes, piece);
        FramedStreamReader r(src);
        auto got = collect(r);
        ASSERT_TRUE(got) << got.error().to_string();
        EXPECT_EQ(r.offset(), bytes->size());
        EXPECT_EQ(got->stream.header, whole->header);
        ASSERT_EQ(got->stream.provenance.size(), whole->provenance.size());
        for (std::size_t i = 0; i < whole->provenance.size(); ++i)
          EXPECT_EQ(got->stream.provenance[i].schema_fingerprint, whole->provenance[i].schema_fingerprint);
        EXPECT_TRUE(got->stream.stream == whole->stream);
        EXPECT_TRUE(got->stream.stream == tree);
      }
    }
  }
}

struct CountingSink final : ByteSink {
  Bytes bytes;
  std::size_t writes = 0;
  Result<void> write(ByteSpan b) override {
    bytes.insert(bytes.end(), b.begin(), b.end());
    ++writes;
    return {};
  }
};

TEST(FramedStreamWriter, SectionBySectionGivesTheWholeEncodeBytes) {
  for (const auto& [tree, name] : corpus_trees()) {
    for (Compression c : {Compression::none, Compression::zstd}) {
      SCOPED_TRACE(name);
      const auto opt = encode_options(c);
      auto whole = encode_framed(tree, opt);
      ASSERT_TRUE(whole);
      CountingSink sink;
      FramedStreamWriter w(opt, &sink);
      ASSERT_TRUE(w.begin());
      ASSERT_TRUE(w.envelope(tree.envelope));
      for (const Section& s : tree.sections) ASSERT_TRUE(w.section(s));
      ASSERT_TRUE(w.finish());
      // Handed over in pieces of about 1 MiB, not at the end.
      EXPECT_GE(sink.writes, whole->size() >> 20);
      EXPECT_TRUE(sink.bytes == *whole);
    }
  }
}

// Writes RAM sections record by record (open chunked arrays) and the
// envelope in two records, first and last, as a converter from a pipe does.
Bytes write_streamed(const StateStream& tree, const FramedEncodeOptions& opt) {
  BytesSink sink;
  FramedStreamWriter w(opt, &sink);
  EXPECT_TRUE(w.begin());
  Struct head, tail;
  for (const Member& m : tree.envelope.members)
    (m.name == qemu::keys::kTrailer ? tail : head).members.push_back(m);
  EXPECT_TRUE(w.envelope(head));
  for (const Section& s : tree.sections) {
    const Value* recs = s.body.find(qemu::keys::kRamRecords);
    if (s.name == "ram" && recs) {
      Section h = s;
      h.body.members[0].value = Value(Array{});
      EXPECT_TRUE(w.begin_section(h, 0));
      for (const Value& r : recs->get_if<Array>()->items) EXPECT_TRUE(w.bulk_item(r));
      EXPECT_TRUE(w.end_section());
    } else {
      EXPECT_TRUE(w.section(s));
    }
  }
  EXPECT_TRUE(w.envelope(tail));
  EXPECT_TRUE(w.finish());
  return std::move(sink).take();
}

TEST(FramedStreamWriter, RecordByRecordRamDecodesToTheSameTree) {
  for (const auto& [tree, name] : corpus_trees()) {
    SCOPED_TRACE(name);
    for (Compression c : {Compression::none, Compression::lz4}) {
      const Bytes bytes = write_streamed(tree, encode_options(c));
      auto back = decode_framed(bytes);
      ASSERT_TRUE(back) << back.error().to_string();
      EXPECT_TRUE(back->stream == tree);
      auto qemu_bytes = qemu::encode_qemu_stream(back->stream);
      ASSERT_TRUE(qemu_bytes);
      EXPECT_TRUE(*qemu_bytes == read_bytes(corpus_dir() / name));
    }
  }
}

TEST(FramedStreamReader, CutInputYieldsCompleteRecordsThenNamesTheOffset) {
  auto tree = qemu::decode_qemu_stream(read_bytes(corpus_dir() / "i440fx-7.2-random-ram-4m-paused.mig"));
  ASSERT_TRUE(tree);
  const Bytes bytes = write_streamed(*tree, encode_options(Compression::none));
  const std::size_t all_sections = tree->sections.size();
  std::mt19937_64 rng(5);
  std::vector<std::size_t> cuts = {9, 10, bytes.size() - 30, bytes.size() - 1};
  for (int i = 0; i < 25; ++i)  // past the magic: shorter is "not framed"
    cuts.push_back(std::uniform_int_distribution<std::size_t>(8, bytes.size() - 1)(rng));
  for (std::size_t cut : cuts) {
    SCOPED_TRACE(cut);
    PieceSource src(ByteSpan(bytes).first(cut), 0);
    FramedStreamReader r(src);
    std::size_t sections = 0;
    Result<std::optional<FramedItem>> item;
    while ((item = r.next()) && *item) sections += (*item)->kind == FramedItem::Kind::section;
    ASSERT_FALSE(item);
    EXPECT_EQ(item.error().code, Errc::truncated) << item.error().to_string();
    ASSERT_TRUE(item.error().offset);
    EXPECT_LE(*item.error().offset, cut);
    EXPECT_LE(r.offset(), cut);  // only complete records were handed over
    // Cut inside the last records (trailer envelope, end): every section arrived.
    if (cut >= bytes.size() - 30) {
      EXPECT_EQ(sections, all_sections);
    }
  }
}

TEST(FramedStreamReader, MemoryStaysWithinTheBoundOnAStreamManyTimesLarger) {
  // 16384 random pages (64 MiB) in one RAM section, sent record by record.
  FramedEncodeOptions opt;
  BytesSink sink;
  FramedStreamWriter w(opt, &sink);
  ASSERT_TRUE(w.begin());
  Section ram;
  ram.name = "ram";
  ram.body.members.push_back({"records", Value(Array{})});
  ASSERT_TRUE(w.begin_section(ram, 0));
  std::mt19937_64 rng(9);
  Struct rec;
  rec.members.push_back({"addr", Value(std::uint64_t{0})});
  rec.members.push_back({"data", Value(Blob{Bytes(4096)})});
  for (std::uint64_t p = 0; p < 16384; ++p) {
    rec.members[0].value = Value(p * 4096);
    for (auto& b : rec.members[1].value.get_if<Blob>()->bytes) b = static_cast<std::uint8_t>(rng());
    ASSERT_TRUE(w.bulk_item(Value(rec)));
  }
  ASSERT_TRUE(w.end_section());
  ASSERT_TRUE(w.finish());
  const Bytes& bytes = sink.bytes();
  ASSERT_GT(bytes.size(), 64u << 20);

  FramedDecodeOptions dopt;
  dopt.max_buffer = 2u << 20;
  PieceSource src(bytes, 0);
  FramedStreamReader r(src, dopt);
  std::uint64_t elements = 0;
  while (true) {
    auto item = r.next();
    ASSERT_TRUE(item) << item.error().to_string();
    if (!*item) break;
    elements += (*item)->items.size();
  }
  EXPECT_EQ(elements, 16384u);
  EXPECT_LE(r.buffer_high_water(), dopt.max_buffer);
  EXPECT_GT(bytes.size(), 30 * r.buffer_high_water());

  // A bound below one chunk record: an error naming the record's offset.
  dopt.max_buffer = 64u << 10;
  PieceSource small(bytes, 0);
  FramedStreamReader tight(small, dopt);
  Result<std::optional<FramedItem>> item;
  while ((item = tight.next()) && *item) {
  }
  ASSERT_FALSE(item);
  EXPECT_EQ(item.error().code, Errc::limit_exceeded);
  EXPECT_TRUE(item.error().offset);
}

TEST(FramedStreamReader, OpenArrayChunksMustArriveInOrder) {
  FramedEncodeOptions opt;
  BytesSink sink;
  FramedStreamWriter w(opt, &sink);
  ASSERT_TRUE(w.begin());
  Section s;
  s.name = "ram";
  s.body.members.push_back({"records", Value(Array{})});
  ASSERT_TRUE(w.begin_section(s, 0));
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(w.bulk_item(Value(std::uint32_t(i))));
  ASSERT_TRUE(w.end_section());
  ASSERT_TRUE(w.finish());
  Bytes bytes = std::move(sink).take();
  auto ok = decode_framed(bytes);
  ASSERT_TRUE(ok) << ok.error().to_string();
  ASSERT_EQ(ok->stream.sections[0].body.members[0].value.get_if<Array>()->items.size(), 600u);
  // Swap the first two chunk records: the second arrives first.
  auto find_chunk = [&](std::size_t from) {
    std::size_t p = from;
    while (p < bytes.size()) {
      std::uint32_t len;
      std::memcpy(&len, bytes.data() + p + 2, 4);
      if (bytes[p] == 0x05) return p;
      p += 6 + len + 4;
    }
    return bytes.size();
  };
  const std::size_t a = find_chunk(10);
  std::uint32_t alen;
  std::memcpy(&alen, bytes.data() + a + 2, 4);
  const std::size_t b = a + 6 + alen + 4;
  ASSERT_EQ(bytes[b], 0x05);
  std::uint32_t blen;
  std::memcpy(&blen, bytes.data() + b + 2, 4);
  Bytes swapped(bytes.begin(), bytes.begin() + a);
  swapped.insert(swapped.end(), bytes.begin() + b, bytes.begin() + b + 6 + blen + 4);
  swapped.insert(swapped.end(), bytes.begin() + a, bytes.begin() + b);
  swapped.insert(swapped.end(), bytes.begin() + b + 6 + blen + 4, bytes.end());
  auto bad = decode_framed(swapped);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::mismatch);
  EXPECT_EQ(bad.error().offset, a);
  EXPECT_EQ(bad.error().field_path, "records");
}

}  // namespace
}  // namespace statewire
