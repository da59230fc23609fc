// The transforms between the evolving model's releases, both directions,
// registered per (section, from version, to version). Same-version entries
// adapt a section whose layout changed without a version bump; their
// condition reads the destination's description.
#include <fmt/format.h>

#include "evolving_model/model.hpp"

namespace evolving_model {

namespace {

using namespace statewire;

Transform make(std::string section, std::uint32_t from, std::uint32_t to, std::string note,
               std::vector<TransformOp> o, TransformCondition when = {}) {
  Transform t;
  t.section = std::move(section);
  t.from = from;
  t.to = to;
  t.note = std::move(note);
  t.ops = std::move(o);
  t.when = std::move(when);
  t.origin = "evolving_model";
  return t;
}

TransformSet make_all() {
  TransformSet s;
  // v2: timer gains a prescaler (version 2). Version 1 counts input clocks
  // directly, i.e. prescale 1; any other prescaler cannot be represented.
  s.add(make("timer", 1, 2, "prescaler added", {ops::add("prescale", Value(std::uint8_t{1}))}));
  s.add(make("timer", 2, 1, "prescaler removed",
             {ops::refuse_value("prescale", Value(std::uint8_t{1}),
                                "version 1 has no prescaler, it counts every input clock"),
              ops::drop("prescale")}));
  // v4: count widens to 64 bits; `remaining` = count x prescale is migrated.
  s.add(make("timer", 2, 3, "64-bit count, remaining clocks migrated",
             {ops::change_width("count", ValueKind::u64),
              ops::compute("remaining", [](const Struct& b) -> Result<Value> {
                std::uint64_t count = 0, prescale = 1;
                const Value* c = b.find("count");
                const Value* p = b.find("prescale");
                if (!c || !c->as_u64(count) || !p || !p->as_u64(prescale))
                  return fail(Errc::not_found, "count and prescale are needed to compute remaining");
                return Value(count * prescale);
              })}));
  s.add(make("timer", 3, 2, "32-bit count; remaining is recomputed by the device",
             {ops::drop("remaining"), ops::change_width("count", ValueKind::u32)}));
  // v3: offload state in nic/offload, which versions 1 and 2 cannot hold.
  TransformCondition no_offload;
  no_offload.lacks = {"[nic/offload]"};
  s.add(make("nic", 1, 1, "destination has no offload state",
             {ops::refuse_subsection("nic/offload",
                                     "the NIC uses TCP segmentation or checksum offload, which "
                                     "this destination cannot represent")},
             no_offload));
  // v4: the filter table is its own section.
  s.add(make("nic", 1, 2, "filter table split off", {ops::split("nic-filter", 1, {"filter"})}));
  s.add(make("nic", 2, 1, "filter table merged back", {ops::merge("nic-filter", "")}));
  // v3: uart.scratch is sent only on old machine types; releases 1 and 2
  // always read it. The register is write-only scratch space: 0 is its reset value.
  TransformCondition reads_scratch;
  reads_scratch.has_untested = {"scratch"};
  s.add(make("uart", 1, 1, "scratch register read unconditionally",
             {ops::add("scratch", Value(std::uint8_t{0}))}, reads_scratch));
  // v4: ier is called int_enable (same bytes, same place).
  TransformCondition new_name, old_name;
  new_name.has = {"int_enable"};
  old_name.has = {"ier"};
  s.add(make("uart", 1, 1, "ier renamed int_enable", {ops::rename("ier", "int_enable")}, new_name));
  s.add(make("uart", 1, 1, "int_enable called ier", {ops::rename("int_enable", "ier")}, old_name));
  return s;
}

}  // namespace

const TransformSet& transforms() {
  static const TransformSet s = make_all();
  return s;
}

}  // namespace evolving_model
