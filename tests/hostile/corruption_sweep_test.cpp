// The corruption sweep of issue 18: every corpus stream and its framed form,
// truncated at every section boundary and at evenly spread offsets, with
// single bytes flipped, and with every length field inflated. Each case
// either decodes (and re-encodes: byte for byte for QEMU, to the same tree
// for framed) or fails with an error naming its offset; a crash, a sanitizer
// report or a hang fails the test binary. The normal run is a reduced sweep
// (two streams, fewer cases); STATEWIRE_SWEEP=full runs the whole one and
// prints the tally.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "core/crc32c.hpp"
#include "statewire/framed.hpp"
#include "statewire/qemu_analyze.hpp"
#include "statewire/qemu_stream.hpp"
#include "test_util.hpp"

namespace statewire {
namespace {

struct Tally {
  std::size_t cases = 0, decoded = 0, failed_with_offset = 0, failed_with_section = 0;
  std::vector<std::string> unplaced;  // failures without an offset
  double slowest_ms = 0;
  void add(const Tally& o) {
    cases += o.cases;
    decoded += o.decoded;
    failed_with_offset += o.failed_with_offset;
    failed_with_section += o.failed_with_section;
    unplaced.insert(unplaced.end(), o.unplaced.begin(), o.unplaced.end());
    slowest_ms = std::max(slowest_ms, o.slowest_ms);
  }
};

bool full_sweep() {
  const char* e = std::getenv("STATEWIRE_SWEEP");
  return e && std::string(e) == "full";
}

struct SweepSize {
  std::size_t offsets, flips;
};
SweepSize sweep_size() { return full_sweep() ? SweepSize{200, 1000} : SweepSize{20, 60}; }

// Runs one case through a decoder; `check` re-encodes what decoded.
template <class Decode, class Check>
void run_case(Tally& t, const Bytes& in, const std::string& what, Decode&& decode, Check&& check) {
  const auto start = std::chrono::steady_clock::now();
  auto r = decode(in);
  ++t.cases;
  if (r) {
    ++t.decoded;
    EXPECT_TRUE(check(in, *r)) << what << ": decoded but does not re-encode";
  } else if (r.error().offset) {
    ++t.failed_with_offset;
    if (!r.error().section.empty()) ++t.failed_with_section;
  } else {
    t.unplaced.push_back(what + ": " + r.error().to_string());
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  t.slowest_ms = std::max(t.slowest_ms, ms);
}

// Truncations, flips and inflations of one input. `boundaries` are record
// starts; `lengths` are (offset, width, big-endian) of every length field;
// `fix` repairs what a format checks besides (framed: the record CRCs).
template <class Decode, class Check, class Fix>
Tally sweep(const Bytes& b, const std::string& name, const std::vector<std::size_t>& boundaries,
            const std::vector<std::tuple<std::size_t, int, bool>>& lengths, Decode&& decode,
            Check&& check, Fix&& fix) {
  Tally t;
  const SweepSize n = sweep_size();
  auto truncated = [&](std::size_t at) {
    Bytes c(b.begin(), b.begin() + static_cast<long>(at));
    run_case(t, c, name + " truncated at " + std::to_string(at), decode, check);
  };
  for (std::size_t at : boundaries) truncated(at);
  for (std::size_t i = 1; i <= n.offsets; ++i) truncated(b.size() * i / (n.offsets + 1));
  std::mt19937_64 rng(0x5eed);
  for (std::size_t i = 0; i < n.flips; ++i) {
    Bytes c = b;
    const std::size_t at = rng() % c.size();
    c[at] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    fix(c);
    run_case(t, c, name + " byte flipped at " + std::to_string(at), decode, check);
  }
  // Reduced: every k-th length field, some 30 per input.
  const std::size_t step = full_sweep() ? 1 : std::max<std::size_t>(1, lengths.size() / 30);
  for (std::size_t li = 0; li < lengths.size(); li += step) {
    const auto& [at, width, big] = lengths[li];
    for (std::uint64_t delta : {std::uint64_t{1}, std::uint64_t{4096}, ~std::uint64_t{0} >> 1}) {
      Bytes c = b;
      std::uint64_t v = 0;
      for (int k = 0; k < width; ++k) {
        const std::size_t p = big ? at + width - 1 - k : at + k;
        v |= std::uint64_t(c[p]) << (8 * k);
      }
      v += delta;
      for (int k = 0; k < width; ++k) {
        const std::size_t p = big ? at + width - 1 - k : at + k;
        c[p] = static_cast<std::uint8_t>(v >> (8 * k));
      }
      fix(c);
      run_case(t, c, name + " length at " + std::to_string(at) + " + " + std::to_string(delta),
               decode, check);
    }
  }
  return t;
}

// QEMU: section records from analyze; length fields: each idstr's u8 length,
// the trailer's be32 length.
Tally sweep_qemu(const Bytes& b, const std::string& name) {
  auto a = qemu::analyze_qemu_stream(b);
  EXPECT_TRUE(a) << name;
  std::vector<std::size_t> boundaries;
  std::vector<std::tuple<std::size_t, int, bool>> lengths;
  for (const auto& s : a->report.sections) {
    boundaries.push_back(s.summary.header.offset);
    if (s.summary.header.kind == SectionKind::full || s.summary.header.kind == SectionKind::start)
      lengths.emplace_back(s.summary.header.offset + 5, 1, true);
  }
  if (a->report.trailer_offset) lengths.emplace_back(*a->report.trailer_offset + 1, 4, true);
  auto decode = [](const Bytes& in) { return qemu::decode_qemu_stream(in); };
  auto check = [](const Bytes& in, const StateStream& s) {
    auto out = qemu::encode_qemu_stream(s);
    return out && *out == in;
  };
  return sweep(b, name, boundaries, lengths, decode, check, [](Bytes&) {});
}

// Framed: record boundaries; length fields: each record's stored length
// (with the CRC recomputed so the parsers behind it are reached).
void fix_crcs(Bytes& b) {
  std::size_t at = 10;
  while (at + 6 <= b.size()) {
    std::uint32_t len;
    std::memcpy(&len, b.data() + at + 2, 4);
    if (len > b.size() - at - 6 || b.size() - at - 6 - len < 4) break;
    const std::uint32_t crc = detail::crc32c(0, b.data() + at, 6 + len);
    std::memcpy(b.data() + at + 6 + len, &crc, 4);
    at += 6 + std::size_t{len} + 4;
  }
}

Tally sweep_framed(const Bytes& b, const std::string& name, bool fix) {
  std::vector<std::size_t> boundaries;
  std::vector<std::tuple<std::size_t, int, bool>> lengths;
  for (std::size_t at = 10; at + 6 <= b.size();) {
    boundaries.push_back(at);
    lengths.emplace_back(at + 2, 4, false);
    std::uint32_t len;
    std::memcpy(&len, b.data() + at + 2, 4);
    at += 6 + std::size_t{len} + 4;
  }
  auto decode = [](const Bytes& in) { return decode_framed(in); };
  auto check = [](const Bytes&, const FramedStream& f) {
    auto out = encode_framed(f.stream);
    if (!out) return false;
    auto again = decode_framed(*out);
    return again && again->stream == f.stream;
  };
  return sweep(b, name + (fix ? " (CRCs fixed)" : ""), boundaries, lengths, decode, check,
               [fix](Bytes& c) { if (fix) fix_crcs(c); });
}

TEST(CorruptionSweep, EveryCaseDecodesOrFailsWithItsOffset) {
  auto files = testing::corpus_files(".mig");
  ASSERT_FALSE(files.empty());
  if (!full_sweep()) {
    // Reduced: the two smallest streams.
    std::sort(files.begin(), files.end(), [](const auto& x, const auto& y) {
      return std::filesystem::file_size(x) < std::filesystem::file_size(y);
    });
    files.resize(std::min<std::size_t>(files.size(), 2));
  }
  Tally qemu_total, framed_total;
  for (const auto& f : files) {
    const Bytes b = testing::read_bytes(f);
    const std::string name = f.filename().string();
    qemu_total.add(sweep_qemu(b, name));
    auto tree = qemu::decode_qemu_stream(b);
    ASSERT_TRUE(tree) << name;
    FramedEncodeOptions enc;
    enc.compression = Compression::zstd;
    auto framed = encode_framed(*tree, enc);
    ASSERT_TRUE(framed);
    framed_total.add(sweep_framed(*framed, name + ".swf", false));
    framed_total.add(sweep_framed(*framed, name + ".swf", true));
  }
  for (const auto& [label, t] : {std::pair<const char*, const Tally&>{"qemu", qemu_total},
                                 {"framed", framed_total}}) {
    std::printf(
        "sweep %s: %zu cases over %zu streams: %zu decoded and re-encoded, %zu failed naming "
        "the offset (%zu also the section), %zu without an offset; slowest case %.1f ms\n",
        label, t.cases, files.size(), t.decoded, t.failed_with_offset, t.failed_with_section,
        t.unplaced.size(), t.slowest_ms);
    for (std::size_t i = 0; i < std::min<std::size_t>(t.unplaced.size(), 10); ++i)
      ADD_FAILURE() << "no offset: " << t.unplaced[i];
  }
}

}  // namespace
}  // namespace statewire
