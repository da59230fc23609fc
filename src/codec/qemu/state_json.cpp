// analyze-migration.py's state JSON of one device section (state_json.hpp).
//
// The state JSON of a section the trailer explained is rendered by walking
// the trailer entry and the decoded Struct side by side: the trailer-derived
// Description has exactly one field per trailer field entry, so member i
// belongs to entry i. That is what lets types the tree keeps as plain bytes
// or integers print the way analyze-migration.py prints them (it picks the
// rendering by the trailer's type name). Sections without a trailer entry are
// rendered from the tree alone in the same style.
#include "codec/qemu/state_json.hpp"

#include <fmt/format.h>

#include <map>

#include "statewire/vmstate_body.hpp"

namespace statewire::qemu::detail {

namespace {

void append_hex_bytes(std::string& out, ByteSpan b) {
  static constexpr char digits[] = "0123456789abcdef";
  if (b.empty()) return;
  const std::size_t start = out.size();
  out.resize(start + b.size() * 3 - 1, ' ');
  char* p = out.data() + start;
  for (std::size_t i = 0; i < b.size(); ++i) {
    p[3 * i] = digits[b[i] >> 4];
    p[3 * i + 1] = digits[b[i] & 15];
  }
}

// analyze-migration.py: "0x%0{2*size}x", and for negative signed values the
// unsigned pattern followed by " (<decimal>)".
void append_int(std::string& out, std::uint64_t bits, std::size_t size, bool is_signed) {
  if (size < 8 && size > 0) bits &= (std::uint64_t(1) << (8 * size)) - 1;
  fmt::format_to(std::back_inserter(out), "0x{:0{}x}", bits, 2 * size);
  if (is_signed && size > 0 && size <= 8 && (bits >> (8 * size - 1)) & 1) {
    std::int64_t v = size == 8 ? static_cast<std::int64_t>(bits)
                               : static_cast<std::int64_t>(bits) - (std::int64_t(1) << (8 * size));
    fmt::format_to(std::back_inserter(out), " ({})", v);
  }
}

void write_int(PyJsonWriter& w, std::uint64_t bits, std::size_t size, bool is_signed) {
  std::string& out = w.out();
  out += '"';
  append_int(out, bits, size, is_signed);
  out += '"';
}

void write_value_bytes(PyJsonWriter& w, const Value& v) {
  std::string& out = w.out();
  out += '"';
  if (const Blob* b = v.get_if<Blob>()) {
    append_hex_bytes(out, b->bytes);
  } else {
    ByteWriter bw;
    (void)encode_value(v, bw);
    append_hex_bytes(out, bw.bytes());
  }
  out += '"';
}

void generic_value(PyJsonWriter& w, const Value& v);

}  // namespace

void generic_struct(PyJsonWriter& w, const Struct& s) {
  std::map<std::string_view, std::size_t> count, seen;
  for (const auto& m : s.members) ++count[m.name];
  w.begin_object();
  for (const auto& m : s.members) {
    if (count[m.name] > 1)
      w.key(fmt::format("{}[{}]", m.name, seen[m.name]++));
    else
      w.key(m.name);
    generic_value(w, m.value);
  }
  for (const auto& sub : s.subsections) {
    w.key(count.count(sub.name) ? sub.name + " (subsection)" : sub.name);
    generic_struct(w, sub.body);
  }
  w.end_object();
}

namespace {

void generic_value(PyJsonWriter& w, const Value& v) {
  switch (v.kind()) {
    case ValueKind::null: w.null(); return;
    case ValueKind::boolean: w.boolean(*v.get_if<bool>()); return;
    case ValueKind::u8: case ValueKind::u16: case ValueKind::u32: case ValueKind::u64:
    case ValueKind::i8: case ValueKind::i16: case ValueKind::i32: case ValueKind::i64: {
      std::uint64_t bits = 0;
      v.as_u64(bits);
      bool sgn = v.kind() >= ValueKind::i8 && v.kind() <= ValueKind::i64;
      write_int(w, bits, v.scalar_width(), sgn);
      return;
    }
    case ValueKind::string: w.string(*v.get_if<std::string>()); return;
    case ValueKind::array:
      w.begin_list();
      for (const auto& it : v.get_if<Array>()->items) {
        w.elem();
        generic_value(w, it);
      }
      w.end_list();
      return;
    case ValueKind::structure: generic_struct(w, *v.get_if<Struct>()); return;
    default: write_value_bytes(w, v); return;
  }
}

// Rendering guided by a trailer entry (analyze-migration.py's reader table).
struct IntRender {
  std::string_view type;
  bool is_signed;
};
constexpr IntRender kIntRenders[] = {
    {"int8", true},         {"int16", true},          {"int32", true},
    {"int64", true},        {"int32 equal", true},    {"int32 le", true},
    {"int64 equal", true},  {"uint8 equal", true},    {"uint16 equal", true},
    {"uint8", false},       {"uint16", false},        {"uint32", false},
    {"uint64", false},      {"uint32 equal", false},
};

bool trailer_elem(PyJsonWriter& w, const Json& fe, const Value& v, StateLayout layout) {
  auto t = fe.find("type");
  if (t == fe.end() || !t->is_string()) return false;
  const std::string& type = t->get_ref<const std::string&>();
  // A NULL element of an array of pointers (QEMU 9.2 on names the type
  // "nullptr", 7.2 an empty "struct"; the 10.2 script prints "nullptr", the
  // 7.2 one the marker byte).
  if (v.kind() == ValueKind::null || (type == "nullptr" && layout != StateLayout::qemu_7_2)) {
    if (layout == StateLayout::lossless)
      w.null();
    else if (layout == StateLayout::qemu_10_2)
      w.plain_string("nullptr");
    else
      write_value_bytes(w, v);
    return true;
  }
  if (type == "struct") {
    const Struct* st = v.get_if<Struct>();
    auto it = fe.find("struct");
    return st && it != fe.end() && trailer_struct(w, *it, *st, layout);
  }
  if (type == "bool") {
    if (const bool* b = v.get_if<bool>()) {
      w.boolean(*b);
      return true;
    }
  }
  for (const auto& ir : kIntRenders) {
    if (type == ir.type) {
      std::uint64_t bits = 0;
      auto sz = fe.find("size");
      if (v.kind() != ValueKind::boolean && v.as_u64(bits) && sz != fe.end() &&
          sz->is_number_unsigned()) {
        write_int(w, bits, sz->get<std::size_t>(), ir.is_signed);
        return true;
      }
    }
  }
  write_value_bytes(w, v);
  return true;
}

// One value the scripts print: a trailer entry's member, or one element of
// an entry compressed with "array_len" (a byte of a blob or an array item).
struct Elem {
  const Json* fe = nullptr;
  const Value* v = nullptr;
  int byte = -1;  // >= 0: one byte of a uint8 array kept as a blob
};

// The values printed under one key, gathered from every trailer entry that
// carries the name (an array's elements, or segments of an array of pointers).
struct Group {
  std::string_view name;
  std::vector<Elem> elems;
  bool list = false;    // qemu-7.2: the entries so far were index entries
  bool marked = false;  // some entry carries "index" or "array_len"
};

// Adds one trailer entry's values to its group, as the chosen script would:
// 7.2 appends index entries to a list and lets a plain entry replace the key
// (so on 10.2 input, whose last struct element has no "index", it keeps only
// that element); 10.2 turns a repeated name into a list; lossless does what
// 10.2 does, and keeps a marked array a list even with one element.
bool add_entry(Group& g, const Json& fe, const Value& v, StateLayout layout) {
  std::vector<Elem> add;
  const bool compressed = fe.contains("array_len");
  const bool indexed = compressed || fe.contains("index");
  if (compressed) {
    if (const Blob* b = v.get_if<Blob>()) {
      for (std::uint8_t byte : b->bytes) add.push_back({&fe, &v, byte});
    } else if (const Array* a = v.get_if<Array>()) {
      for (const auto& item : a->items) add.push_back({&fe, &item, -1});
    } else if (v.kind() == ValueKind::null) {
      // A run of NULL pointers described once ("nullptr" with array_len n).
      const auto& n = fe["array_len"];
      if (!n.is_number_unsigned() || n.get<std::uint64_t>() > (1u << 24)) return false;
      for (std::uint64_t k = 0; k < n.get<std::uint64_t>(); ++k) add.push_back({&fe, &v, -1});
    } else {
      return false;
    }
  } else {
    add.push_back({&fe, &v, -1});
  }
  g.marked = g.marked || indexed;
  if (layout == StateLayout::qemu_7_2) {
    if (!indexed) {
      g.elems = std::move(add);
      g.list = false;
      return true;
    }
    if (!g.list) g.elems.clear();
    g.list = true;
  }
  g.elems.insert(g.elems.end(), add.begin(), add.end());
  return true;
}

bool write_elem(PyJsonWriter& w, const Elem& e, StateLayout layout) {
  if (e.byte >= 0) {
    write_int(w, static_cast<std::uint64_t>(e.byte), 1, false);
    return true;
  }
  return trailer_elem(w, *e.fe, *e.v, layout);
}

}  // namespace

bool trailer_struct(PyJsonWriter& w, const Json& desc, const Struct& s, StateLayout layout) {
  // Member i belongs to field entry i (see the file comment); keys are
  // printed in order of first appearance, as Python's dicts keep them.
  std::vector<Group> groups;
  std::map<std::string_view, std::size_t> by_name;
  std::size_t i = 0;
  if (auto fs = desc.find("fields"); fs != desc.end() && fs->is_array()) {
    for (const Json& fe : *fs) {
      if (i >= s.members.size()) return false;
      const Value& v = s.members[i++].value;
      auto n = fe.find("name");
      if (n == fe.end() || !n->is_string()) return false;
      std::string_view name = n->get_ref<const std::string&>();
      auto [it, fresh] = by_name.try_emplace(name, groups.size());
      if (fresh) groups.push_back(Group{name, {}, false, false});
      if (!add_entry(groups[it->second], fe, v, layout)) return false;
    }
  }
  if (i != s.members.size()) return false;
  w.begin_object();
  for (const Group& g : groups) {
    w.key(g.name);
    const bool list = layout == StateLayout::qemu_7_2 ? g.list
                      : layout == StateLayout::qemu_10_2
                          ? g.elems.size() > 1
                          : g.elems.size() > 1 || g.marked;
    if (!list) {
      if (g.elems.size() != 1 || !write_elem(w, g.elems[0], layout)) return false;
      continue;
    }
    w.begin_list();
    for (const Elem& e : g.elems) {
      w.elem();
      if (!write_elem(w, e, layout)) return false;
    }
    w.end_list();
  }
  std::size_t k = 0;
  if (auto ss = desc.find("subsections"); ss != desc.end() && ss->is_array()) {
    for (const Json& se : *ss) {
      if (k >= s.subsections.size()) return false;
      const auto& sub = s.subsections[k++];
      // The scripts would let a subsection replace a field of the same name
      // (no QEMU device has one); we keep both rather than repeat a key.
      w.key(by_name.count(sub.name) ? sub.name + " (subsection)" : sub.name);
      if (!trailer_struct(w, se, sub.body, layout)) return false;
    }
  }
  if (k != s.subsections.size()) return false;
  w.end_object();
  return true;
}

}  // namespace statewire::qemu::detail
