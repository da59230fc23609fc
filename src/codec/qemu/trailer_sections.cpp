// The public view of a description trailer: section name, instance and the
// Description converted from its entry (conversion rules in trailer.hpp).
#include "codec/qemu/trailer.hpp"
#include "statewire/qemu_stream.hpp"

namespace statewire::qemu {

Result<std::vector<TrailerSection>> parse_description_trailer(std::string_view json) {
  SW_TRY(t, detail::parse_trailer(json, 0));
  std::vector<TrailerSection> out;
  out.reserve(t.devices.size());
  for (auto& d : t.devices) out.push_back({d.name, d.instance_id, d.description});
  return out;
}

}  // namespace statewire::qemu
