// Stream rewrites on a QEMU stream's tree (qemu_transforms.hpp): section ids
// and their trailer entries renamed, the machine type replaced.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/json_document.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/qemu_transforms.hpp"

namespace statewire {

Result<std::string> rename_trailer_entries(
    std::string_view json, const std::vector<std::pair<std::string, std::string>>& renames) {
  SW_TRY(root, detail::parse_json_document<nlohmann::json>(json, Limits{}, "description trailer"));
  if (!root.is_object() || !root.contains("devices") || !root["devices"].is_array())
    return fail(Errc::invalid_value, "description trailer: not the expected JSON object");
  std::string text(json);
  // Entries are edited in the text; the parse says how many each rename must
  // change. A device entry starts with its name and instance id (a field
  // entry has a name but no instance id), in QEMU's layout or a compact one.
  for (const auto& [from, to] : renames) {
    std::size_t expected = 0;
    for (const auto& d : root["devices"])
      if (d.is_object() && d.contains("name") && d["name"].is_string() && d["name"] == from)
        ++expected;
    std::size_t done = 0;
    for (const auto& [sep, comma] : {std::pair{"\"name\": ", ", \"instance_id\""},
                                     std::pair{"\"name\":", ",\"instance_id\""}}) {
      const std::string key = sep + nlohmann::json(from).dump() + comma;
      const std::string repl = sep + nlohmann::json(to).dump() + comma;
      for (std::size_t at = text.find(key); at != std::string::npos;
           at = text.find(key, at + repl.size())) {
        text.replace(at, key.size(), repl);
        ++done;
      }
    }
    if (done != expected)
      return fail(Errc::invalid_value,
                  fmt::format("description trailer: {} entries named {}, {} found to rename in its "
                              "text",
                              expected, from, done));
  }
  return text;
}

Result<std::vector<std::string>> apply_stream_rewrites(const StreamRewrites& rw,
                                                       StateStream& stream) {
  std::vector<std::string> renamed;
  if (rw.machine_type) {
    Value* cv = stream.envelope.find(qemu::keys::kConfiguration);
    Struct* conf = cv ? cv->get_if<Struct>() : nullptr;
    Value* len = conf ? conf->find("len") : nullptr;
    Value* name = conf ? conf->find("name") : nullptr;
    if (!len || !name)
      return fail(Errc::invalid_value,
                  fmt::format("machine type {}: the stream has no configuration record to carry "
                              "it (QEMU sends one since 2.5 unless the machine type suppresses it)",
                              *rw.machine_type));
    const std::string& m = *rw.machine_type;
    *name = Value(Blob{std::vector<std::uint8_t>(m.begin(), m.end())});
    *len = Value(static_cast<std::uint32_t>(m.size()));
  }
  if (rw.renames.empty()) return renamed;
  for (auto& sec : stream.sections)
    for (const auto& [from, to] : rw.renames)
      if (sec.name == from) {
        sec.name = to;
        // A PART or END record names its section by number only.
        if (sec.kind == SectionKind::full || sec.kind == SectionKind::start)
          renamed.push_back(sec.label());
        break;
      }
  if (Value* t = stream.envelope.find(qemu::keys::kTrailer))
    if (const std::string* text = t->get_if<std::string>()) {
      SW_TRY(out, rename_trailer_entries(*text, rw.renames));
      *t = Value(std::move(out));
    }
  return renamed;
}

}  // namespace statewire
