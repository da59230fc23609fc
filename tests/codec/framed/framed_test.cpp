#include "statewire/framed.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "core/crc32c.hpp"
#include "statewire/schema_json.hpp"
#include "statewire/tree_diff.hpp"
#include "statewire/vmstate_body.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

// The isa-serial state of a real QEMU 7.2 stream, decoded with the QEMU dump.
Section real_serial_section() {
  auto set = load_schema_file((testing::corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
  EXPECT_TRUE(set);
  const Description& d = set->find_device("isa-serial")->description;
  Bytes stream = testing::read_bytes(testing::corpus_dir() / "isapc-ne2k-paused.mig");
  const std::string id = "serial";
  for (std::size_t i = 0; i + 20 < stream.size(); ++i) {
    if (stream[i] == 0x04 && stream[i + 5] == id.size() &&
        std::memcmp(stream.data() + i + 6, id.data(), id.size()) == 0) {
      std::size_t body = i + 1 + 4 + 1 + id.size() + 4 + 4;
      Cursor cur(ByteSpan(stream).subspan(body), body);
      auto s = decode_body(d, cur, stream[body - 1]);
      EXPECT_TRUE(s);
      return Section{SectionKind::full, 9, "serial", 0, stream[body - 1], *s};
    }
  }
  ADD_FAILURE() << "no serial section in the corpus stream";
  return {};
}

StateStream sample_stream() {
  StateStream s;
  Struct a;
  a.members = {{"u8", std::uint8_t{1}},      {"i64", std::int64_t{-1}},
               {"f", -0.0},                  {"flag", true},
               {"blob", Blob{{1, 2, 3}}},    {"name", std::string("nic0")},
               {"null", Null{}},
               {"arr", Array{ArrayLayout::marker_list, {std::uint16_t{1}, std::uint16_t{2}}, {}}}};
  Struct inner;
  inner.members = {{"x", std::uint32_t{7}}};
  inner.subsections.push_back({"in/sub", 3, inner});
  a.members.push_back({"inner", inner});
  a.subsections.push_back({"dev/s", 2, inner});
  s.sections.push_back({SectionKind::full, 1, "dev", 0, 5, a});
  s.sections.push_back(real_serial_section());
  Struct big;
  Array regs;
  for (std::uint32_t i = 0; i < 4096; ++i) regs.items.push_back(std::uint32_t{i % 7});
  big.members = {{"regs", regs}};
  s.sections.push_back({SectionKind::full, 2, "big", 1, 1, big});
  s.envelope.members = {{"format", std::string("qemu-savevm")}, {"version", std::uint32_t{3}},
                        {"section_footers", true}};
  return s;
}

FramedEncodeOptions options() {
  FramedEncodeOptions o;
  o.header.producer_version = "0.1.0";
  o.header.machine_type = "pc-i440fx-7.2";
  o.header.capabilities = {"codec.framed", "checksum.crc32c"};
  o.header.properties = {{"qemu.send-configuration", "on"}};
  o.fingerprints["serial"] = 0x1234;
  return o;
}

TEST(Crc32c, MatchesTheStandardCheckValue) {
  EXPECT_EQ(detail::crc32c(0, "123456789", 9), 0xe3069283u);
  EXPECT_EQ(detail::crc32c(0, "", 0), 0u);
  // Incremental equals one pass.
  EXPECT_EQ(detail::crc32c(detail::crc32c(0, "12345", 5), "6789", 4), 0xe3069283u);
}

TEST(FramedCodec, RoundTripIsIdentityWithHeaderAndProvenance) {
  StateStream s = sample_stream();
  for (Compression c : {Compression::none, Compression::zstd, Compression::lz4}) {
    FramedEncodeOptions o = options();
    o.compression = c;
    auto bytes = encode_framed(s, o);
    ASSERT_TRUE(bytes) << bytes.error().to_string();
    EXPECT_TRUE(is_framed(*bytes));
    auto back = decode_framed(*bytes);
    ASSERT_TRUE(back) << back.error().to_string();
    EXPECT_EQ(back->stream, s) << (diff(back->stream, s).empty() ? "" : diff(back->stream, s)[0].path);
    EXPECT_EQ(back->header, o.header);
    ASSERT_EQ(back->provenance.size(), 3u);
    EXPECT_EQ(back->provenance[1].section, "serial/0");
    EXPECT_EQ(back->provenance[1].schema_fingerprint, 0x1234u);
    EXPECT_EQ(back->bytes, bytes->size());
  }
}

TEST(FramedCodec, CompressionShrinksRepetitiveState) {
  StateStream s = sample_stream();
  FramedEncodeOptions o = options();
  auto plain = encode_framed(s, o);
  o.compression = Compression::zstd;
  auto packed = encode_framed(s, o);
  ASSERT_TRUE(plain && packed);
  EXPECT_LT(packed->size() * 4, plain->size());
}

// Offsets of every record: type byte positions.
std::vector<std::size_t> record_offsets(const Bytes& b) {
  std::vector<std::size_t> out;
  std::size_t at = 10;
  while (at + 6 <= b.size()) {
    out.push_back(at);
    std::uint32_t len;
    std::memcpy(&len, b.data() + at + 2, 4);
    at += 6 + len + 4;
  }
  return out;
}

std::vector<std::size_t> section_offsets(const Bytes& b) {
  std::vector<std::size_t> out;
  for (std::size_t at : record_offsets(b))
    if (b[at] == 0x03) out.push_back(at);
  return out;
}

void fix_crc(Bytes& b, std::size_t at) {
  std::uint32_t len;
  std::memcpy(&len, b.data() + at + 2, 4);
  std::uint32_t crc = detail::crc32c(0, b.data() + at, 6 + len);
  std::memcpy(b.data() + at + 6 + len, &crc, 4);
}

TEST(FramedCodec, BitFlipInAnySectionIsACrcMismatchNamingIt) {
  auto bytes = encode_framed(sample_stream(), options());
  ASSERT_TRUE(bytes);
  const char* names[] = {"dev/0", "serial/0", "big/1"};
  auto secs = section_offsets(*bytes);
  ASSERT_EQ(secs.size(), 3u);
  for (std::size_t i = 0; i < secs.size(); ++i) {
    Bytes b = *bytes;
    b[secs[i] + 6 + 3] ^= 0x10;  // inside the section name... or just after
    auto r = decode_framed(b);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::mismatch);
    EXPECT_EQ(r.error().offset, secs[i]);
    // The name may itself be damaged; a flip after it keeps it readable.
    Bytes c = *bytes;
    c[secs[i] + 6 + 2 + std::strlen(names[i]) + 8] ^= 0x01;
    auto r2 = decode_framed(c);
    ASSERT_FALSE(r2);
    EXPECT_EQ(r2.error().section, names[i]);
  }
}

TEST(FramedCodec, FieldLengthOffByOneIsCaughtAtTheField) {
  auto bytes = encode_framed(sample_stream(), options());
  ASSERT_TRUE(bytes);
  std::size_t sec = section_offsets(*bytes)[0];
  // dev/0 payload: str name (2+3), sequence 4, inst 4, ver 4, kind 1, sid 4, fp 8,
  // count 4, then member 0: name idx 4, type 1, len 4 (u8 value: 1).
  std::size_t len_at = sec + 6 + 5 + 4 + 4 + 4 + 1 + 4 + 8 + 4 + 4 + 1;
  for (int delta : {-1, +1}) {
    Bytes b = *bytes;
    std::uint32_t len;
    std::memcpy(&len, b.data() + len_at, 4);
    len += static_cast<std::uint32_t>(delta);
    std::memcpy(b.data() + len_at, &len, 4);
    fix_crc(b, sec);
    auto r = decode_framed(b);
    ASSERT_FALSE(r) << delta;
    EXPECT_EQ(r.error().section, "dev/0");
    EXPECT_EQ(r.error().field_path, "u8");
    EXPECT_TRUE(r.error().offset.has_value());
  }
}

TEST(FramedCodec, SectionLengthOffByOneIsAnError) {
  auto bytes = encode_framed(sample_stream(), options());
  ASSERT_TRUE(bytes);
  std::size_t sec = section_offsets(*bytes)[1];
  for (int delta : {-1, +1}) {
    Bytes b = *bytes;
    std::uint32_t len;
    std::memcpy(&len, b.data() + sec + 2, 4);
    len += static_cast<std::uint32_t>(delta);
    std::memcpy(b.data() + sec + 2, &len, 4);
    auto r = decode_framed(b);
    ASSERT_FALSE(r) << delta;
    EXPECT_EQ(r.error().code, Errc::mismatch) << r.error().to_string();
  }
}

TEST(FramedCodec, EveryTruncationIsAnError) {
  auto bytes = encode_framed(sample_stream(), options());
  ASSERT_TRUE(bytes);
  for (std::size_t n = 0; n < bytes->size(); n += (n < 2000 ? 1 : 97)) {
    auto r = decode_framed(ByteSpan(bytes->data(), n));
    ASSERT_FALSE(r) << n;
    EXPECT_TRUE(r.error().code == Errc::truncated || r.error().code == Errc::bad_magic) << n;
  }
}

// Records grouped per section: the name records before it, the section, its chunks.
std::vector<std::pair<std::size_t, std::size_t>> section_groups(const Bytes& b) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  auto recs = record_offsets(b);
  std::size_t group_start = 0;
  for (std::size_t i = 0; i < recs.size(); ++i) {
    std::uint8_t t = b[recs[i]];
    if (t == 0x02 && group_start == 0) group_start = recs[i];
    if (t == 0x03) {
      std::size_t begin = group_start ? group_start : recs[i];
      std::size_t j = i + 1;
      while (j < recs.size() && b[recs[j]] == 0x05) ++j;
      out.push_back({begin, j < recs.size() ? recs[j] : b.size()});
      group_start = 0;
    }
  }
  return out;
}

Bytes swap_groups(const Bytes& b, std::pair<std::size_t, std::size_t> x,
                  std::pair<std::size_t, std::size_t> y) {
  Bytes out(b.begin(), b.begin() + static_cast<long>(x.first));
  out.insert(out.end(), b.begin() + static_cast<long>(y.first), b.begin() + static_cast<long>(y.second));
  out.insert(out.end(), b.begin() + static_cast<long>(x.first), b.begin() + static_cast<long>(x.second));
  out.insert(out.end(), b.begin() + static_cast<long>(y.second), b.end());
  return out;
}

TEST(FramedCodec, SwappedSectionsAreRefusedNamingTheSection) {
  // Without new names between them: the sequence number catches the swap.
  StateStream s = sample_stream();
  s.sections.push_back(s.sections[0]);
  s.sections.back().instance_id = 7;
  auto bytes = encode_framed(s, options());
  ASSERT_TRUE(bytes);
  auto groups = section_groups(*bytes);
  ASSERT_EQ(groups.size(), 4u);
  auto r = decode_framed(swap_groups(*bytes, groups[2], groups[3]));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  EXPECT_EQ(r.error().section, "dev/7");
  // With their name records: the name table's start index catches it first.
  auto r2 = decode_framed(swap_groups(*bytes, groups[1], groups[2]));
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::mismatch);
  EXPECT_NE(r2.error().message.find("name table"), std::string::npos) << r2.error().to_string();
}

TEST(FramedCodec, BulkArraysTravelInChunksAndMissingChunksAreCaught) {
  auto bytes = encode_framed(sample_stream(), options());
  ASSERT_TRUE(bytes);
  auto recs = record_offsets(*bytes);
  std::vector<std::size_t> chunks;
  for (std::size_t at : recs)
    if ((*bytes)[at] == 0x05) chunks.push_back(at);
  EXPECT_EQ(chunks.size(), 4096u / 256u);  // big/1's "regs"
  // Drop the third chunk.
  std::size_t at = chunks[2], end = chunks[3];
  Bytes b(bytes->begin(), bytes->begin() + static_cast<long>(at));
  b.insert(b.end(), bytes->begin() + static_cast<long>(end), bytes->end());
  auto r = decode_framed(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  EXPECT_EQ(r.error().section, "big/1");
  EXPECT_EQ(r.error().field_path, "regs");
  // Drop the last chunk: the next record finds the section short.
  std::size_t last = chunks.back();
  std::size_t after = last + 6 + 4;
  std::uint32_t len;
  std::memcpy(&len, bytes->data() + last + 2, 4);
  after += len;
  Bytes c(bytes->begin(), bytes->begin() + static_cast<long>(last));
  c.insert(c.end(), bytes->begin() + static_cast<long>(after), bytes->end());
  auto r2 = decode_framed(c);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::truncated);
  EXPECT_EQ(r2.error().field_path, "regs");
}

TEST(FramedCodec, WrongCrcIsReportedWithBothValues) {
  auto bytes = encode_framed(sample_stream(), options());
  ASSERT_TRUE(bytes);
  Bytes b = *bytes;
  b[b.size() - 1] ^= 0xff;  // the end record's CRC
  auto r = decode_framed(b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::mismatch);
  EXPECT_NE(r.error().message.find("CRC32C"), std::string::npos);
}

TEST(FramedCodec, UnknownMandatorySectionIsRefusedAndOptionalOneSkipped) {
  StateStream s = sample_stream();
  FramedEncodeOptions o = options();
  o.optional_section = [](const Section& sec) { return sec.name == "big"; };
  auto bytes = encode_framed(s, o);
  ASSERT_TRUE(bytes);
  FramedDecodeOptions d;
  d.known_section = [](const Section& sec) { return sec.name == "dev"; };
  auto refused = decode_framed(*bytes, d);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::unknown_section);
  EXPECT_EQ(refused.error().section, "serial/0");

  d.known_section = [](const Section& sec) { return sec.name != "big"; };
  auto skipped = decode_framed(*bytes, d);
  ASSERT_TRUE(skipped) << skipped.error().to_string();
  EXPECT_EQ(skipped->stream.sections.size(), 2u);
  ASSERT_EQ(skipped->skipped.size(), 1u);
  EXPECT_NE(skipped->skipped[0].find("big/1"), std::string::npos);

  d.unknown_optional = UnknownSectionPolicy::refuse;
  EXPECT_FALSE(decode_framed(*bytes, d));
}

TEST(FramedCodec, UnknownRecordTypesFollowTheirMandatoryFlag) {
  auto bytes = encode_framed(sample_stream(), options());
  ASSERT_TRUE(bytes);
  std::size_t at = section_offsets(*bytes)[0];
  for (std::uint8_t flags : {0, 1}) {
    Bytes rec = {0x40, flags, 2, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 0};
    std::uint32_t crc = detail::crc32c(0, rec.data(), 8);
    std::memcpy(rec.data() + 8, &crc, 4);
    Bytes b(bytes->begin(), bytes->begin() + static_cast<long>(at));
    b.insert(b.end(), rec.begin(), rec.end());
    b.insert(b.end(), bytes->begin() + static_cast<long>(at), bytes->end());
    // The end record stores its own offset: it moved by the inserted record.
    std::size_t end_at = record_offsets(b).back();
    std::uint64_t off = end_at;
    std::memcpy(b.data() + end_at + 6 + 8, &off, 8);
    fix_crc(b, end_at);
    auto r = decode_framed(b);
    if (flags) {
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error().code, Errc::unknown_section);
    } else {
      ASSERT_TRUE(r) << r.error().to_string();
      EXPECT_EQ(r->skipped.size(), 1u);
    }
  }
}

TEST(FramedCodec, RejectsBadMagicVersionAndTrailingBytes) {
  auto bytes = encode_framed(sample_stream(), options());
  ASSERT_TRUE(bytes);
  Bytes b = *bytes;
  b[1] = 'X';
  EXPECT_EQ(decode_framed(b).error().code, Errc::bad_magic);
  b = *bytes;
  b[8] = 9;
  EXPECT_EQ(decode_framed(b).error().code, Errc::unsupported);
  b = *bytes;
  b.push_back(0);
  EXPECT_EQ(decode_framed(b).error().code, Errc::invalid_value);
}

// tests/fuzz/seeds/framed/small.bin was written by hand from docs/framed-format.md
// (by a separate Python script), so this pins the byte layout to the document.
TEST(FramedCodec, FileWrittenFromTheSpecDecodes) {
  Bytes b = testing::read_bytes(std::filesystem::path(STATEWIRE_TESTS_DIR) / "fuzz" /
                                "seeds" / "framed" / "small.bin");
  auto r = decode_framed(b);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->header.machine_type, "pc");
  ASSERT_EQ(r->stream.sections.size(), 1u);
  const Section& sec = r->stream.sections[0];
  EXPECT_EQ(sec.label(), "dev/0");
  EXPECT_EQ(sec.version_id, 3u);
  EXPECT_EQ(r->provenance[0].schema_fingerprint, 42u);
  EXPECT_EQ(*sec.body.find("a"), Value(std::uint16_t{7}));
  EXPECT_EQ(sec.body.find("b")->get_if<Array>()->layout, ArrayLayout::marker_list);
  EXPECT_EQ(*sec.body.find("c")->get_if<Struct>()->find("c"), Value(std::uint32_t{9}));
  ASSERT_EQ(sec.body.subsections.size(), 1u);
  EXPECT_EQ(sec.body.subsections[0].name, "dev/s");
  // And our encoder writes the very same bytes.
  FramedEncodeOptions o;
  o.header = r->header;
  o.fingerprints["dev"] = 42;
  auto again = encode_framed(r->stream, o);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, b);
}

}  // namespace
}  // namespace statewire
