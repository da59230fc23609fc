// Lossless JSON for state trees, the writing half: tree -> JSON text, whole
// or a section at a time (layout in tree_json.hpp).
#include "statewire/tree_json.hpp"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <nlohmann/json.hpp>

#include "statewire/text.hpp"

namespace statewire {

namespace {

using Json = nlohmann::ordered_json;


std::string to_hex(const std::vector<std::uint8_t>& b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s(b.size() * 2, '0');
  for (std::size_t i = 0; i < b.size(); ++i) {
    s[2 * i] = digits[b[i] >> 4];
    s[2 * i + 1] = digits[b[i] & 15];
  }
  return s;
}


// Writes JSON text directly, in the layout nlohmann's dump() gives (the
// format predates this writer): no DOM, so writing a tree takes the output's
// size in memory, not several times the tree's.
class JsonOut {
 public:
  // `level`: the nesting the text starts at (for text placed inside a document).
  JsonOut(std::string& out, int indent, int level = 0)
      : out_(out), indent_(indent), level_(static_cast<std::size_t>(level)) {}

  void begin(char c) {
    out_ += c;
    has_items_.push_back(false);
  }
  void end(char c) {
    const bool had = has_items_.back();
    has_items_.pop_back();
    if (had && indent_ >= 0) newline();
    out_ += c;
  }
  // Before each element of an array.
  void next() {
    if (has_items_.back()) out_ += ',';
    has_items_.back() = true;
    if (indent_ >= 0) newline();
  }
  void key(std::string_view k) {
    next();
    string(k);
    out_ += indent_ >= 0 ? ": " : ":";
  }
  // A string known to be valid UTF-8, escaped as nlohmann does (ensure_ascii off).
  void string(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    // Runs that need no escaping (nearly all text, every hex blob) go in one append.
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        default:
          if (c < 0x20) {
            out_ += "\\u00";
            out_ += kHex[c >> 4];
            out_ += kHex[c & 15];
          }
      }
    }
    out_.append(s.data() + run, s.size() - run);
    out_ += '"';
  }
  // Bytes as a string of lowercase hex digits, written in place.
  void hex(const std::vector<std::uint8_t>& b) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    const std::size_t at = out_.size();
    out_.resize(at + 2 * b.size());
    char* p = out_.data() + at;
    for (std::uint8_t x : b) {
      *p++ = kHex[x >> 4];
      *p++ = kHex[x & 15];
    }
    out_ += '"';
  }
  void raw(std::string_view s) { out_ += s; }
  template <class T>
  void number(T x) {
    fmt::format_to(std::back_inserter(out_), "{}", x);
  }

 private:
  void newline() {
    out_ += '\n';
    out_.append((level_ + has_items_.size()) * static_cast<std::size_t>(indent_), ' ');
  }

  std::string& out_;
  int indent_;
  std::size_t level_ = 0;
  std::vector<bool> has_items_;
};

// A name or string that is not valid UTF-8 (a stray byte on the wire) cannot
// be a JSON string: it is written as hex under `key` + "_hex" ("n_hex",
// "name_hex"), and read back to the same bytes.
void name_member(JsonOut& w, std::string_view key, const std::string& name) {
  if (is_valid_utf8(name)) {
    w.key(key);
    w.string(name);
    return;
  }
  w.key(std::string(key) + "_hex");
  w.string(to_hex(std::vector<std::uint8_t>(name.begin(), name.end())));
}

void write_struct_members(JsonOut& w, const Struct& s);

// The members of a value object after "n": "t" and what the kind needs.
void write_value_members(JsonOut& w, const Value& v) {
  w.key("t");
  w.string(kind_name(v.kind()));
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Null>) {
        } else if constexpr (std::is_same_v<T, double>) {
          w.key("v");
          w.raw(std::isfinite(x) ? Json(x).dump() : std::string("null"));
          w.key("bits");
          w.string(fmt::format("{:016x}", std::bit_cast<std::uint64_t>(x)));
        } else if constexpr (std::is_same_v<T, bool>) {
          w.key("v");
          w.raw(x ? "true" : "false");
        } else if constexpr (std::is_integral_v<T>) {
          // jq 1.6 (and JavaScript) hold numbers as doubles: beyond 2^53 a
          // number would come back changed, so such values are written as a
          // "0x..." string, which the reader accepts for any integer.
          constexpr std::uint64_t kExact = std::uint64_t(1) << 53;
          w.key("v");
          if constexpr (std::is_signed_v<T>) {
            const auto n = static_cast<std::int64_t>(x);
            const std::uint64_t mag =
                n < 0 ? 0 - static_cast<std::uint64_t>(n) : static_cast<std::uint64_t>(n);
            if (mag > kExact)
              w.string(fmt::format("{}0x{:x}", n < 0 ? "-" : "", mag));
            else
              w.number(n);
          } else {
            const auto n = static_cast<std::uint64_t>(x);
            if (n > kExact)
              w.string(fmt::format("0x{:x}", n));
            else
              w.number(n);
          }
        } else if constexpr (std::is_same_v<T, Blob>) {
          w.key("v");
          w.hex(x.bytes);
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (is_valid_utf8(x)) {
            w.key("v");
            w.string(x);
          } else {
            w.key("hex");
            w.string(to_hex(std::vector<std::uint8_t>(x.begin(), x.end())));
          }
        } else if constexpr (std::is_same_v<T, Array>) {
          if (x.layout == ArrayLayout::marker_list || x.layout == ArrayLayout::gtree) {
            w.key("layout");
            w.string(x.layout == ArrayLayout::gtree ? "gtree" : "marker_list");
          }
          if (!x.markers.empty()) {
            w.key("markers");
            w.begin('[');
            for (std::uint8_t b : x.markers) {
              w.next();
              w.number(static_cast<unsigned>(b));
            }
            w.end(']');
          }
          w.key("items");
          w.begin('[');
          for (const auto& it : x.items) {
            w.next();
            w.begin('{');
            write_value_members(w, it);
            w.end('}');
          }
          w.end(']');
        } else if constexpr (std::is_same_v<T, Struct>) {
          write_struct_members(w, x);
        }
      },
      v.v);
}

// "fields" and, when there are any, "subsections".
void write_struct_members(JsonOut& w, const Struct& s) {
  w.key("fields");
  w.begin('[');
  for (const auto& m : s.members) {
    w.next();
    w.begin('{');
    name_member(w, "n", m.name);
    write_value_members(w, m.value);
    w.end('}');
  }
  w.end(']');
  if (s.subsections.empty()) return;
  w.key("subsections");
  w.begin('[');
  for (const auto& sub : s.subsections) {
    w.next();
    w.begin('{');
    name_member(w, "name", sub.name);
    w.key("version_id");
    w.number(sub.version_id);
    write_struct_members(w, sub.body);
    w.end('}');
  }
  w.end(']');
}

void write_section(JsonOut& w, const Section& s) {
  w.begin('{');
  name_member(w, "name", s.name);
  w.key("instance_id");
  w.number(s.instance_id);
  w.key("version_id");
  w.number(s.version_id);
  if (s.kind != SectionKind::full || s.section_id != 0) {
    static constexpr const char* kinds[] = {"full", "start", "part", "end"};
    w.key("kind");
    w.string(kinds[static_cast<int>(s.kind)]);
    w.key("section_id");
    w.number(s.section_id);
  }
  write_struct_members(w, s.body);
  w.end('}');
}

// The JSON text of a section or struct object, as dumped at level 0.
std::string section_text(const Section& sec, int indent) {
  std::string out;
  JsonOut w(out, indent);
  write_section(w, sec);
  return out;
}

std::string struct_text(const Struct& st, int indent) {
  std::string out;
  JsonOut w(out, indent);
  w.begin('{');
  write_struct_members(w, st);
  w.end('}');
  return out;
}

// Appends `text` (a JSON dump made at level 0) as if dumped at `level`: JSON
// text holds raw newlines only as formatting, so each is followed by the
// extra indentation.
void append_at_level(std::string& out, std::string_view text, int level, int indent) {
  if (indent < 0 || level == 0) {
    out += text;
    return;
  }
  const std::string pad(static_cast<std::size_t>(level * indent), ' ');
  for (std::size_t p = 0;;) {
    const std::size_t nl = text.find('\n', p);
    if (nl == std::string_view::npos) {
      out += text.substr(p);
      return;
    }
    out += text.substr(p, nl + 1 - p);
    out += pad;
    p = nl + 1;
  }
}

}  // namespace

std::string to_json(const StateStream& s, const TreeJsonOptions& opt) {
  std::string out;
  JsonOut w(out, opt.indent);
  w.begin('{');
  w.key("sections");
  w.begin('[');
  for (const auto& sec : s.sections) {
    w.next();
    write_section(w, sec);
  }
  w.end(']');
  if (!s.envelope.members.empty() || !s.envelope.subsections.empty()) {
    w.key("envelope");
    w.begin('{');
    write_struct_members(w, s.envelope);
    w.end('}');
  }
  w.end('}');
  out += '\n';
  return out;
}

// --- TreeJsonWriter: the same document, a section at a time ----------------
//
// The document is {"sections": [...], "envelope": {...}}: sections first, so
// each is written as it arrives and the envelope (which for a QEMU stream
// holds the trailer, known last) at the end. Output is byte for byte what
// to_json() gives for the whole tree.

TreeJsonWriter::TreeJsonWriter(ByteSink& sink, const TreeJsonOptions& opt)
    : sink_(sink), indent_(opt.indent) {}

Result<void> TreeJsonWriter::flush(bool force) {
  if (out_.size() < (1u << 20) && !force) return {};
  SW_CHECK(sink_.write(ByteSpan(reinterpret_cast<const std::uint8_t*>(out_.data()), out_.size())));
  out_.clear();
  return {};
}

void TreeJsonWriter::next_section() {
  // Level 0 object, level 1 "sections" array, sections at level 2.
  if (sections_++ == 0) {
    out_ += indent_ < 0 ? "{\"sections\":[" : "{\n";
    if (indent_ >= 0) {
      out_.append(static_cast<std::size_t>(indent_), ' ');
      out_ += "\"sections\": [";
    }
  } else {
    out_ += ',';
  }
  if (indent_ >= 0) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(2 * indent_), ' ');
  }
}

Result<void> TreeJsonWriter::section(const Section& s) {
  next_section();
  append_at_level(out_, section_text(s, indent_), 2, indent_);
  return flush(false);
}

Result<void> TreeJsonWriter::begin_section(const Section& head) {
  if (head.body.members.empty() || !head.body.members.back().value.get_if<Array>() ||
      !head.body.subsections.empty())
    return fail(Errc::invalid_value,
                fmt::format("section {}: the bulk array must be the body's last member", head.label()));
  next_section();
  Section h = head;
  h.body.members.back().value = Value(Array{});
  std::string text = section_text(h, indent_);
  // The bulk array is the last "items" of the dump, printed empty: its
  // elements go between the brackets as they arrive.
  const std::size_t at = text.rfind(indent_ < 0 ? "\"items\":[]" : "\"items\": []");
  if (at == std::string::npos) return fail(Errc::invalid_value, "bulk array not found");
  const std::size_t open = text.find('[', at) + 1;
  append_at_level(out_, std::string_view(text).substr(0, open), 2, indent_);
  tail_ = text.substr(open + 1);  // after "]"
  bulk_items_ = 0;
  return {};
}

Result<void> TreeJsonWriter::bulk_item(const Value& v) {
  // Section at level 2, its "fields" at 3, the field object at 4, items at 5.
  if (bulk_items_++) out_ += ',';
  if (indent_ >= 0) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(6 * indent_), ' ');
  }
  JsonOut w(out_, indent_, 6);
  w.begin('{');
  write_value_members(w, v);
  w.end('}');
  return flush(false);
}

Result<void> TreeJsonWriter::end_section() {
  if (bulk_items_ && indent_ >= 0) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(5 * indent_), ' ');
  }
  out_ += ']';
  append_at_level(out_, tail_, 2, indent_);
  tail_.clear();
  return flush(false);
}

Result<void> TreeJsonWriter::finish(const Struct& envelope) {
  if (sections_ == 0) {
    out_ += indent_ < 0 ? "{\"sections\":[]" : "{\n";
    if (indent_ >= 0) {
      out_.append(static_cast<std::size_t>(indent_), ' ');
      out_ += "\"sections\": []";
    }
  } else if (indent_ >= 0) {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(indent_), ' ');
    out_ += ']';
  } else {
    out_ += ']';
  }
  if (!envelope.members.empty() || !envelope.subsections.empty()) {
    out_ += ',';
    if (indent_ >= 0) {
      out_ += '\n';
      out_.append(static_cast<std::size_t>(indent_), ' ');
    }
    out_ += indent_ < 0 ? "\"envelope\":" : "\"envelope\": ";
    append_at_level(out_, struct_text(envelope, indent_), 1, indent_);
  }
  if (indent_ >= 0) out_ += '\n';
  out_ += "}\n";
  return flush(true);
}

std::string to_json(const Struct& s, const TreeJsonOptions& opt) {
  std::string out;
  JsonOut w(out, opt.indent);
  w.begin('{');
  write_struct_members(w, s);
  w.end('}');
  out += '\n';
  return out;
}

}  // namespace statewire
