// Release 3 of the evolving model: the code as it was. New: the NIC's offload
// state in subsection nic/offload (needed only while nic.migrate-offload is
// on: off for demo-2.0 and older), and uart.scratch sent only while
// uart.migrate-scratch is on (on only for demo-2.0 and older).
#include "evolving_model/model.hpp"

namespace evolving_model::v3 {

namespace {

using statewire::describe;

struct Uart {
  std::uint16_t divider = 12;
  std::uint8_t lcr = 3;
  std::uint8_t ier = 0;
  std::uint8_t scratch = 0;
  bool migrate_scratch = false;  // property, not state
};
struct Timer {
  std::uint32_t count = 0;
  std::uint32_t reload = 0;
  std::uint8_t prescale = 1;
};
struct Nic {
  std::array<std::uint8_t, 6> mac{};
  std::uint32_t ctrl = 0;
  std::array<std::uint32_t, 4> filter{};
  std::uint8_t tso = 0;
  std::uint8_t csum = 0;
  bool migrate_offload = true;  // property, not state
};

const auto& uart() {
  static const auto d = describe<Uart>("uart", 1, 1)
                            .field("divider", &Uart::divider)
                            .field("lcr", &Uart::lcr)
                            .field("ier", &Uart::ier)
                            .field("scratch", &Uart::scratch,
                                   statewire::when("uart_scratch", [](const Uart& u) {
                                     return u.migrate_scratch;
                                   }));
  return d;
}
const auto& timer() {
  static const auto d = describe<Timer>("timer", 2, 1)
                            .field("count", &Timer::count)
                            .field("reload", &Timer::reload)
                            .field("prescale", &Timer::prescale, statewire::since(2));
  return d;
}
const auto& nic() {
  static const auto d =
      describe<Nic>("nic", 1, 1)
          .buffer("mac", &Nic::mac)
          .field("ctrl", &Nic::ctrl)
          .field("filter", &Nic::filter)
          .subsection(describe<Nic>("nic/offload", 1, 1).field("tso", &Nic::tso).field("csum", &Nic::csum),
                      "nic_offload_needed",
                      [](const Nic& n) { return n.migrate_offload && (n.tso || n.csum); });
  return d;
}

struct Vm {
  Uart uart;
  Timer timer;
  Nic nic;
};

void configure(Vm& vm, const statewire::MachineSet& m, std::size_t machine) {
  vm.uart.migrate_scratch = detail::property_on(m, machine, "uart", "migrate-scratch", false);
  vm.nic.migrate_offload = detail::property_on(m, machine, "nic", "migrate-offload", true);
}

void run(Vm& vm, Workload w) {
  vm.uart.divider = 1;
  vm.uart.lcr = 0x1b;
  vm.uart.ier = 0x05;
  vm.uart.scratch = 0x5a;
  vm.timer = {100000, 250000, static_cast<std::uint8_t>(w == Workload::busy ? 4 : 1)};
  vm.nic.mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  vm.nic.ctrl = 0x11;
  if (w == Workload::busy) {
    vm.nic.filter = {0x0a000001, 0x0a000002, 0, 0};
    vm.nic.tso = 1;
  }
}

// Every device of the VM, registered once: the registry saves and loads them all.
statewire::Result<statewire::Registry> registry(Vm& vm) {
  statewire::Registry reg;
  SW_CHECK(reg.add(uart(), vm.uart));
  SW_CHECK(reg.add(timer(), vm.timer));
  SW_CHECK(reg.add(nic(), vm.nic));
  return reg;
}

}  // namespace

Build make_build() {
  Build b;
  b.version = 3;
  const statewire::CompatProperty hw_compat_2_0[] = {{"nic", "migrate-offload", "off"},
                                                     {"uart", "migrate-scratch", "on"}};
  b.machines.machines = {{"demo", false, {}, false},
                         {"demo-3.0", false, {}},
                         {"demo-2.0", false, {std::begin(hw_compat_2_0), std::end(hw_compat_2_0)}},
                         {"demo-1.0", false, {}}};
  b.catalog.add(std::make_shared<statewire::Description>(uart().schema()));
  b.catalog.add(std::make_shared<statewire::Description>(timer().schema()));
  b.catalog.add(std::make_shared<statewire::Description>(nic().schema()));
  b.save = [m = b.machines](std::string_view machine, Workload w) -> statewire::Result<statewire::StateStream> {
    SW_TRY(idx, detail::machine_index(m, machine, 3));
    Vm vm;
    configure(vm, m, idx);
    run(vm, w);
    SW_TRY(reg, registry(vm));
    return reg.save();
  };
  b.reload = [m = b.machines](const statewire::StateStream& in, std::string_view machine)
      -> statewire::Result<statewire::StateStream> {
    SW_TRY(idx, detail::machine_index(m, machine, 3));
    Vm vm;
    configure(vm, m, idx);
    SW_TRY(reg, registry(vm));
    SW_CHECK(reg.load(in));
    return reg.save();
  };
  b.tests = [m = b.machines](std::string_view machine) {
    statewire::TestResolver r;
    auto idx = detail::machine_index(m, machine, 3);
    if (!idx) return r;
    const bool scratch = detail::property_on(m, *idx, "uart", "migrate-scratch", false);
    r["uart_scratch"] = [scratch](const statewire::Struct&, std::uint32_t) {
      return std::optional<bool>(scratch);
    };
    return r;
  };
  b.instantiate = [m = b.machines](std::string_view machine, std::optional<Workload> w)
      -> statewire::Result<std::unique_ptr<Instance>> {
    SW_TRY(idx, detail::machine_index(m, machine, 3));
    auto inst = std::make_unique<detail::LiveVm<Vm>>();
    configure(inst->vm, m, idx);
    if (w) run(inst->vm, *w);
    SW_CHECK(inst->register_devices(registry));
    return std::unique_ptr<Instance>(std::move(inst));
  };
  return b;
}

}  // namespace evolving_model::v3
