// Built-in repairs between QEMU releases (include/statewire/qemu_transforms.hpp),
// found by comparing QEMU 7.2's and 10.2's -dump-vmstate of the same machine
// types (docs/compatibility.md) and written after the newer QEMU's code.
#include "statewire/qemu_transforms.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "statewire/cursor.hpp"
#include "statewire/vmstate_body.hpp"

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

// The bytes a value has on the wire (a dump-decoded stream keeps scalars as
// bytes, a trailer-decoded one as typed values; the devices' code sees bytes).
Bytes wire_bytes(const Value& v) {
  ByteWriter w;
  if (!encode_value(v, w)) return {};
  return Bytes(w.bytes().begin(), w.bytes().end());
}

std::uint64_t wire_uint(const Value* v) {
  if (!v) return 0;
  std::uint64_t n = 0;
  for (std::uint8_t b : wire_bytes(*v)) n = (n << 8) | b;  // VMState is big-endian
  return n;
}

bool wire_true(const Value* v) {
  if (!v) return false;
  for (std::uint8_t b : wire_bytes(*v))
    if (b) return true;
  return false;
}

// `like` with the integer n, in the same representation (typed or bytes).
Value same_kind(const Value& like, std::uint64_t n) {
  if (const Blob* b = like.get_if<Blob>()) {
    Blob out{Bytes(b->bytes.size())};
    for (std::size_t i = out.bytes.size(); i-- > 0; n >>= 8) out.bytes[i] = static_cast<std::uint8_t>(n);
    return Value(std::move(out));
  }
  return std::visit(
      [&](const auto& x) -> Value {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T>) return Value(static_cast<T>(n));
        return like;
      },
      like.v);
}

// The first member called `name`, or `name[i]` as QEMU's trailer tells
// fields of one name apart (10.2's e1000e has "unused[0]" and "unused[1]").
const Value* first_named(const Struct& s, std::string_view name) {
  if (const Value* v = s.find(name)) return v;
  for (const auto& m : s.members)
    if (m.name.size() > name.size() + 1 && m.name.starts_with(name) && m.name[name.size()] == '[')
      return &m.value;
  return nullptr;
}

const Struct* member_struct(const Struct& s, std::string_view name) {
  const Value* v = s.find(name);
  return v ? v->get_if<Struct>() : nullptr;
}

// --- e1000e ---------------------------------------------------------------
// QEMU 8.0 (31e3f318c8) dropped the interrupt-pending flags of the ITR and
// EITR throttling timers: they duplicated `running` and were never cleared.
// Their bytes stay on the wire as VMSTATE_UNUSED, which 10.2 skips. 7.2
// notifies the guest on a timer's expiry only while its flag is set, 10.2
// always does; so going back a flag is set when it was carried set or when
// its timer is running (an interrupt may be waiting for the expiry).
// Forward the flags ride along in the unused bytes (one buffer, as 10.2 has it).
Result<Value> carried_eitr_flags(const Struct& body) {
  const Value* flags = body.find("core.eitr_intr_pending");
  if (!flags) {  // already as 10.2 sends it
    if (const Value* have = first_named(body, "unused")) return *have;
    return fail(Errc::not_found, "core.eitr_intr_pending is not in the section");
  }
  return Value(Blob{wire_bytes(*flags)});
}

Result<Value> itr_pending(const Struct& body) {
  if (const Value* have = body.find("core.itr_intr_pending")) return *have;  // already 7.2's
  const Struct* itr = member_struct(body, "core.itr");
  return Value(wire_true(first_named(body, "unused")) || (itr && wire_true(itr->find("running"))));
}

Result<Value> eitr_pending(const Struct& body) {
  if (const Value* have = body.find("core.eitr_intr_pending")) return *have;  // already 7.2's
  const Value* eitr = body.find("core.eitr");
  const Array* timers = eitr ? eitr->get_if<Array>() : nullptr;
  if (!timers) return fail(Errc::not_found, "core.eitr (the MSI-X throttling timers) is not in the section");
  const Value* carried = first_named(body, "unused");
  const Bytes flags = carried ? wire_bytes(*carried) : Bytes{};
  Array out;
  for (std::size_t i = 0; i < timers->items.size(); ++i) {
    const Struct* t = timers->items[i].get_if<Struct>();
    out.items.push_back(Value((i < flags.size() && flags[i]) || (t && wire_true(t->find("running")))));
  }
  return Value(std::move(out));
}

// --- ESP SCSI (am53c974, dc390, sysbus-esp) -----------------------------------
// 10.2's vmstate_esp is version 8 (7.2: 6) and still reads a version-6 body
// (the outer `esp.mig_version_id` says which), except for `drq_state`
// (442de89a93), which it reads unconditionally. Field values as 10.2 maps them:
// `data_in_ready` became `data_ready`, `ti_cmd` became the load-only
// `mig_ti_cmd` (10.2 keeps the TI command in rregs[ESP_CMD] instead), and
// `asc_mode` (version 8) is set to initiator mode by 10.2's post_load for
// older bodies. The PDMA subsection is gone from 10.2 (b46a43a224).
constexpr std::size_t kEspTcLo = 0x0, kEspTcMid = 0x1, kEspCmd = 0x3, kEspTcHi = 0xe;
constexpr std::uint8_t kCmdTi = 0x10;
constexpr std::uint32_t kEspVersion72 = 6;

std::uint8_t reg(const Struct& esp, std::size_t i) {
  const Value* r = esp.find("rregs");
  const Bytes b = r ? wire_bytes(*r) : Bytes{};
  return i < b.size() ? b[i] : 0;
}

// 7.2 drives DRQ only for pseudo-DMA (the esp/pdma subsection is sent
// exactly when PDMA is in use) and lowers it when a transfer ends, so an idle
// controller's DRQ is low. A PDMA transfer in flight cannot be resumed by 10.2.
Result<Value> esp_drq_state(const Struct& body) {
  const Struct* esp = member_struct(body, "esp");
  if (!esp) return fail(Errc::not_found, "the section has no esp struct");
  if (const Value* have = esp->find("drq_state")) return *have;  // already 10.2's
  bool pdma = false;
  for (const auto& sub : esp->subsections) pdma = pdma || sub.name == "esp/pdma";
  if (pdma) {
    const std::uint32_t tc = reg(*esp, kEspTcLo) | reg(*esp, kEspTcMid) << 8 | reg(*esp, kEspTcHi) << 16;
    const Struct* fifo = member_struct(*esp, "fifo");
    const std::uint64_t queued = fifo ? wire_uint(fifo->find("num")) : 0;
    const std::uint64_t ti_size = wire_uint(esp->find("ti_size"));
    if (tc || queued || ti_size)
      return fail(Errc::invalid_value,
                  fmt::format("the ESP is in the middle of a pseudo-DMA transfer (transfer counter "
                              "{}, {} byte(s) in the FIFO, ti_size {}): QEMU 10.2 has no PDMA "
                              "callback and tracks the DRQ line that 7.2 does not save, so it "
                              "cannot resume it",
                              tc, queued, static_cast<std::int32_t>(ti_size)));
  }
  return Value(false);
}

// 7.2 keeps the TI command being executed in `ti_cmd`; 10.2 reads it from
// rregs[ESP_CMD] (any other command there means no TI is in progress).
Result<Value> esp_ti_cmd(const Struct& body) {
  const Struct* esp = member_struct(body, "esp");
  if (!esp) return fail(Errc::not_found, "the section has no esp struct");
  if (const Value* kept = esp->find("ti_cmd")) return *kept;
  const std::uint8_t cmd = reg(*esp, kEspCmd);
  return Value(static_cast<std::uint8_t>((cmd & 0x7f) == kCmdTi ? cmd : 0));
}

// 7.2 reads the body as version min(6, mig_version_id) anyway; say 6 as 7.2 would.
Result<Value> esp_mig_version(const Struct& body) {
  const Value* v = body.find("esp.mig_version_id");
  if (!v) return fail(Errc::not_found, "the section has no esp.mig_version_id");
  return same_kind(*v, std::min<std::uint64_t>(wire_uint(v), kEspVersion72));
}

// --- globalstate ---------------------------------------------------------------
// QEMU 9.0 (d3c86c99f3) cut the 100-byte runstate buffer into runstate[32],
// has_vm_was_suspended, vm_was_suspended and 66 unused bytes: the same bytes,
// so 7.2 reads them back as one buffer (the run state is the NUL-terminated
// string at its start). 7.2 cannot keep a guest suspended across migration.
constexpr std::size_t kRunStateBuffer72 = 100;

Result<Value> joined_runstate(const Struct& body) {
  const Value* run = body.find("runstate");
  if (!run) return fail(Errc::not_found, "globalstate has no runstate");
  if (!first_named(body, "has_vm_was_suspended")) return *run;  // already one buffer
  if (wire_true(first_named(body, "has_vm_was_suspended")) && wire_true(first_named(body, "vm_was_suspended")))
    return fail(Errc::invalid_value,
                "the guest was suspended (ACPI S3) when the VM stopped: QEMU 7.2 does not carry "
                "that and would resume it running");
  Bytes out = wire_bytes(*run);
  for (const char* part : {"has_vm_was_suspended", "vm_was_suspended", "unused"})
    if (const Value* v = first_named(body, part)) {
      Bytes b = wire_bytes(*v);
      out.insert(out.end(), b.begin(), b.end());
    }
  if (out.size() != kRunStateBuffer72)
    return fail(Errc::mismatch, fmt::format("runstate and the fields cut from it take {} bytes, "
                                            "QEMU 7.2 reads {}", out.size(), kRunStateBuffer72));
  return Value(Blob{std::move(out)});
}

void add_esp(TransformSet& s, const std::string& section) {
  s.add(make(section, 2, "ESP state as QEMU 10.2 reads it (esp v6 body, DRQ low)",
             {ops::rename("esp.data_in_ready", "data_ready"), ops::rename("esp.ti_cmd", "mig_ti_cmd"),
              ops::compute("esp.drq_state", esp_drq_state), ops::drop_subsection("esp.[esp/pdma]")},
             {{"esp.drq_state"}, {"esp.data_in_ready"}, {}}));
  s.add(make(section, 2, "ESP state as QEMU 7.2 reads it (esp v6 body)",
             {ops::rename("esp.data_ready", "data_in_ready"), ops::rename("esp.mig_ti_cmd", "ti_cmd"),
              ops::compute("esp.ti_cmd", esp_ti_cmd, "lun"), ops::drop("esp.drq_state"),
              ops::drop("esp.asc_mode"), ops::compute("esp.mig_version_id", esp_mig_version)},
             {{"esp.data_in_ready"}, {"esp.drq_state"}, {}}));
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
  // e1000e (version 1).
  s.add(make("e1000e", 1, "interrupt-pending flags are unused bytes in QEMU 10.2",
             {// The MSI-X flags first, while no other member is called `unused`.
              ops::compute("unused", carried_eitr_flags, "core.eitr_intr_pending"),
              ops::drop("core.eitr_intr_pending"), ops::rename("core.itr_intr_pending", "unused")},
             {{"unused"}, {"core.itr_intr_pending"}, {}}));
  s.add(make("e1000e", 1, "interrupt-pending flags from the throttling timers; no PTP clock offset",
             {ops::compute("core.itr_intr_pending", itr_pending, "unused"), ops::drop("unused"),
              ops::compute("core.eitr_intr_pending", eitr_pending, "unused"), ops::drop("unused"),
              // 10.2 sends the PTP clock adjustment only where migrate-timadj is on
              // (off for pc-*-7.2 and older through hw_compat_7_2).
              ops::refuse_value("core.timadj", Value(std::int64_t{0}),
                                "the guest adjusted the NIC's PTP system clock (TIMADJ), which "
                                "QEMU 7.2 does not emulate"),
              ops::drop("core.timadj")},
             {{"core.itr_intr_pending"}, {"unused"}, {}}));
  add_esp(s, "pciespscsi");     // am53c974, dc390
  add_esp(s, "sysbusespscsi");  // sysbus-esp
  // pvscsi (version 0): 7.2 sent the PCI device state in the main body
  // instead of subsection pvscsi/pcie when x-disable-pcie was on (machine
  // types 2.5 and older). 10.2 (404b27b739) has only the PCI Express device.
  s.add(make("pvscsi", 0, "no plain-PCI pvscsi in QEMU 10.2",
             {ops::refuse_field("parent_obj",
                                "the pvscsi is a plain PCI device (x-disable-pcie=on, the default of "
                                "machine types 2.5 and older), which this QEMU no longer has: it is "
                                "always PCI Express")},
             {{"[pvscsi/pcie]"}, {"parent_obj"}, {}}));
  s.add(make("globalstate", 1, "run state as QEMU 7.2's one 100-byte buffer",
             {ops::compute("runstate", joined_runstate), ops::drop("has_vm_was_suspended"),
              ops::drop("vm_was_suspended"), ops::drop("unused")},
             {{"runstate"}, {"has_vm_was_suspended"}, {}}));
  return s;
}

}  // namespace statewire
