// Built-in repairs between QEMU releases (include/statewire/qemu_transforms.hpp),
// found by comparing QEMU 7.2's and 10.2's -dump-vmstate of the same machine
// types (docs/compatibility.md) and written after the newer QEMU's code.
#include "statewire/qemu_transforms.hpp"

namespace statewire {

namespace {

Transform make(std::string section, std::uint32_t version, std::string note,
               std::vector<TransformOp> o, TransformCondition when) {
  Transform t;
  t.section = std::move(section);
  t.from = t.to = version;
  t.note = std::move(note);
  t.ops = std::move(o);
  t.when = std::move(when);
  t.origin = "built-in";
  return t;
}

}  // namespace

TransformSet qemu_builtin_transforms() {
  TransformSet s;
  // hpet (version 2): QEMU after 7.2 (10.2 here) sends the timer count as `num_timers_save`,
  // copied from num_timers before saving and checked equal to the configured
  // count after loading; same byte, same place. Rename it for the release
  // that reads the other name.
  s.add(make("hpet", 2, "num_timers is called num_timers_save",
             {ops::rename("num_timers", "num_timers_save")}, {{"num_timers_save"}, {"num_timers"}, {}}));
  s.add(make("hpet", 2, "num_timers_save is called num_timers",
             {ops::rename("num_timers_save", "num_timers")}, {{"num_timers"}, {"num_timers_save"}, {}}));
  // i8259 (version 1): QEMU after 7.2 (10.2 here) keeps ICW1's LTIM bit (the whole chip level
  // triggered) and sends subsection i8259/ltim only while it is set. Older
  // releases have no such state: an interrupt controller in that mode cannot
  // be represented there, so the migration is refused rather than silently
  // switched to edge triggering.
  s.add(make("i8259", 1, "destination has no LTIM state",
             {ops::refuse_subsection("i8259/ltim",
                                     "the guest programmed the PIC level-triggered as a whole "
                                     "(ICW1 LTIM), which this QEMU cannot represent")},
             {{}, {"[i8259/ltim]"}, {}}));
  return s;
}

}  // namespace statewire
