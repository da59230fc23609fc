#include "statewire/schema_catalog.hpp"

#include "statewire/qemu_stream.hpp"

namespace statewire {

std::string_view SchemaCatalog::vmsd_name(std::string_view idstr) noexcept {
  std::size_t slash = idstr.rfind('/');
  return slash == std::string_view::npos ? idstr : idstr.substr(slash + 1);
}

SchemaCatalog SchemaCatalog::from_dump(const SchemaSet& dump) {
  SchemaCatalog c;
  for (const auto& dev : dump.devices) {
    auto& list = c.by_name_[dev.description.name];
    bool same = false;
    for (const auto& d : list) same = same || *d == dev.description;
    if (!same) list.push_back(std::make_shared<const Description>(dev.description));
  }
  return c;
}

Result<SchemaCatalog> SchemaCatalog::from_trailer(std::string_view json) {
  SW_TRY(sections, qemu::parse_description_trailer(json));
  SchemaCatalog c;
  for (auto& s : sections) c.add_exact(std::move(s.idstr), s.instance_id, std::move(s.description));
  return c;
}

void SchemaCatalog::add(std::shared_ptr<const Description> d) {
  std::string name = d->name;
  by_name_[std::move(name)].push_back(std::move(d));
}

void SchemaCatalog::add_exact(std::string idstr, std::uint32_t instance,
                              std::shared_ptr<const Description> d) {
  exact_[{std::move(idstr), instance}] = std::move(d);
}

std::vector<const Description*> SchemaCatalog::find_all(std::string_view idstr,
                                                        std::uint32_t instance) const {
  std::vector<const Description*> out;
  if (!exact_.empty())
    if (auto it = exact_.find({std::string(idstr), instance}); it != exact_.end())
      return {it->second.get()};
  auto it = by_name_.find(idstr);
  if (it == by_name_.end()) it = by_name_.find(vmsd_name(idstr));
  if (it != by_name_.end())
    for (const auto& d : it->second) out.push_back(d.get());
  return out;
}

const Description* SchemaCatalog::find(std::string_view idstr, std::uint32_t instance) const {
  auto all = find_all(idstr, instance);
  return all.empty() ? nullptr : all.front();
}

}  // namespace statewire
