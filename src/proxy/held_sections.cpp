#include "proxy/held_sections.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"
#include "statewire/schema_catalog.hpp"

namespace statewire {

Result<std::optional<Bytes>> rewrite_held(const HeldInput& in, const ProxyOptions& opt,
                                          ProxyResult& res) {
  // A stream of its own: header, the held sections, EOF and the trailer.
  Bytes mini = in.header;
  mini.insert(mini.end(), in.sections.begin(), in.sections.end());
  mini.insert(mini.end(), in.tail.begin(), in.tail.end());

  qemu::QemuDecodeOptions dopt;
  dopt.dump = opt.source_dump;
  dopt.registered = qemu::builtin_qemu_descriptions();
  auto decoded = qemu::decode_qemu_stream(mini, dopt);
  if (!decoded) {
    Error e = std::move(decoded.error());
    e.message = "held device sections: " + e.message;
    return Unexpected(std::move(e));
  }
  StateStream s = std::move(*decoded);
  // Renames first (headers and trailer entries; bodies untouched), so the
  // plan and rules see the names the destination knows.
  StreamRewrites rw;
  rw.renames = opt.renames;
  SW_TRY(changed, apply_stream_rewrites(rw, s));
  std::vector<std::string> bodies_changed;

  if (opt.destination && !opt.destination->empty()) {
    PlanOptions popt = opt.plan ? *opt.plan : PlanOptions{};
    MigrationPlan plan = plan_migration(std::move(s), *opt.destination, popt);
    if (!plan.ok()) {
      std::string why;
      for (const auto& e : plan.refusals) why += (why.empty() ? "" : "; ") + e.to_string();
      Error e = plan.refusals.front();
      e.message = fmt::format("the destination would refuse the state ({} reason(s)): {}",
                              plan.refusals.size(), why);
      e.section.clear();
      e.field_path.clear();
      return Unexpected(std::move(e));
    }
    for (const auto& p : plan.sections)
      if (!p.chain.empty()) bodies_changed.push_back(p.section);
    s = std::move(plan.result);
  } else if (opt.apply_rules_without_plan && opt.plan && opt.plan->transforms) {
    for (std::size_t i = 0; i < s.sections.size(); ++i) {
      const std::string label = s.sections[i].label();
      for (const auto& t : opt.plan->transforms->all()) {
        if (t.origin == "built-in") continue;
        if (t.section != SchemaCatalog::vmsd_name(s.sections[i].name) ||
            t.from != s.sections[i].version_id)
          continue;
        SW_CHECK(apply_transform(t, s, i));
        bodies_changed.push_back(label);
      }
    }
  }
  if (changed.empty() && bodies_changed.empty()) return std::optional<Bytes>{};
  // The trailer entries of changed bodies are written again from the tree.
  SW_CHECK(qemu::rewrite_description_trailer(s, bodies_changed));
  for (auto& l : bodies_changed)
    if (std::find(changed.begin(), changed.end(), l) == changed.end()) changed.push_back(l);
  res.rewritten.insert(res.rewritten.end(), changed.begin(), changed.end());
  SW_TRY(bytes, qemu::encode_qemu_stream(s));
  if (bytes.size() < in.header.size())
    return fail(Errc::invalid_value, "re-encoded device sections lost the stream header");
  bytes.erase(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(in.header.size()));
  return std::optional<Bytes>(std::move(bytes));
}

Result<Bytes> rename_in_trailer(ByteSpan tail,
                                const std::vector<std::pair<std::string, std::string>>& renames) {
  // EOF (1 byte), 0x06, be32 length, the JSON.
  if (tail.size() < 6) return fail(Errc::truncated, "description trailer: shorter than its header");
  SW_TRY(text, rename_trailer_entries(
                   std::string_view(reinterpret_cast<const char*>(tail.data()) + 6, tail.size() - 6),
                   renames));
  if (text.size() > 0xffffffffu) return fail(Errc::limit_exceeded, "description trailer too long");
  Bytes out(tail.begin(), tail.begin() + 2);
  const auto n = static_cast<std::uint32_t>(text.size());
  for (int sh = 24; sh >= 0; sh -= 8) out.push_back(static_cast<std::uint8_t>(n >> sh));
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

}  // namespace statewire
