// Locating and converting QEMU's JSON description trailer (see trailer.hpp).
#include "codec/qemu/trailer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/json_document.hpp"

namespace statewire::qemu::detail {

namespace {

// QEMU's trailer nests as deep as its descriptions (5); bound hostile input.
constexpr std::size_t kMaxDepth = Limits{}.max_depth;

// Byte counts saturate here: no stream is that long, so a hostile trailer's
// sum can neither wrap around nor match a real end.
constexpr std::uint64_t kSaturated = std::uint64_t(1) << 62;

void add_bytes(std::uint64_t& total, std::uint64_t more) {
  total = more >= kSaturated - std::min(total, kSaturated) ? kSaturated : total + more;
}

Unexpected bad(std::uint64_t offset, std::string path, std::string what) {
  Error e = make_error(Errc::schema_invalid, "description trailer: " + std::move(what));
  e.offset = offset;
  e.field_path = std::move(path);
  return Unexpected(std::move(e));
}

struct Converter {
  Trailer& t;

  Result<std::uint64_t> get_uint(const Json& obj, const char* key, const std::string& path) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_number_unsigned())
      return bad(t.offset, path, fmt::format("expected a non-negative integer \"{}\"", key));
    return it->get<std::uint64_t>();
  }

  Result<std::string> get_string(const Json& obj, const char* key, const std::string& path) {
    auto it = obj.find(key);
    if (it == obj.end() || !it->is_string())
      return bad(t.offset, path, fmt::format("expected a string \"{}\"", key));
    return it->get<std::string>();
  }

  // Fills `d` from an object holding vmsd_name/version/fields/subsections
  // (a device entry, a "struct" object, a tmp/vstruct field, a subsection).
  // Adds the bytes the entry accounts for to `bytes`.
  Result<void> fill(Description& d, const Json& obj, const std::string& path, std::size_t depth,
                    std::uint64_t& bytes) {
    if (depth > kMaxDepth) return bad(t.offset, path, "nested too deeply");
    if (!obj.is_object()) return bad(t.offset, path, "expected an object");
    std::vector<Field> fields;
    if (auto fs = obj.find("fields"); fs != obj.end()) {
      if (!fs->is_array()) return bad(t.offset, path + ".fields", "expected an array");
      fields.reserve(fs->size());
      for (std::size_t i = 0; i < fs->size(); ++i) {
        SW_TRY(f, field((*fs)[i], fmt::format("{}.fields[{}]", path, i), depth, bytes));
        fields.push_back(std::move(f));
      }
    }
    d.fields = std::move(fields);
    if (auto ss = obj.find("subsections"); ss != obj.end()) {
      if (!ss->is_array()) return bad(t.offset, path + ".subsections", "expected an array");
      std::vector<Subsection> subs;
      for (std::size_t i = 0; i < ss->size(); ++i) {
        const Json& sj = (*ss)[i];
        std::string spath = fmt::format("{}.subsections[{}]", path, i);
        Subsection sub;
        SW_TRY(name, get_string(sj, "vmsd_name", spath));
        SW_TRY(ver, get_uint(sj, "version", spath));
        if (ver > std::numeric_limits<std::uint32_t>::max() || name.size() > 255)
          return bad(t.offset, spath, "version or name out of range");
        sub.description.name = name;
        sub.description.version_id = static_cast<std::uint32_t>(ver);
        sub.description.minimum_version_id = static_cast<std::uint32_t>(ver);
        // u8 0x05, u8 name length, name, be32 version, then the body.
        add_bytes(bytes, 6 + name.size());
        SW_CHECK(fill(sub.description, sj, spath, depth + 1, bytes));
        subs.push_back(std::move(sub));
      }
      d.subsections = std::move(subs);
    }
    return {};
  }

  Result<Field> field(const Json& fj, const std::string& path, std::size_t depth,
                      std::uint64_t& bytes) {
    if (!fj.is_object()) return bad(t.offset, path, "expected a field object");
    Field f;
    SW_TRY(name, get_string(fj, "name", path));
    SW_TRY(type, get_string(fj, "type", path));
    SW_TRY(size, get_uint(fj, "size", path));
    f.name = std::move(name);
    f.info = type;
    f.size = size;
    std::uint64_t n = 1;
    if (auto al = fj.find("array_len"); al != fj.end()) {
      if (!al->is_number_unsigned() || al->get<std::uint64_t>() > (1u << 24))
        return bad(t.offset, path + ".array_len", "expected a count up to 2^24");
      n = al->get<std::uint64_t>();
      f.count = Count::fixed(static_cast<std::uint32_t>(n));
    }
    if (size > (1ull << 32)) return bad(t.offset, path + ".size", "size above 4 GiB");
    add_bytes(bytes, size * n);  // size <= 2^32, n <= 2^24

    struct IntType {
      const char* name;
      FieldKind kind;
    };
    // Signedness follows QEMU's analyze-migration.py so both print the same.
    static constexpr IntType kInts[] = {
        {"int8", FieldKind::i8},          {"int16", FieldKind::i16},
        {"int32", FieldKind::i32},        {"int64", FieldKind::i64},
        {"uint8", FieldKind::u8},         {"uint16", FieldKind::u16},
        {"uint32", FieldKind::u32},       {"uint64", FieldKind::u64},
        {"int32 equal", FieldKind::i32},  {"uint32 equal", FieldKind::u32},
        {"int64 equal", FieldKind::i64},  {"uint8 equal", FieldKind::i8},
        {"uint16 equal", FieldKind::i16}, {"int32 le", FieldKind::i32},
    };
    if (type == "uint8" && size == 1 && f.count.mode == Count::Mode::fixed) {
      // A byte array is one blob in the tree: compact in JSON, and decoded
      // without a Value per byte (devices send kilobytes of them).
      f.kind = FieldKind::buffer;
      f.size = n;
      f.count = Count::single();
      return f;
    }
    // A NULL element of an array of pointers is the marker byte alone. QEMU
    // 7.2 describes it with the field's own type and an empty "struct"; newer
    // QEMUs name it "nullptr" (a run of n NULLs: array_len n). An array
    // described once for all its elements says only whether the first is NULL.
    const bool empty_struct = type == "struct" && size == 1 && fj.contains("struct") &&
                              fj.at("struct").is_object() &&
                              !fj.at("struct").contains("vmsd_name");
    if (type == "nullptr" || empty_struct) {
      f.kind = FieldKind::opaque;
      f.size = 1;
      f.nullable = true;
      f.null_elements.assign(type == "nullptr" ? n : 1, true);
      return f;
    }
    if (type == "struct" || type == "tmp" || type == "vstruct") {
      const Json* inner = &fj;
      if (type == "struct") {
        auto s = fj.find("struct");
        if (s == fj.end()) return bad(t.offset, path, "struct field without \"struct\"");
        inner = &*s;
      }
      auto d = std::make_shared<Description>();
      SW_TRY(vname, get_string(*inner, "vmsd_name", path));
      SW_TRY(ver, get_uint(*inner, "version", path));
      d->name = std::move(vname);
      d->version_id = static_cast<std::uint32_t>(ver);
      d->minimum_version_id = d->version_id;
      std::uint64_t ignored = 0;  // the field's own `size` already counts these bytes
      SW_CHECK(fill(*d, *inner, path, depth + 1, ignored));
      f.kind = FieldKind::structure;
      f.nested = std::move(d);
      return f;
    }
    for (const auto& it : kInts) {
      if (type == it.name && size == scalar_width(it.kind)) {
        f.kind = it.kind;
        return f;
      }
    }
    if (type == "bool" && size == 1) {
      f.kind = FieldKind::boolean;
      return f;
    }
    if (type == "buffer" || type == "unused_buffer" || type == "timer" || type == "bitmap" ||
        type == "CPU_Double_U") {
      // Kept as bytes (unused ones too, so non-zero padding survives a round trip).
      f.kind = FieldKind::buffer;
      return f;
    }
    f.kind = FieldKind::custom;
    t.custom_infos.insert(type);
    return f;
  }
};

}  // namespace

const TrailerDevice* Trailer::find(const std::string& name, std::uint32_t instance) const {
  auto it = index.find(std::pair<std::string, std::uint32_t>(name, instance));
  return it == index.end() ? nullptr : &devices[it->second];
}

Result<Trailer> parse_trailer(std::string_view json, std::uint64_t offset) {
  Trailer t;
  t.offset = offset;
  t.json = json;
  auto root = statewire::detail::parse_json_document<Json>(json, Limits{}, "description trailer");
  if (!root) {
    Error e = std::move(root.error());
    if (e.code == Errc::limit_exceeded) {
      // Hostile nesting: where it is, as an offset in the stream (after 0x06
      // and the length).
      e.offset = offset + 5 + e.offset.value_or(0);
    } else {
      // A damaged trailer: the record's offset (the message has line and column).
      e.code = Errc::schema_invalid;
      e.offset = offset;
    }
    e.field_path = "$";
    return fail(std::move(e));
  }
  t.root = std::move(*root);
  if (!t.root.is_object()) return bad(offset, "$", "not a JSON object");
  Converter c{t};
  if (auto ps = t.root.find("page_size"); ps != t.root.end() && ps->is_number_unsigned())
    t.page_size = ps->get<std::uint64_t>();
  auto devs = t.root.find("devices");
  if (devs == t.root.end() || !devs->is_array())
    return bad(offset, "$.devices", "expected an array \"devices\"");
  t.devices.reserve(devs->size());
  for (std::size_t i = 0; i < devs->size(); ++i) {
    const Json& dj = (*devs)[i];
    std::string path = fmt::format("$.devices[{}]", i);
    TrailerDevice dev;
    SW_TRY(name, c.get_string(dj, "name", path));
    SW_TRY(inst, c.get_uint(dj, "instance_id", path));
    if (inst > std::numeric_limits<std::uint32_t>::max())
      return bad(offset, path + ".instance_id", "out of range");
    dev.name = std::move(name);
    dev.instance_id = static_cast<std::uint32_t>(inst);
    dev.entry = &dj;
    auto d = std::make_shared<Description>();
    if (dj.contains("vmsd_name")) {
      SW_TRY(vname, c.get_string(dj, "vmsd_name", path));
      SW_TRY(ver, c.get_uint(dj, "version", path));
      d->name = std::move(vname);
      d->version_id = static_cast<std::uint32_t>(ver);
      d->minimum_version_id = d->version_id;
    } else {
      // An old-style handler (no vmsd): one "data" buffer, any version.
      d->name = dev.name;
      d->version_id = std::numeric_limits<std::uint32_t>::max();
      d->minimum_version_id = 0;
    }
    SW_CHECK(c.fill(*d, dj, path, 0, dev.body_size));
    dev.description = std::move(d);
    t.index.emplace(std::pair<std::string, std::uint32_t>(dev.name, dev.instance_id),
                    t.devices.size());
    t.devices.push_back(std::move(dev));
  }
  // `entry` pointers stay valid: root is not modified after this point.
  return t;
}

Result<std::optional<Trailer>> locate_trailer(ByteSpan bytes) {
  // JSON text cannot hold a raw 0x06, so the last 0x06 in the input is the
  // only place the trailer record can start.
  if (bytes.size() < 7 || bytes.back() != '}') return std::optional<Trailer>();
  const void* hit = memrchr(bytes.data(), 0x06, bytes.size());
  if (!hit) return std::optional<Trailer>();
  std::size_t p = static_cast<const std::uint8_t*>(hit) - bytes.data();
  if (p == 0 || p + 5 > bytes.size() || bytes[p - 1] != 0x00) return std::optional<Trailer>();
  std::uint32_t len = std::uint32_t(bytes[p + 1]) << 24 | std::uint32_t(bytes[p + 2]) << 16 |
                      std::uint32_t(bytes[p + 3]) << 8 | std::uint32_t(bytes[p + 4]);
  if (p + 5 + std::uint64_t(len) != bytes.size()) return std::optional<Trailer>();
  std::string_view json(reinterpret_cast<const char*>(bytes.data() + p + 5), len);
  SW_TRY(t, parse_trailer(json, p));
  return std::optional<Trailer>(std::move(t));
}

}  // namespace statewire::qemu::detail
