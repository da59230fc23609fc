// Bad QEMU streams: every error names where (offset, section, field) and
// what was expected; nothing crashes on a truncated or corrupted stream.
#include <gtest/gtest.h>

#include <cstring>

#include <fmt/format.h>

#include <algorithm>

#include "statewire/qemu_stream.hpp"
#include "statewire/schema_json.hpp"
#include "test_util.hpp"

namespace statewire::qemu {
namespace {

using statewire::testing::corpus_dir;
using statewire::testing::read_bytes;

// A hand-made stream: header, a RAM START with one 2-page block "pc.ram",
// then an END whose records the caller writes; no footers, no trailer.
struct Handmade {
  ByteWriter w;
  Handmade() {
    w.put_be32(kFileMagic);
    w.put_be32(kFileVersion);
    w.put_u8(0x01);  // START
    w.put_be32(2);
    w.put_counted_string("ram");
    w.put_be32(0);
    w.put_be32(4);
    w.put_be64(0x2000 | kRamMemSize);
    w.put_counted_string("pc.ram");
    w.put_be64(0x2000);
    w.put_be64(kRamEos);
    w.put_u8(0x03);  // END
    w.put_be32(2);
  }
  Bytes finish() {
    w.put_be64(kRamEos);
    w.put_u8(0x00);  // EOF
    return std::move(w).take();
  }
};

TEST(QemuStream, HandmadeRamRecordsRoundTrip) {
  Handmade h;
  h.w.put_be64(0x1000 | kRamZero);
  h.w.put_counted_string("pc.ram");
  h.w.put_u8(0xAB);  // a fill byte other than 0 must survive
  h.w.put_be64(0x0000 | kRamPage | kRamContinue);
  std::vector<std::uint8_t> page(4096, 0x5A);
  h.w.put_bytes(page);
  Bytes in = h.finish();
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree) << tree.error().to_string();
  ASSERT_EQ(tree->sections.size(), 2u);
  const Array* recs = tree->sections[1].body.find(keys::kRamRecords)->get_if<Array>();
  ASSERT_NE(recs, nullptr);
  ASSERT_EQ(recs->items.size(), 3u);  // zero, page, EOS
  const Struct& zero = *recs->items[0].get_if<Struct>();
  EXPECT_EQ(*zero.find("fill"), Value(std::uint8_t{0xAB}));
  EXPECT_EQ(*zero.find("block"), Value(std::string("pc.ram")));
  EXPECT_EQ(recs->items[1].get_if<Struct>()->find("block"), nullptr);  // CONTINUE: no name
  EXPECT_EQ(*tree->envelope.find(keys::kFooters), Value(false));
  auto out = encode_qemu_stream(*tree);
  ASSERT_TRUE(out);
  EXPECT_TRUE(*out == in);
}

TEST(QemuStream, CommandsAndConfigurationSubsectionsRoundTrip) {
  ByteWriter w;
  w.put_be32(kFileMagic);
  w.put_be32(kFileVersion);
  w.put_u8(0x07);  // configuration: machine name, then two of QEMU's subsections
  w.put_be32(4);
  w.put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>("pc-x"), 4));
  w.put_u8(0x05);
  w.put_counted_string("configuration/capabilities");
  w.put_be32(1);
  w.put_be32(1);
  w.put_counted_string("x-ignore-shared");
  w.put_u8(0x05);
  w.put_counted_string("configuration/uuid");
  w.put_be32(1);
  w.put_zeros(15);
  w.put_u8(0x42);
  w.put_u8(0x08);  // POSTCOPY_ADVISE with no payload (dirty-bitmaps capability)
  w.put_be16(3);
  w.put_be16(0);
  w.put_u8(0x00);  // EOF
  Bytes in = std::move(w).take();
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree) << tree.error().to_string();
  const Struct* conf = tree->envelope.find(keys::kConfiguration)->get_if<Struct>();
  ASSERT_NE(conf, nullptr);
  ASSERT_EQ(conf->subsections.size(), 2u);
  EXPECT_EQ(conf->subsections[0].name, "configuration/capabilities");
  const Array* cmds = tree->envelope.find(keys::kCommands)->get_if<Array>();
  ASSERT_NE(cmds, nullptr);
  ASSERT_EQ(cmds->items.size(), 1u);
  EXPECT_EQ(*cmds->items[0].get_if<Struct>()->find("cmd"), Value(std::uint16_t{3}));
  auto out = encode_qemu_stream(*tree);
  ASSERT_TRUE(out);
  EXPECT_TRUE(*out == in);
}

TEST(QemuStream, PackagedPostcopyCommandIsNotSupported) {
  Bytes in = read_bytes(corpus_dir() / "microvm-virtio-paused.mig");
  // Replace the first record after the configuration by MIG_CMD_PACKAGED.
  std::size_t at = 8 + 1 + 4 + std::string("microvm").size();
  ASSERT_EQ(in[at], 0x01);
  const std::uint8_t packaged[] = {0x08, 0x00, 0x07, 0x00, 0x04, 0, 0, 0, 0};
  in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), std::begin(packaged), std::end(packaged));
  auto r = decode_qemu_stream(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().section, "command");
  EXPECT_EQ(r.error().offset, at + 1);
}

TEST(QemuStream, UnknownConfigurationSubsectionIsAnError) {
  ByteWriter w;
  w.put_be32(kFileMagic);
  w.put_be32(kFileVersion);
  w.put_u8(0x07);
  w.put_be32(0);
  w.put_u8(0x05);
  w.put_counted_string("configuration/bogus");
  w.put_be32(1);
  w.put_u8(0x00);
  auto r = decode_qemu_stream(std::move(w).take());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unknown_subsection);
  EXPECT_EQ(r.error().section, "configuration");
}

void expect_not_supported(std::uint16_t flags, std::string_view kind) {
  Handmade h;
  const std::uint64_t at = h.w.size();
  h.w.put_be64(flags);
  h.w.put_counted_string("pc.ram");
  h.w.put_u8(0x01);
  h.w.put_be16(4);
  h.w.put_be32(0);
  auto r = decode_qemu_stream(h.finish());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().offset, at);
  EXPECT_EQ(r.error().section, "ram/0");
  EXPECT_EQ(r.error().field_path, "page header");
  EXPECT_NE(r.error().message.find(fmt::format("not supported: {} at offset {}", kind, at)),
            std::string::npos)
      << r.error().message;
}

TEST(QemuStream, XbzrleAndCompressedPagesAreNotSupported) {
  expect_not_supported(kRamXbzrle, "xbzrle");
  expect_not_supported(kRamCompressPage, "compressed page");
  expect_not_supported(kRamMultifdFlush, "multifd flush");
}

TEST(QemuStream, ContinueWithoutAPreviousBlockIsAnError) {
  Handmade h;
  const std::uint64_t at = h.w.size();
  h.w.put_be64(kRamZero | kRamContinue);
  h.w.put_u8(0);
  auto r = decode_qemu_stream(h.finish());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().offset, at);
  EXPECT_EQ(r.error().section, "ram/0");
}

TEST(QemuStream, PageOutsideItsBlockIsAnError) {
  Handmade h;
  const std::uint64_t at = h.w.size();
  h.w.put_be64(0x2000 | kRamZero);
  h.w.put_counted_string("pc.ram");
  h.w.put_u8(0);
  auto r = decode_qemu_stream(h.finish());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().offset, at);
  EXPECT_NE(r.error().message.find("outside block 'pc.ram'"), std::string::npos);
}

TEST(QemuStream, UnknownBlockNameIsAnError) {
  Handmade h;
  h.w.put_be64(kRamZero);
  h.w.put_counted_string("no.such");
  h.w.put_u8(0);
  auto r = decode_qemu_stream(h.finish());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_found);
  EXPECT_EQ(r.error().field_path, "block name");
}

TEST(QemuStream, BadMagicIsReportedAtOffsetZero) {
  Bytes in = read_bytes(corpus_dir() / "microvm-virtio-paused.mig");
  in[0] = 'X';
  auto r = decode_qemu_stream(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::bad_magic);
  EXPECT_EQ(r.error().offset, 0u);
  EXPECT_EQ(r.error().field_path, "magic");
}

TEST(QemuStream, ObsoleteVersionTwoIsRefused) {
  Bytes in = read_bytes(corpus_dir() / "microvm-virtio-paused.mig");
  in[7] = 2;
  auto r = decode_qemu_stream(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().offset, 4u);
}

// Finds the FULL record of `idstr` in a real stream: its offset.
std::size_t find_full(const Bytes& in, std::string_view idstr) {
  for (std::size_t p = 0; p + 6 + idstr.size() < in.size(); ++p) {
    if (in[p] == 0x04 && in[p + 5] == idstr.size() &&
        std::memcmp(in.data() + p + 6, idstr.data(), idstr.size()) == 0)
      return p;
  }
  return 0;
}

TEST(QemuStream, WrongFooterIdNamesSectionAndField) {
  Bytes in = read_bytes(corpus_dir() / "microvm-virtio-paused.mig");
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree);
  // The timer section: 24-byte body, then its footer.
  std::size_t p = find_full(in, "timer");
  ASSERT_NE(p, 0u);
  std::size_t footer = p + 1 + 4 + 1 + 5 + 4 + 4 + 24;
  ASSERT_EQ(in[footer], 0x7E);
  in[footer + 4] ^= 0x40;
  auto r = decode_qemu_stream(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().section, "timer/0");
  EXPECT_EQ(r.error().field_path, "footer.section_id");
  EXPECT_EQ(r.error().code, Errc::mismatch);
  EXPECT_EQ(r.error().offset, footer + 1);
}

TEST(QemuStream, UnknownRecordTypeNamesItsOffset) {
  Bytes in = read_bytes(corpus_dir() / "microvm-virtio-paused.mig");
  std::size_t p = find_full(in, "timer");
  ASSERT_NE(p, 0u);
  in[p] = 0x09;
  auto r = decode_qemu_stream(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_EQ(r.error().offset, p);
  EXPECT_EQ(r.error().field_path, "record type");
}

TEST(QemuStream, CorruptedRamFlagsNameTheRamSection) {
  Bytes in = read_bytes(corpus_dir() / "microvm-virtio-paused.mig");
  // A corrupted RAM flag word inside the stream body names the RAM section.
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree);
  std::size_t part = 0;
  // The RAM START's footer, then the first PART of section 2.
  static constexpr std::uint8_t kPattern[] = {0x7E, 0, 0, 0, 2, 0x02, 0, 0, 0, 2};
  auto it = std::search(in.begin(), in.end(), std::begin(kPattern), std::end(kPattern));
  if (it != in.end()) part = static_cast<std::size_t>(it - in.begin()) + 5;
  ASSERT_NE(part, 0u);
  in[part + 5 + 7] = 0x03;  // ZERO|FULL: no such combination
  auto r = decode_qemu_stream(in);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().section, "ram/0");
  EXPECT_EQ(r.error().field_path, "page header");
  EXPECT_EQ(r.error().offset, part + 5);
}

TEST(QemuStream, LegacyStreamHasNoConfigurationAndNoFooters) {
  Bytes in = read_bytes(corpus_dir() / "i440fx-2.4-legacy-paused.mig");
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree) << tree.error().to_string();
  EXPECT_EQ(tree->envelope.find(keys::kConfiguration), nullptr);
  EXPECT_EQ(*tree->envelope.find(keys::kFooters), Value(false));
  EXPECT_NE(tree->envelope.find(keys::kTrailer), nullptr);
}

TEST(QemuStream, WithoutFootersTrailerOrSchemaTheScanFailsClearly) {
  Bytes in = read_bytes(corpus_dir() / "i440fx-2.4-legacy-paused.mig");
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree);
  // Drop the trailer: nothing then says where the first device section ends.
  tree->envelope.members.erase(
      std::remove_if(tree->envelope.members.begin(), tree->envelope.members.end(),
                     [](const Member& m) { return m.name == keys::kTrailer; }),
      tree->envelope.members.end());
  auto bare = encode_qemu_stream(*tree);
  ASSERT_TRUE(bare);
  auto r = decode_qemu_stream(*bare);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::unsupported);
  EXPECT_EQ(r.error().section, "timer/0");
  EXPECT_NE(r.error().message.find("cannot tell where the section ends"), std::string::npos);
  // With the built-in descriptions the timer section decodes; the next unknown one fails.
  QemuDecodeOptions opt;
  opt.registered = builtin_qemu_descriptions();
  auto r2 = decode_qemu_stream(*bare, opt);
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().section, "timer/0");
}

TEST(QemuStream, EveryProperPrefixIsAnErrorNeverACrash) {
  Bytes in = read_bytes(corpus_dir() / "microvm-virtio-paused.mig");
  ASSERT_TRUE(decode_qemu_stream(in));
  // Every prefix near the start and the end (headers, device sections,
  // trailer), and a stride through the RAM records in between.
  std::vector<std::size_t> cuts;
  for (std::size_t n = 0; n < 1024; ++n) cuts.push_back(n);
  for (std::size_t n = 1024; n + 2048 < in.size(); n += 1021) cuts.push_back(n);
  for (std::size_t n = in.size() - 2048; n < in.size(); ++n) cuts.push_back(n);
  for (std::size_t n : cuts) {
    auto r = decode_qemu_stream(ByteSpan(in.data(), n));
    ASSERT_FALSE(r) << "prefix of " << n << " bytes decoded";
    ASSERT_TRUE(r.error().offset.has_value()) << n << ": " << r.error().to_string();
    ASSERT_LE(*r.error().offset, n);
  }
}

TEST(QemuStream, EditedDeviceFieldIsEncoded) {
  Bytes in = read_bytes(corpus_dir() / "isapc-ne2k-paused.mig");
  auto tree = decode_qemu_stream(in);
  ASSERT_TRUE(tree);
  Section* cpu = nullptr;
  for (auto& s : tree->sections)
    if (s.name == "cpu") cpu = &s;
  ASSERT_NE(cpu, nullptr);
  Value* eip = cpu->body.find("env.eip");
  ASSERT_NE(eip, nullptr);
  EXPECT_EQ(*eip, Value(std::uint64_t{0xfff0}));  // the reset vector: the guest never ran
  *eip = Value(std::uint64_t{0x7c00});
  auto out = encode_qemu_stream(*tree);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), in.size());
  EXPECT_FALSE(*out == in);
  auto again = decode_qemu_stream(*out);
  ASSERT_TRUE(again);
  for (auto& s : again->sections)
    if (s.name == "cpu") {
      EXPECT_EQ(*s.body.find("env.eip"), Value(std::uint64_t{0x7c00}));
    }
}

TEST(QemuStream, NovmdescStreamDecodesWithTheI440fxDumpToo) {
  Bytes in = read_bytes(corpus_dir() / "q35-7.2-novmdesc-running1s.mig");
  auto dump = load_schema_file((corpus_dir() / "vmstate-pc-i440fx-7.2.json").string());
  ASSERT_TRUE(dump);
  QemuDecodeOptions opt;
  opt.dump = &*dump;
  auto tree = decode_qemu_stream(in, opt);
  ASSERT_TRUE(tree) << tree.error().to_string();
  // mc146818rtc is all fixed-size fields: the dump explains it field by field.
  // mch's PCI config is one of two test-gated fields (256 or 4096 bytes): only
  // the 256-byte reading ends at the footer.
  bool saw_mch = false;
  for (const auto& s : tree->sections) {
    if (s.name == "mc146818rtc") {
      EXPECT_EQ(s.body.find(keys::kOpaque), nullptr);
      EXPECT_NE(s.body.find("cmos_data"), nullptr);
    }
    if (s.name == "0000:00:00.0/mch") {
      saw_mch = true;
      const Value* v = s.body.members.empty() ? nullptr : &s.body.members[0].value;
      ASSERT_NE(v, nullptr);
      const Struct* parent = v->get_if<Struct>();
      ASSERT_NE(parent, nullptr) << to_text(s);
      std::size_t configs = 0;
      for (const auto& m : parent->members)
        if (m.name == "config") {
          ++configs;
          ASSERT_NE(m.value.get_if<Blob>(), nullptr);
          EXPECT_EQ(m.value.get_if<Blob>()->bytes.size(), 256u);
        }
      EXPECT_EQ(configs, 1u);
    }
  }
  EXPECT_TRUE(saw_mch);
  auto out = encode_qemu_stream(*tree);
  ASSERT_TRUE(out);
  EXPECT_TRUE(*out == in);
}

TEST(QemuStream, RewritingADamagedTrailerSaysWhereItsJsonBreaks) {
  // The trailer is read through the one JSON document reader: line and column.
  StateStream st;
  st.envelope.members.push_back(
      {std::string(keys::kTrailer), Value(std::string("{\"page_size\": 4096,\n \"devices\": [}"))});
  auto r = rewrite_description_trailer(st, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_value);
  EXPECT_NE(r.error().message.find("line 2, column"), std::string::npos) << r.error().to_string();
}

}  // namespace
}  // namespace statewire::qemu
