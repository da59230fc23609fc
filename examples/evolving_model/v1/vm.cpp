// Release 1 of the evolving model: the code as it was.
#include "evolving_model/model.hpp"

namespace evolving_model::v1 {

namespace {

using statewire::describe;

struct Uart {
  std::uint16_t divider = 12;
  std::uint8_t lcr = 3;
  std::uint8_t ier = 0;
  std::uint8_t scratch = 0;
};
struct Timer {
  std::uint32_t count = 0;
  std::uint32_t reload = 0;
};
struct Nic {
  std::array<std::uint8_t, 6> mac{};
  std::uint32_t ctrl = 0;
  std::array<std::uint32_t, 4> filter{};
};

const auto& uart() {
  static const auto d = describe<Uart>("uart", 1, 1)
                            .field("divider", &Uart::divider)
                            .field("lcr", &Uart::lcr)
                            .field("ier", &Uart::ier)
                            .field("scratch", &Uart::scratch);
  return d;
}
const auto& timer() {
  static const auto d =
      describe<Timer>("timer", 1, 1).field("count", &Timer::count).field("reload", &Timer::reload);
  return d;
}
const auto& nic() {
  static const auto d = describe<Nic>("nic", 1, 1)
                            .buffer("mac", &Nic::mac)
                            .field("ctrl", &Nic::ctrl)
                            .field("filter", &Nic::filter);
  return d;
}

struct Vm {
  Uart uart;
  Timer timer;
  Nic nic;
};

void run(Vm& vm, Workload w) {
  vm.uart = {1, 0x1b, 0x05, 0x5a};
  vm.timer = {100000, 250000};
  vm.nic.mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  vm.nic.ctrl = 0x11;
  if (w == Workload::busy) vm.nic.filter = {0x0a000001, 0x0a000002, 0, 0};
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
  b.version = 1;
  b.machines.machines = {{"demo", false, {}, false}, {"demo-1.0", false, {}}};
  b.catalog.add(std::make_shared<statewire::Description>(uart().schema()));
  b.catalog.add(std::make_shared<statewire::Description>(timer().schema()));
  b.catalog.add(std::make_shared<statewire::Description>(nic().schema()));
  b.save = [m = b.machines](std::string_view machine, Workload w) -> statewire::Result<statewire::StateStream> {
    SW_TRY(idx, detail::machine_index(m, machine, 1));
    (void)idx;
    Vm vm;
    run(vm, w);
    SW_TRY(reg, registry(vm));
    return reg.save();
  };
  b.reload = [m = b.machines](const statewire::StateStream& in, std::string_view machine)
      -> statewire::Result<statewire::StateStream> {
    SW_TRY(idx, detail::machine_index(m, machine, 1));
    (void)idx;
    Vm vm;
    SW_TRY(reg, registry(vm));
    SW_CHECK(reg.load(in));
    return reg.save();
  };
  b.tests = [](std::string_view) { return statewire::TestResolver{}; };
  b.instantiate = [m = b.machines](std::string_view machine, std::optional<Workload> w)
      -> statewire::Result<std::unique_ptr<Instance>> {
    SW_TRY(idx, detail::machine_index(m, machine, 1));
    auto inst = std::make_unique<detail::LiveVm<Vm>>();
    (void)idx;  // no compat properties before release 3
    if (w) run(inst->vm, *w);
    SW_CHECK(inst->register_devices(registry));
    return std::unique_ptr<Instance>(std::move(inst));
  };
  return b;
}

}  // namespace evolving_model::v1
