#include "proxy/held_sections.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/json_document.hpp"
#include "statewire/limits.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/schema_catalog.hpp"

namespace statewire {

namespace {

Error refused(std::string message) {
  return make_error(Errc::invalid_value, std::move(message));
}

}  // namespace

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
  // A renamed section keeps its bytes, but the destination's trailer entry
  // for it must be written from a tree: an unexplained body cannot be moved.
  for (const auto& sec : s.sections) {
    const bool opaque = sec.body.members.size() == 1 && sec.body.members[0].name == qemu::keys::kOpaque;
    for (const auto& [from, to] : opt.renames)
      if (opaque && sec.name == from)
        return fail(refused(fmt::format(
            "{}: the source's schema does not explain this section (no description trailer "
            "entry{}), so it cannot be renamed",
            sec.label(), opt.source_dump ? " and not in --from-schema" : "; give --from-schema")));
  }

  std::vector<std::string> changed;
  for (auto& sec : s.sections)
    for (const auto& [from, to] : opt.renames)
      if (sec.name == from) {
        sec.name = to;
        changed.push_back(sec.label());
      }

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
      if (!p.chain.empty()) changed.push_back(p.section);
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
        changed.push_back(label);
      }
    }
  }
  if (changed.empty()) return std::optional<Bytes>{};
  res.rewritten = changed;
  SW_CHECK(qemu::rewrite_description_trailer(s, changed));
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
  std::string text(reinterpret_cast<const char*>(tail.data()) + 6, tail.size() - 6);
  SW_CHECK(detail::check_json_nesting(text, Limits{}.max_json_depth, "description trailer"));
  const auto root = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object() || !root.contains("devices") ||
      !root["devices"].is_array())
    return fail(Errc::invalid_value, "description trailer: not the expected JSON object");
  // The entries are edited in the text, so QEMU's layout stays as it was;
  // the parse says how many entries each rename must change.
  for (const auto& [from, to] : renames) {
    std::size_t expected = 0;
    for (const auto& d : root["devices"])
      if (d.is_object() && d.value("name", "") == from) ++expected;
    std::size_t done = 0;
    // A device entry starts with its name and instance id (a field entry
    // has a name but no instance id), in QEMU's layout or a compact one.
    for (const auto& [sep, comma] : {std::pair{"\"name\": ", ", \"instance_id\""},
                                     std::pair{"\"name\":", ",\"instance_id\""}}) {
      const std::string key = sep + nlohmann::json(from).dump() + comma;
      const std::string repl = sep + nlohmann::json(to).dump() + comma;
      for (std::size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + repl.size())) {
        text.replace(at, key.size(), repl);
        ++done;
      }
    }
    if (done != expected)
      return fail(Errc::invalid_value,
                  fmt::format("description trailer: {} entries named {}, {} renamed in its text",
                              expected, from, done));
  }
  if (text.size() > 0xffffffffu) return fail(Errc::limit_exceeded, "description trailer too long");
  Bytes out(tail.begin(), tail.begin() + 2);
  const auto n = static_cast<std::uint32_t>(text.size());
  for (int sh = 24; sh >= 0; sh -= 8) out.push_back(static_cast<std::uint8_t>(n >> sh));
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

}  // namespace statewire
