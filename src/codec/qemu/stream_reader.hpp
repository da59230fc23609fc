// The QEMU stream reader's state (QemuStreamReader::Impl) and the helpers its
// parts share. One reader, four files by concept: stream_reader.cpp (stream
// header, trailer, records, commands, the public calls), stream_reader_sections.cpp
// (section headers and where a section ends), stream_reader_devices.cpp (which
// schema explains a device body) and stream_reader_ram.cpp (RAM records).
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/qemu/trailer.hpp"
#include "core/stream_window.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_virtio.hpp"

// Assigns a Result's value to an existing variable, or returns its error.
#define SW_TRY_ASSIGN(lhs, expr)                                         \
  do {                                                                   \
    auto sw_assign_r_ = (expr);                                          \
    if (!sw_assign_r_) return ::statewire::Unexpected(std::move(sw_assign_r_.error())); \
    lhs = std::move(*sw_assign_r_);                                      \
  } while (0)

namespace statewire::qemu {

namespace detail {

inline std::string_view kind_label(SectionKind k) {
  switch (k) {
    case SectionKind::full: return "FULL";
    case SectionKind::start: return "START";
    case SectionKind::part: return "PART";
    case SectionKind::end: return "END";
  }
  return "?";
}

// Describes where an error happened: the section label and the field read.
template <class T>
Result<T> ctx(Result<T> r, std::string_view section, std::string_view field) {
  if (!r) {
    r.error().in_field(field);
    r.error().in_section(section);
  }
  return r;
}

inline Unexpected fail_at(Errc code, std::uint64_t offset, std::string_view section,
                          std::string_view field, std::string message) {
  Error e = make_error(code, std::move(message));
  e.offset = offset;
  e.section = std::string(section);
  e.field_path = std::string(field);
  return Unexpected(std::move(e));
}

struct LiveSection {
  std::string idstr;
  std::uint32_t instance_id = 0;
  std::uint32_t version_id = 0;
};

// The longest record start plausible_record() looks at: type, section id,
// idstr length, idstr, instance and version.
inline constexpr std::size_t kRecordProbe = 1 + 4 + 1 + 255 + 8;

}  // namespace detail

// One pass over the stream through a bounded window. Absolute offsets are
// used throughout; at(p) reads a byte the caller made visible with see().
class QemuStreamReader::Impl {
 public:
  Impl(ByteSource& src, const QemuDecodeOptions& opt)
      : src_(src), opt_(opt), win_(src, opt.max_buffer), own_budget_(opt.limits),
        budget_(opt.budget ? *opt.budget : own_budget_) {
    body_opt_.limits = opt.limits;
    body_opt_.budget = &budget_;
    if (opt.custom_infos) body_opt_.custom = &custom_decoders();
  }

  Result<bool> step(QemuStreamVisitor& v) {
    v_ = &v;
    grant_to(win_.offset());
    switch (phase_) {
      case Phase::header: SW_CHECK(header()); phase_ = Phase::records; return true;
      case Phase::records: return record();
      case Phase::ram: SW_CHECK(ram_step()); return true;
      case Phase::done: return false;
    }
    return false;
  }

  // step() to the end; RAM records in a tight loop (they are most records).
  Result<void> run(QemuStreamVisitor& v) {
    v_ = &v;
    while (true) {
      if (phase_ == Phase::ram) {
        grant_to(win_.offset());
        SW_CHECK(ram_step());
        continue;
      }
      SW_TRY(more, step(v));
      if (!more) return {};
    }
  }

  std::uint64_t offset() const { return win_.offset(); }
  std::uint64_t seen() const { return win_.visible_end(); }
  std::size_t high_water() const { return win_.high_water(); }

 private:
  enum class Phase { header, records, ram, done };

  // --- the window -----------------------------------------------------------

  // Grants our own budget the input up to `off` (a caller's budget was
  // granted by the caller).
  void grant_to(std::uint64_t off) {
    if (&budget_ != &own_budget_ || off <= granted_) return;
    own_budget_.grant_input(off - granted_);
    granted_ = off;
  }

  // Makes [offset(), end) visible if the input and the bound allow; true if it is.
  Result<bool> see(std::uint64_t end) {
    if (end <= win_.visible_end()) return true;
    return win_.probe(static_cast<std::size_t>(end - win_.offset()));
  }
  std::uint8_t at(std::uint64_t p) const { return win_.view()[p - win_.offset()]; }
  std::uint32_t be32(std::uint64_t p) const {
    return std::uint32_t(at(p)) << 24 | std::uint32_t(at(p + 1)) << 16 |
           std::uint32_t(at(p + 2)) << 8 | std::uint32_t(at(p + 3));
  }
  // Bytes [from, to) of the input, which must be visible.
  ByteSpan span(std::uint64_t from, std::uint64_t to) const {
    return win_.view().subspan(from - win_.offset(), to - from);
  }
  // n more bytes, or the input ended (a cursor then reports the short read).
  Result<void> want(std::size_t n, std::string_view section, std::string_view field) {
    auto r = win_.want(n);
    if (!r) {
      r.error().offset = win_.offset();
      return detail::ctx(std::move(r), section, field);
    }
    return {};
  }
  // Runs `read` on a cursor over what is visible and moves past what it read.
  template <class F>
  auto parse(F&& read) {
    Cursor c = win_.cursor();
    auto r = read(c);
    if (r) win_.consume(c.position());
    return r;
  }

  // --- stream header and trailer --------------------------------------------

  Result<void> header();

  // With the whole input in memory or a file that can be read at an offset,
  // the trailer is read first, as the stream's own description of every
  // device section. From a pipe it is found later, by looking ahead from the
  // first device section to the end of the input (see device_body()).
  Result<void> locate_trailer_ahead();

  // `bytes` starts at the EOF byte before a possible trailer record at `off`+1.
  Result<void> adopt_trailer(ByteSpan bytes, std::uint64_t off);

  // From a pipe: device sections come last in a QEMU stream, just before the
  // trailer, so looking ahead to the end of the input (within the bound)
  // finds the trailer before the device sections are decoded, as from a file.
  Result<void> probe_trailer();

  // --- records ----------------------------------------------------------------

  Result<bool> record();

  Result<void> after_eof();

  // QEMU reads the trailer's bytes and ignores them, so a damaged one costs
  // only the schema it would have given: say so and use the other sources.
  // Hostile input beyond a limit (nesting that would exhaust the parser's
  // stack) is refused, not ignored.
  Result<void> trailer_damaged(Error e);

  Result<void> command(std::uint64_t off);

  Result<void> section(std::uint8_t type, std::uint64_t off);

  Result<void> finish_section(SectionSummary& sum, const std::string& label);

  Result<bool> footer_at(std::uint64_t p, std::uint32_t id);

  Result<void> footer(const SectionHeader& h, const std::string& label, SectionSummary& sum);

  // Could a record start at p? Used to confirm a footer or a schema's end.
  Result<bool> plausible_record(std::uint64_t p);

  // Does the input end inside a record header starting at p (or right at p)?
  bool cut_record(std::uint64_t p) const;

  // The first footer of section `id` at or after `from` that a record
  // follows, pulling more input as the search needs it (within the bound).
  Result<std::optional<std::uint64_t>> scan_footer(std::uint64_t from, std::uint32_t id);

  const Description* find_dump(const std::string& idstr) const;

  const Description* find_registered(const std::string& idstr) const;

  struct Attempt {
    Struct body;
    std::uint64_t end = 0;
    std::uint64_t charged = 0;  // to the budget, given back if the reading is dropped
  };

  // Decodes the body with `d`; with `end` known it must explain exactly those
  // bytes, else everything in view is offered. Failures go to `why` (the
  // caller reports them if nothing works).
  Result<std::optional<Attempt>> try_decode(const Description& d, const SectionHeader& h,
                                            std::optional<std::uint64_t> end, std::string& why,
                                            const BodyDecodeOptions* with = nullptr);

  // A dump says only *that* a field has a test, not what it decides. With the
  // footer fixing the length, the outcomes of the first kMaxDumpTests tests
  // are enumerated: exactly one reading that explains every byte (and
  // re-encodes to them) is accepted; several are ambiguous, none a failure.
  Result<std::optional<Attempt>> try_decode_dump(const Description& d, const SectionHeader& h,
                                                 std::uint64_t end, std::string& why);

  Result<void> device_body(const SectionHeader& h, const std::string& label,
                           SectionSummary& sum);

  // --- RAM ----------------------------------------------------------------------

  // One RAM record. The current block survives across sections (QEMU resets
  // it only at setup), so CONTINUE may open a PART.
  Result<void> ram_step();

  Unexpected unsupported(const std::string& label, std::string_view what, std::uint64_t off);

  Result<void> ram_blocks(const std::string& label, const RamRecord& rec);

  // The configuration record has no length of its own; it holds a machine
  // name and a few small subsections.
  static constexpr std::size_t kConfigurationProbe = 64u << 10;

  ByteSource& src_;
  const QemuDecodeOptions opt_;  // a copy: callers may pass a temporary
  statewire::detail::StreamWindow win_;
  QemuStreamVisitor* v_ = nullptr;
  Phase phase_ = Phase::header;
  // The decode's memory budget: the caller's, or one of our own granted the
  // input as the window consumes it (never a size the input claims).
  Budget own_budget_;
  Budget& budget_;
  std::uint64_t granted_ = 0;  // input offset granted to own_budget_ so far
  BodyDecodeOptions body_opt_;
  std::string trailer_text_;  // the trailer's JSON when it was read from a file or pipe
  std::optional<detail::Trailer> trailer_;
  bool trailer_probe_failed_ = false;
  std::optional<bool> footers_;
  std::map<std::uint32_t, detail::LiveSection> live_;
  std::uint64_t page_size_ = 4096;
  std::vector<RamBlock> blocks_;
  std::string block_;
  std::uint64_t block_len_ = 0;
  bool have_block_ = false;
  SectionSummary ram_sum_;  // of the RAM section being read
  std::string ram_label_;
  bool trailer_damage_reported_ = false;
};

}  // namespace statewire::qemu
