// statewire/schema_catalog.hpp — the descriptions one side has, found by section.
//
// A destination's schemas come as a -dump-vmstate file (keyed by vmsd name,
// the idstr after its last '/': "0000:00:01.0/piix4_pm" -> "piix4_pm"), as a
// QEMU stream's own description trailer (keyed by idstr and instance, exactly
// what was sent) or as C++ descriptions. The validator and the planner ask a
// catalog "what does this side read for this section?". Exact (idstr,
// instance) entries win over vmsd-name entries.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"

namespace statewire {

class SchemaCatalog {
 public:
  // Every device of a dump, by its top-level vmsd name. QOM types that share
  // one name with different contents (isa-serial's and pci-serial's "serial")
  // are all kept: a section may match any of them.
  static SchemaCatalog from_dump(const SchemaSet& dump);
  // A QEMU stream's description trailer (JSON text).
  [[nodiscard]] static Result<SchemaCatalog> from_trailer(std::string_view json);

  void add(std::shared_ptr<const Description> d);  // by its name
  void add_exact(std::string idstr, std::uint32_t instance, std::shared_ptr<const Description> d);

  const Description* find(std::string_view idstr, std::uint32_t instance) const;
  const Description* find(const Section& s) const { return find(s.name, s.instance_id); }
  // Every candidate for a section (several when a dump's QOM types share a name).
  std::vector<const Description*> find_all(std::string_view idstr, std::uint32_t instance) const;
  bool empty() const noexcept { return by_name_.empty() && exact_.empty(); }

  // The vmsd name a section id refers to: the idstr after its last '/'.
  static std::string_view vmsd_name(std::string_view idstr) noexcept;

 private:
  std::map<std::string, std::vector<std::shared_ptr<const Description>>, std::less<>> by_name_;
  std::map<std::pair<std::string, std::uint32_t>, std::shared_ptr<const Description>> exact_;
};

}  // namespace statewire
