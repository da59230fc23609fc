// The registry's non-template half: registrations, saving in order, and the
// staged, all-or-nothing load (registry.hpp).
#include "statewire/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

namespace statewire {

namespace {

// Errors from a description name the description ("nic"); from the registry
// they name the section and instance ("nic/1"), which is what tells two
// objects of one description apart.
Error relabel(Error e, const Registration& r) {
  e.section = r.label();
  return e;
}
Unexpected in_registration(Error e, const Registration& r) { return fail(relabel(std::move(e), r)); }

// A body no schema explained travels as one `opaque` blob (the QEMU codec
// keeps such bodies as bytes, and the other codecs carry that form as is).
const Blob* opaque_body(const Struct& body) {
  if (body.members.size() != 1 || !body.subsections.empty()) return nullptr;
  const Member& m = body.members.front();
  if (m.name != qemu::keys::kOpaque) return nullptr;
  return m.value.get_if<Blob>();
}

constexpr std::size_t kMaxSectionName = 255;  // QEMU's idstr is a u8-counted string

}  // namespace

std::string Registration::label() const { return fmt::format("{}/{}", section, instance_id); }

// ---- Registry ---------------------------------------------------------------

Registry::Registry() = default;
Registry::Registry(Registry&&) noexcept = default;
Registry& Registry::operator=(Registry&&) noexcept = default;
Registry::~Registry() = default;

Result<void> Registry::add_entry(std::unique_ptr<detail::RegistryEntry> e,
                                 std::shared_ptr<const Description> schema,
                                 const RegisterOptions& o) {
  Registration r;
  r.section = o.section.empty() ? schema->name : o.section;
  r.instance_id = o.instance_id;
  r.type = o.type.empty() ? r.section : o.type;
  r.may_be_missing = o.may_be_missing;
  r.schema = std::move(schema);
  if (r.section.empty() || r.section.size() > kMaxSectionName) {
    Error err = make_error(Errc::invalid_value,
                           fmt::format("section name of {} bytes: a stream carries 1 to {}",
                                       r.section.size(), kMaxSectionName));
    return in_registration(std::move(err), r);
  }
  if (find(r.section, r.instance_id)) {
    Error err = make_error(Errc::invalid_value, "registered twice (same section and instance id)");
    return in_registration(std::move(err), r);
  }
  // Overlap, not equality: a struct and one of its members overlap too.
  const auto [at, size] = e->object_range();
  const auto* lo = static_cast<const unsigned char*>(at);
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const auto [oat, osize] = entries_[i]->object_range();
    const auto* olo = static_cast<const unsigned char*>(oat);
    if (std::less<>{}(lo, olo + osize) && std::less<>{}(olo, lo + size)) {
      Error err = make_error(
          Errc::invalid_value,
          fmt::format("its object overlaps the object of {}: each load stages a whole copy, "
                      "so applying one would undo the other",
                      regs_[i].label()));
      return in_registration(std::move(err), r);
    }
  }
  regs_.push_back(std::move(r));
  entries_.push_back(std::move(e));
  return {};
}

std::optional<std::size_t> Registry::find(std::string_view section,
                                          std::uint32_t instance_id) const {
  for (std::size_t i = 0; i < regs_.size(); ++i)
    if (regs_[i].instance_id == instance_id && regs_[i].section == section) return i;
  return std::nullopt;
}

TestResolver Registry::test_resolver(std::size_t i) const { return entries_.at(i)->test_resolver(); }

SchemaSet Registry::schemas() const {
  SchemaSet set;
  for (const Registration& r : regs_) {
    if (set.find_device(r.type)) continue;  // another instance of a type already listed
    set.devices.push_back({r.type, r.type, r.version(), r.minimum_version(), *r.schema});
  }
  return set;
}

std::map<std::string, std::uint64_t, std::less<>> Registry::fingerprints() const {
  std::map<std::string, std::uint64_t, std::less<>> out;
  for (const Registration& r : regs_) out.emplace(r.section, schema_fingerprint(*r.schema));
  return out;
}

std::uint32_t Registry::save_version(std::size_t i, const RegistrySaveOptions& o) const {
  const Registration& r = regs_.at(i);
  auto it = o.versions.find(r.section);
  return it == o.versions.end() ? r.version() : it->second;
}

Result<std::uint32_t> Registry::save_body(std::size_t i, ByteWriter& out,
                                          const RegistrySaveOptions& o) const {
  const std::uint32_t version = save_version(i, o);
  if (auto r = entries_.at(i)->save(out, version); !r)
    return in_registration(std::move(r.error()), regs_[i]);
  return version;
}

Result<Section> Registry::save_section(std::size_t i, const RegistrySaveOptions& o) const {
  const std::uint32_t version = save_version(i, o);
  auto body = entries_.at(i)->to_tree(version);
  if (!body) return in_registration(std::move(body.error()), regs_[i]);
  Section s;
  s.section_id = static_cast<std::uint32_t>(i);
  s.name = regs_[i].section;
  s.instance_id = regs_[i].instance_id;
  s.version_id = version;
  s.body = std::move(*body);
  return s;
}

Result<StateStream> Registry::save(const RegistrySaveOptions& o) const {
  StateStream out;
  out.sections.reserve(regs_.size());
  for (std::size_t i = 0; i < regs_.size(); ++i) {
    SW_TRY(s, save_section(i, o));
    out.sections.push_back(std::move(s));
  }
  return out;
}

Result<Bytes> Registry::save(const Codec& codec, const RegistrySaveOptions& o) const {
  SW_TRY(stream, save(o));
  return codec.encode(stream);
}

LoadTransaction Registry::begin_load(const RegistryLoadOptions& o) { return LoadTransaction(*this, o); }

Result<void> Registry::load(const StateStream& s, const RegistryLoadOptions& o) {
  LoadTransaction t = begin_load(o);
  for (const Section& sec : s.sections) SW_CHECK(t.stage(sec));
  return t.commit();
}

Result<void> Registry::load(ByteSpan bytes, const Codec& codec, const RegistryLoadOptions& o) {
  SW_TRY(stream, codec.decode(bytes));
  return load(stream, o);
}

// ---- LoadTransaction ----------------------------------------------------------

LoadTransaction::LoadTransaction(const Registry& r, const RegistryLoadOptions& o)
    : reg_(&r), opt_(o), staged_(r.size()) {}
LoadTransaction::LoadTransaction(LoadTransaction&&) noexcept = default;
LoadTransaction& LoadTransaction::operator=(LoadTransaction&&) noexcept = default;
LoadTransaction::~LoadTransaction() = default;

Result<std::size_t> LoadTransaction::admit(std::string_view section, std::uint32_t instance_id,
                                           std::uint32_t version, SectionKind kind) {
  auto refuse = [&](Error e) -> Unexpected {
    if (!failed_) failed_ = e;
    return fail(std::move(e));
  };
  if (spent_)
    return fail(Errc::invalid_value, "the load transaction was already committed");
  if (failed_) return fail(*failed_);
  const std::optional<std::size_t> i = reg_->find(section, instance_id);
  if (!i) {
    std::string others;
    for (const Registration& r : reg_->registrations())
      if (r.section == section) others += fmt::format("{}{}", others.empty() ? "" : ", ", r.instance_id);
    Error e = make_error(
        Errc::unknown_section,
        others.empty()
            ? fmt::format("no object is registered for section {}", section)
            : fmt::format("no object is registered for instance {} (registered: {})", instance_id,
                          others));
    e.section = fmt::format("{}/{}", section, instance_id);
    return refuse(std::move(e));
  }
  const Registration& r = reg_->registrations()[*i];
  if (staged_[*i]) {
    Error e = make_error(Errc::mismatch, "section sent twice in one stream");
    return refuse(relabel(std::move(e), r));
  }
  if (kind != SectionKind::full) {
    Error e = make_error(Errc::unsupported,
                         "a described object is one full section, not START/PART/END records");
    return refuse(relabel(std::move(e), r));
  }
  if (auto v = check_version(*r.schema, version); !v)
    return refuse(relabel(std::move(v.error()), r));
  return *i;
}

Result<void> LoadTransaction::stage(const Section& s) {
  SW_TRY(i, admit(s.name, s.instance_id, s.version_id, s.kind));
  std::unique_ptr<detail::StagedObject> copy = reg_->entries_[i]->stage();
  const LoadOptions lo{opt_.limits};
  Result<void> r;
  if (const Blob* raw = opaque_body(s.body)) {
    r = copy->load_bytes(raw->bytes, s.version_id, lo);
  } else {
    r = copy->load_tree(s.body, s.version_id, lo);
    if (!r && r.error().code == Errc::mismatch && opt_.bytes_when_shapes_differ) {
      // The tree's shape is its producer's, not necessarily ours: QEMU's
      // trailer makes a byte array one blob, a dump leaves fields opaque.
      // The wire bytes are the authority, as for QEMU's own loader; when they
      // do not load either, the tree's error (naming the member) is reported.
      // A failed load left the copy as it was, so it is reused.
      ByteWriter w;
      if (encode_body(s.body, w)) {
        if (auto b = copy->load_bytes(w.bytes(), s.version_id, lo); b) r = std::move(b);
      }
    }
  }
  if (r) staged_[i] = std::move(copy);
  return finish_stage(i, std::move(r));
}

Result<void> LoadTransaction::stage_body(std::string_view section, std::uint32_t instance_id,
                                         std::uint32_t version, ByteSpan body) {
  SW_TRY(i, admit(section, instance_id, version, SectionKind::full));
  std::unique_ptr<detail::StagedObject> copy = reg_->entries_[i]->stage();
  Result<void> r = copy->load_bytes(body, version, LoadOptions{opt_.limits});
  if (r) staged_[i] = std::move(copy);
  return finish_stage(i, std::move(r));
}

Result<void> LoadTransaction::finish_stage(std::size_t i, Result<void> r) {
  if (r) return r;
  Error e = std::move(r.error());
  e.section = reg_->registrations()[i].label();
  if (!failed_) failed_ = e;
  return fail(std::move(e));
}

bool LoadTransaction::is_staged(std::size_t registration) const noexcept {
  return registration < staged_.size() && staged_[registration] != nullptr;
}

std::size_t LoadTransaction::staged_count() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(staged_.begin(), staged_.end(), [](const auto& p) { return p != nullptr; }));
}

std::vector<std::size_t> LoadTransaction::missing() const {
  std::vector<std::size_t> out;
  if (opt_.missing == MissingPolicy::allow) return out;
  const auto& regs = reg_->registrations();
  for (std::size_t i = 0; i < regs.size(); ++i)
    if (!staged_[i] && !regs[i].may_be_missing) out.push_back(i);
  return out;
}

Result<void> LoadTransaction::commit() {
  if (spent_) return fail(Errc::invalid_value, "the load transaction was already committed");
  spent_ = true;
  if (failed_) return fail(*failed_);
  const std::vector<std::size_t> absent = missing();
  if (!absent.empty()) {
    const auto& regs = reg_->registrations();
    std::string msg = "registered, but missing from the stream";
    if (absent.size() > 1) {
      msg += fmt::format("; {} more missing:", absent.size() - 1);
      for (std::size_t k = 1; k < absent.size(); ++k) msg += " " + regs[absent[k]].label();
    }
    Error e = make_error(Errc::not_found, std::move(msg));
    e.section = regs[absent.front()].label();
    return fail(std::move(e));
  }
  // Nothing can fail from here on: every copy loaded and passed its hooks.
  for (auto& s : staged_)
    if (s) s->apply();
  return {};
}

}  // namespace statewire
