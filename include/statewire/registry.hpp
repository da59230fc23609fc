// statewire/registry.hpp — the set of objects a program migrates, saved and
// loaded as one stream.
//
//   statewire::Registry reg;
//   SW_CHECK(reg.add(uart_description(), vm.uart));             // section "uart/0"
//   SW_CHECK(reg.add(nic_description(), vm.nic0));              // section "nic/0"
//   statewire::RegisterOptions second;
//   second.instance_id = 1;
//   SW_CHECK(reg.add(nic_description(), vm.nic1, second));      // section "nic/1"
//   auto codec = statewire::make_codec("framed");
//   SW_TRY(bytes, reg.save(*codec));
//   SW_CHECK(reg.load(bytes, *codec));                          // all or nothing
//
// A program registers each object once (section name, instance id, its
// native description, the object); the registry then saves and loads the
// whole set, so no caller dispatches on section names by hand. The registry
// keeps pointers: registered objects must outlive it and stay where they are.
//
// Saving walks the registrations in order. Loading is all-or-nothing: each
// incoming section is checked (registered, sent once, version within the
// description's range) and loaded into a *copy* of its object, with the
// description's pre_load/post_load hooks running on the copy; only when every
// section staged and no required section is missing are the copies moved into
// the objects. A LoadTransaction exposes the same steps one section at a time,
// for a session that receives sections as they arrive.
//
// Bodies arrive as trees (framed and JSON codecs, QEMU streams explained by a
// schema) and are loaded by name with from_tree, or as bytes (a QEMU stream
// without a schema keeps a body as an `opaque` blob; a section-at-a-time
// reader hands bytes over) and are loaded by the native byte loader. A tree
// of another shape than ours falls back to its bytes (see RegistryLoadOptions).
// Not here: compatibility transforms between versions (transform layer),
// channels and sessions, RAM and other iterative sections.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "statewire/codec.hpp"
#include "statewire/describe.hpp"
#include "statewire/result.hpp"
#include "statewire/schema.hpp"
#include "statewire/value.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire {

// Whether a registered section may be absent from an incoming stream. An
// absent section leaves its object as it was. QEMU's loader does not notice
// absent sections; we refuse them by default, since a device silently keeping
// its reset state is the bug migration users find last.
enum class MissingPolicy : std::uint8_t { refuse, allow };

struct RegisterOptions {
  std::string section;             // idstr on the wire; empty: the description's name
  std::uint32_t instance_id = 0;   // tells apart several objects of one description
  std::string type;                // device type in schemas(); empty: the section name
  bool may_be_missing = false;     // absence on load is fine for this object alone
};

// What the registry knows about one registered object.
struct Registration {
  std::string section;
  std::uint32_t instance_id = 0;
  std::string type;
  bool may_be_missing = false;
  std::shared_ptr<const Description> schema;  // the native description's schema

  std::uint32_t version() const noexcept { return schema->version_id; }
  std::uint32_t minimum_version() const noexcept { return schema->minimum_version_id; }
  std::string label() const;  // "section/instance", as errors name it
};

struct RegistrySaveOptions {
  // Version to write, by section name (every instance); absent: the
  // description's own. A source writes what an older destination reads.
  std::map<std::string, std::uint32_t, std::less<>> versions;
};

struct RegistryLoadOptions {
  // For registrations without may_be_missing.
  MissingPolicy missing = MissingPolicy::refuse;
  // A tree body whose shape differs from our description's (a QEMU trailer
  // keeps byte arrays as one blob, a dump keeps fields opaque) loads from the
  // bytes it encodes to, as QEMU's loader would take them. false: only a tree
  // of our exact shape loads (names and kinds checked).
  bool bytes_when_shapes_differ = true;
  DecodeLimits limits;
};

namespace detail {

// One staged load: a copy of a registered object, loaded but not applied.
class StagedObject {
 public:
  virtual ~StagedObject() = default;
  [[nodiscard]] virtual Result<void> load_bytes(ByteSpan body, std::uint32_t version,
                                                const LoadOptions& o) = 0;
  [[nodiscard]] virtual Result<void> load_tree(const Struct& body, std::uint32_t version,
                                               const LoadOptions& o) = 0;
  // Moves the loaded copy into the registered object.
  virtual void apply() noexcept = 0;
};

// One registered object with its type erased.
class RegistryEntry {
 public:
  virtual ~RegistryEntry() = default;
  [[nodiscard]] virtual Result<void> save(ByteWriter& out, std::uint32_t version) const = 0;
  [[nodiscard]] virtual Result<Struct> to_tree(std::uint32_t version) const = 0;
  virtual std::unique_ptr<StagedObject> stage() const = 0;
  virtual TestResolver test_resolver() const = 0;
  // The registered object's bytes in memory: no two registrations may overlap,
  // since each stages a whole copy and applying one would undo the other.
  virtual std::pair<const void*, std::size_t> object_range() const noexcept = 0;
};

template <class T>
class TypedStaged final : public StagedObject {
 public:
  TypedStaged(const NativeDescription<T>& d, T& target) : d_(d), target_(&target), copy_(target) {}
  Result<void> load_bytes(ByteSpan body, std::uint32_t version, const LoadOptions& o) override {
    return d_.load(copy_, body, version, o);
  }
  Result<void> load_tree(const Struct& body, std::uint32_t version,
                         const LoadOptions& o) override {
    return d_.from_tree(copy_, body, version, o);
  }
  // noexcept: a move that throws (out of memory) terminates rather than
  // leaving some objects applied and others not.
  void apply() noexcept override { *target_ = std::move(copy_); }

 private:
  const NativeDescription<T>& d_;
  T* target_;
  T copy_;
};

template <class T>
class TypedEntry final : public RegistryEntry {
 public:
  TypedEntry(NativeDescription<T> d, T& obj) : d_(std::move(d)), obj_(&obj) {}
  Result<void> save(ByteWriter& out, std::uint32_t version) const override {
    return d_.save(*obj_, out, SaveOptions{version});
  }
  Result<Struct> to_tree(std::uint32_t version) const override {
    return d_.to_tree(*obj_, SaveOptions{version});
  }
  std::unique_ptr<StagedObject> stage() const override {
    return std::make_unique<TypedStaged<T>>(d_, *obj_);
  }
  TestResolver test_resolver() const override { return d_.test_resolver(); }
  std::pair<const void*, std::size_t> object_range() const noexcept override {
    return {obj_, sizeof(T)};
  }

 private:
  NativeDescription<T> d_;  // a handle: shares the compiled program
  T* obj_;
};

}  // namespace detail

class Registry;

// Sections of one incoming stream, staged one at a time and applied together.
// Nothing registered changes before commit(); dropping the transaction (a
// cancelled or broken migration) applies nothing. A failed stage() spends the
// transaction: commit() then refuses with that error and applies nothing.
// The registry must outlive the transaction, stay where it is, and gain no
// registrations meanwhile. Not thread-safe: one thread stages and commits.
class LoadTransaction {
 public:
  LoadTransaction(LoadTransaction&&) noexcept;
  LoadTransaction& operator=(LoadTransaction&&) noexcept;
  ~LoadTransaction();

  // Stages one section given as a tree (its kind must be `full`).
  [[nodiscard]] Result<void> stage(const Section& s);
  // Stages one section given as VMState body bytes, as a section-at-a-time
  // reader hands them over; error offsets are relative to the body.
  [[nodiscard]] Result<void> stage_body(std::string_view section, std::uint32_t instance_id,
                                        std::uint32_t version, ByteSpan body);

  bool is_staged(std::size_t registration) const noexcept;
  std::size_t staged_count() const noexcept;
  // Registrations not staged yet whose absence the policy refuses.
  std::vector<std::size_t> missing() const;
  // Refuses if a stage failed or a required section is missing (the error
  // names the first and counts the rest); otherwise applies every staged copy.
  [[nodiscard]] Result<void> commit();

 private:
  friend class Registry;
  LoadTransaction(const Registry& r, const RegistryLoadOptions& o);
  Result<std::size_t> admit(std::string_view section, std::uint32_t instance_id,
                            std::uint32_t version, SectionKind kind);
  Result<void> finish_stage(std::size_t i, Result<void> r);

  const Registry* reg_;
  RegistryLoadOptions opt_;
  std::vector<std::unique_ptr<detail::StagedObject>> staged_;
  std::optional<Error> failed_;
  bool spent_ = false;
};

class Registry {
 public:
  Registry();
  Registry(Registry&&) noexcept;
  Registry& operator=(Registry&&) noexcept;
  ~Registry();

  // Registers `obj`, saved and loaded with `d`. Refuses a second object for
  // the same section and instance, an object overlapping one already
  // registered (the same object, or a member of it), a section name no stream
  // can carry (empty or over 255 bytes), and a description whose builder was
  // misused.
  template <class T>
  [[nodiscard]] Result<void> add(const NativeDescription<T>& d, T& obj,
                                 const RegisterOptions& o = {}) {
    if (d.program()->misuse) return fail(*d.program()->misuse);
    return add_entry(std::make_unique<detail::TypedEntry<T>>(d, obj),
                     std::make_shared<const Description>(d.schema()), o);
  }

  // ---- registrations, in order -------------------------------------------
  const std::vector<Registration>& registrations() const noexcept { return regs_; }
  std::size_t size() const noexcept { return regs_.size(); }
  std::optional<std::size_t> find(std::string_view section, std::uint32_t instance_id) const;
  // Decides registration i's test-gated fields for decode_body() (a peer
  // decoding our bytes by schema alone, or a transform reading them).
  TestResolver test_resolver(std::size_t i) const;
  // One DeviceSchema per distinct type, in registration order.
  SchemaSet schemas() const;
  // schema_fingerprint() of each section's description, by section name, as
  // FramedEncodeOptions::fingerprints takes them.
  std::map<std::string, std::uint64_t, std::less<>> fingerprints() const;

  // ---- saving --------------------------------------------------------------
  // The version registration i is written at under `o`.
  std::uint32_t save_version(std::size_t i, const RegistrySaveOptions& o = {}) const;
  // Appends registration i's body (VMState encoding, straight from the
  // object); returns the version written. Nothing is appended on error.
  [[nodiscard]] Result<std::uint32_t> save_body(std::size_t i, ByteWriter& out,
                                                const RegistrySaveOptions& o = {}) const;
  // Registration i as a section (section_id = i).
  [[nodiscard]] Result<Section> save_section(std::size_t i,
                                             const RegistrySaveOptions& o = {}) const;
  // Every registration, in order, as one stream (empty envelope).
  [[nodiscard]] Result<StateStream> save(const RegistrySaveOptions& o = {}) const;
  [[nodiscard]] Result<Bytes> save(const Codec& codec, const RegistrySaveOptions& o = {}) const;

  // ---- loading -------------------------------------------------------------
  // Sections in any order; every one must be registered and sent once.
  [[nodiscard]] LoadTransaction begin_load(const RegistryLoadOptions& o = {});
  [[nodiscard]] Result<void> load(const StateStream& s, const RegistryLoadOptions& o = {});
  [[nodiscard]] Result<void> load(ByteSpan bytes, const Codec& codec,
                                  const RegistryLoadOptions& o = {});

 private:
  friend class LoadTransaction;
  Result<void> add_entry(std::unique_ptr<detail::RegistryEntry> e,
                         std::shared_ptr<const Description> schema, const RegisterOptions& o);

  std::vector<Registration> regs_;
  std::vector<std::unique_ptr<detail::RegistryEntry>> entries_;
};

}  // namespace statewire
