// Release 4 of the evolving model: the code as it was. New: the NIC's filter
// table is its own device (section nic-filter, nic goes to version 2); the
// timer's count is 64 bits and `remaining` (count x prescale) is migrated
// (timer 3); the UART's `ier` is now called `int_enable`.
#include "evolving_model/model.hpp"

namespace evolving_model::v4 {

namespace {

using statewire::describe;

struct Uart {
  std::uint16_t divider = 12;
  std::uint8_t lcr = 3;
  std::uint8_t int_enable = 0;
  std::uint8_t scratch = 0;
  bool migrate_scratch = false;  // property, not state
};
struct Timer {
  std::uint64_t count = 0;
  std::uint32_t reload = 0;
  std::uint8_t prescale = 1;
  std::uint64_t remaining = 0;  // count x prescale: input clocks to the next expiry
};
struct NicFilter {
  std::array<std::uint32_t, 4> filter{};
};
struct Nic {
  std::array<std::uint8_t, 6> mac{};
  std::uint32_t ctrl = 0;
  std::uint8_t tso = 0;
  std::uint8_t csum = 0;
  bool migrate_offload = true;  // property, not state
};

const auto& uart() {
  static const auto d = describe<Uart>("uart", 1, 1)
                            .field("divider", &Uart::divider)
                            .field("lcr", &Uart::lcr)
                            .field("int_enable", &Uart::int_enable)
                            .field("scratch", &Uart::scratch,
                                   statewire::when("uart_scratch", [](const Uart& u) {
                                     return u.migrate_scratch;
                                   }));
  return d;
}
const auto& timer() {
  static const auto d = describe<Timer>("timer", 3, 3)
                            .field("count", &Timer::count)
                            .field("reload", &Timer::reload)
                            .field("prescale", &Timer::prescale)
                            .field("remaining", &Timer::remaining);
  return d;
}
const auto& nic() {
  static const auto d =
      describe<Nic>("nic", 2, 2)
          .buffer("mac", &Nic::mac)
          .field("ctrl", &Nic::ctrl)
          .subsection(describe<Nic>("nic/offload", 1, 1).field("tso", &Nic::tso).field("csum", &Nic::csum),
                      "nic_offload_needed",
                      [](const Nic& n) { return n.migrate_offload && (n.tso || n.csum); });
  return d;
}

const auto& nic_filter() {
  static const auto d = describe<NicFilter>("nic-filter", 1, 1).field("filter", &NicFilter::filter);
  return d;
}

struct Vm {
  Uart uart;
  Timer timer;
  Nic nic;
  NicFilter filter;
};

void configure(Vm& vm, const statewire::MachineSet& m, std::size_t machine) {
  vm.uart.migrate_scratch = detail::property_on(m, machine, "uart", "migrate-scratch", false);
  vm.nic.migrate_offload = detail::property_on(m, machine, "nic", "migrate-offload", true);
}

void run(Vm& vm, Workload w) {
  vm.uart.divider = 1;
  vm.uart.lcr = 0x1b;
  vm.uart.int_enable = 0x05;
  vm.uart.scratch = 0x5a;
  vm.timer = {100000, 250000, static_cast<std::uint8_t>(w == Workload::busy ? 4 : 1), 0};
  vm.timer.remaining = vm.timer.count * vm.timer.prescale;
  vm.nic.mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  vm.nic.ctrl = 0x11;
  if (w == Workload::busy) {
    vm.filter.filter = {0x0a000001, 0x0a000002, 0, 0};
    vm.nic.tso = 1;
  }
}

// Every device of the VM, registered once: the registry saves and loads them all.
statewire::Result<statewire::Registry> registry(Vm& vm) {
  statewire::Registry reg;
  SW_CHECK(reg.add(uart(), vm.uart));
  SW_CHECK(reg.add(timer(), vm.timer));
  SW_CHECK(reg.add(nic(), vm.nic));
  SW_CHECK(reg.add(nic_filter(), vm.filter));
  return reg;
}

}  // namespace

Build make_build() {
  Build b;
  b.version = 4;
  const statewire::CompatProperty hw_compat_2_0[] = {{"nic", "migrate-offload", "off"},
                                                     {"uart", "migrate-scratch", "on"}};
  b.machines.machines = {{"demo", false, {}, false},
                         {"demo-4.0", false, {}},
                         {"demo-3.0", false, {}},
                         {"demo-2.0", false, {std::begin(hw_compat_2_0), std::end(hw_compat_2_0)}},
                         {"demo-1.0", false, {}}};
  b.catalog.add(std::make_shared<statewire::Description>(uart().schema()));
  b.catalog.add(std::make_shared<statewire::Description>(timer().schema()));
  b.catalog.add(std::make_shared<statewire::Description>(nic().schema()));
  b.catalog.add(std::make_shared<statewire::Description>(nic_filter().schema()));
  b.save = [m = b.machines](std::string_view machine, Workload w) -> statewire::Result<statewire::StateStream> {
    SW_TRY(idx, detail::machine_index(m, machine, 4));
    Vm vm;
    configure(vm, m, idx);
    run(vm, w);
    SW_TRY(reg, registry(vm));
    return reg.save();
  };
  b.reload = [m = b.machines](const statewire::StateStream& in, std::string_view machine)
      -> statewire::Result<statewire::StateStream> {
    SW_TRY(idx, detail::machine_index(m, machine, 4));
    Vm vm;
    configure(vm, m, idx);
    SW_TRY(reg, registry(vm));
    SW_CHECK(reg.load(in));
    return reg.save();
  };
  b.tests = [m = b.machines](std::string_view machine) {
    statewire::TestResolver r;
    auto idx = detail::machine_index(m, machine, 4);
    if (!idx) return r;
    const bool scratch = detail::property_on(m, *idx, "uart", "migrate-scratch", false);
    r["uart_scratch"] = [scratch](const statewire::Struct&, std::uint32_t) {
      return std::optional<bool>(scratch);
    };
    return r;
  };
  b.instantiate = [m = b.machines](std::string_view machine, std::optional<Workload> w)
      -> statewire::Result<std::unique_ptr<Instance>> {
    SW_TRY(idx, detail::machine_index(m, machine, 4));
    auto inst = std::make_unique<detail::LiveVm<Vm>>();
    configure(inst->vm, m, idx);
    if (w) run(inst->vm, *w);
    SW_CHECK(inst->register_devices(registry));
    return std::unique_ptr<Instance>(std::move(inst));
  };
  return b;
}

}  // namespace evolving_model::v4
