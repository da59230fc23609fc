// Tree-driven VMState body encoding (layout in include/statewire/vmstate_body.hpp):
// needs no schema, the tree holds every wire byte.
#include "statewire/vmstate_body.hpp"

#include <fmt/format.h>

#include <bit>

namespace statewire {

Result<void> encode_value(const Value& v, ByteWriter& out) {
  return std::visit(
      [&](const auto& x) -> Result<void> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Null>) {
          out.put_u8(kNullPointerMarker);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.put_u8(x ? 1 : 0);
        } else if constexpr (std::is_same_v<T, double>) {
          out.put_be64(std::bit_cast<std::uint64_t>(x));
        } else if constexpr (std::is_integral_v<T>) {
          out.put_be(x);
        } else if constexpr (std::is_same_v<T, Blob>) {
          out.put_bytes(x.bytes);
        } else if constexpr (std::is_same_v<T, std::string>) {
          if (x.size() > 0xffffffffu) return fail(Errc::limit_exceeded, "string over 4 GiB");
          out.put_be32(static_cast<std::uint32_t>(x.size()));
          out.put_bytes(ByteSpan(reinterpret_cast<const std::uint8_t*>(x.data()), x.size()));
        } else if constexpr (std::is_same_v<T, Array>) {
          const bool marked = x.layout != ArrayLayout::plain;
          if (x.layout == ArrayLayout::gtree) {
            if (x.items.size() > 0xffffffffu) return fail(Errc::limit_exceeded, "tree over 2^32 nodes");
            out.put_be32(static_cast<std::uint32_t>(x.items.size()));
          }
          if (!x.markers.empty() && (!marked || x.markers.size() != x.items.size()))
            return fail(Errc::invalid_value, "list markers do not match the items");
          for (std::size_t i = 0; i < x.items.size(); ++i) {
            if (marked) {
              const std::uint8_t m = x.markers.empty() ? 1 : x.markers[i];
              if (m == 0)  // would end the list here
                return fail(std::move(make_error(Errc::invalid_value, "list marker 0x00 before an item")
                                          .in_field(fmt::format("[{}]", i))));
              out.put_u8(m);
            }
            auto r = encode_value(x.items[i], out);
            if (!r) return fail(std::move(r.error().in_field(fmt::format("[{}]", i))));
          }
          if (marked) out.put_u8(0);
        } else if constexpr (std::is_same_v<T, Struct>) {
          return encode_body(x, out);
        }
        return {};
      },
      v.v);
}

Result<void> encode_body(const Struct& body, ByteWriter& out) {
  for (const auto& m : body.members) {
    auto r = encode_value(m.value, out);
    if (!r) return fail(std::move(r.error().in_field(m.name)));
  }
  for (const auto& sub : body.subsections) {
    if (sub.name.size() > 255) {
      Error e = make_error(Errc::invalid_value, "subsection name longer than 255 bytes");
      return fail(std::move(e.in_field(sub.name.substr(0, 64))));
    }
    out.put_u8(kSubsectionMarker);
    out.put_counted_string(sub.name);
    out.put_be32(sub.version_id);
    auto r = encode_body(sub.body, out);
    if (!r) return fail(std::move(r.error().in_field(sub.name)));
  }
  return {};
}

}  // namespace statewire