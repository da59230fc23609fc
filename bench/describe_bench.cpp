// Native descriptions: save (object -> bytes) and load (bytes -> object) of
// the example VM model and of scalar-heavy state, side by side with
//   - memcpy of the same number of bytes (the floor: no encoding at all), and
//   - cereal's BinaryArchive on the same structs (Debian's libcereal-dev),
//     writing into / reading from a reused in-memory buffer.
// Run: build/bench/describe_bench --benchmark_min_time=0.2 --benchmark_repetitions=10
//        --benchmark_report_aggregates_only=true
// (medians: the machines are shared and single runs vary by 20%). Set
// STATEWIRE_BYTE_PLANS=off to measure the portable paths on a CPU with
// AVX-512 VBMI.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <streambuf>

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "statewire/describe.hpp"
#include "vm_model/vm_model.hpp"

// ---- cereal serialize functions for the same structs (bench only) ---------

namespace vm_model {

template <class A>
void serialize(A& ar, Uart& u) {
  ar(u.divider, u.rbr, u.ier, u.iir, u.lcr, u.mcr, u.lsr, u.msr, u.scr, u.fcr, u.rx_count,
     u.rx_fifo, u.thr_ipending, u.loopback_data, u.timeout_deadline_ns, u.timeout_chars, u.baud);
}
template <class A>
void serialize(A& ar, Timer& t) {
  ar(t.enabled, t.period_ns, t.next_deadline_ns, t.counter, t.mode, t.drift_ppm, t.irq_count,
     t.comparators, t.label, t.oneshot_remaining_ns, t.calibrated, t.scale, t.offset_ns);
}
template <class A>
void serialize(A& ar, NicDesc& d) {
  ar(d.addr, d.length, d.status);
}
template <class A>
void serialize(A& ar, Nic& n) {
  ar(n.mac, n.ctrl, n.status, n.rx_ring, n.rx_head, n.rx_tail, n.regs, n.filter_count, n.filters,
     n.rx_packets, n.tx_packets, n.rx_bytes, n.tx_bytes, n.tx_count, n.tx_ring, n.vlan_tag, n.tso,
     n.rx_csum, n.mss);
}
template <class A>
void serialize(A& ar, Vm& vm) {
  ar(vm.uart, vm.timer, vm.nic);
}

}  // namespace vm_model

namespace {

using namespace statewire;

// Scalar-heavy state: a CPU-like register file, mostly arrays of integers.
struct CpuState {
  std::array<std::uint64_t, 32> gpr{};
  std::array<std::uint64_t, 32> fpr{};
  std::array<std::uint32_t, 64> csr{};
  std::array<std::uint16_t, 16> seg{};
  std::uint64_t pc = 0, sp = 0, lr = 0, flags = 0;
  std::uint32_t mode = 0, irq_mask = 0, irq_pending = 0, cycles = 0;
  std::uint8_t priv = 0;
  bool halted = false;
};

template <class A>
void serialize(A& ar, CpuState& c) {
  ar(c.gpr, c.fpr, c.csr, c.seg, c.pc, c.sp, c.lr, c.flags, c.mode, c.irq_mask, c.irq_pending,
     c.cycles, c.priv, c.halted);
}

const NativeDescription<CpuState>& cpu_description() {
  static const auto d = describe<CpuState>("cpu", 1, 1)
                            .field("gpr", &CpuState::gpr)
                            .field("fpr", &CpuState::fpr)
                            .field("csr", &CpuState::csr)
                            .field("seg", &CpuState::seg)
                            .field("pc", &CpuState::pc)
                            .field("sp", &CpuState::sp)
                            .field("lr", &CpuState::lr)
                            .field("flags", &CpuState::flags)
                            .field("mode", &CpuState::mode)
                            .field("irq_mask", &CpuState::irq_mask)
                            .field("irq_pending", &CpuState::irq_pending)
                            .field("cycles", &CpuState::cycles)
                            .field("priv", &CpuState::priv)
                            .field("halted", &CpuState::halted);
  return d;
}

CpuState sample_cpu() {
  CpuState c;
  for (std::size_t i = 0; i < c.gpr.size(); ++i) c.gpr[i] = 0x0101010101010101ull * i;
  for (std::size_t i = 0; i < c.fpr.size(); ++i) c.fpr[i] = ~c.gpr[i];
  for (std::size_t i = 0; i < c.csr.size(); ++i) c.csr[i] = static_cast<std::uint32_t>(i * 7919);
  for (std::size_t i = 0; i < c.seg.size(); ++i) c.seg[i] = static_cast<std::uint16_t>(i * 8);
  c.pc = 0xffffffff81000000ull;
  c.sp = 0x7ffe0000;
  c.mode = 3;
  c.priv = 1;
  return c;
}

// One object per case, shared by its save and memcpy benchmarks.
const CpuState& cpu_sample() {
  static const CpuState c = sample_cpu();
  return c;
}

// cereal writes to a std::ostream; this one appends to a reused vector so
// cereal pays no allocation the statewire side does not pay either.
class VectorBuf : public std::streambuf {
 public:
  explicit VectorBuf(std::vector<char>& v) : v_(v) {}
  void reset() { v_.clear(); }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    v_.insert(v_.end(), s, s + n);
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) v_.push_back(static_cast<char>(c));
    return c;
  }

 private:
  std::vector<char>& v_;
};

class SpanBuf : public std::streambuf {
 public:
  SpanBuf(const char* data, std::size_t n) { reset(data, n); }
  void reset(const char* data, std::size_t n) {
    char* p = const_cast<char*>(data);
    setg(p, p, p + n);
  }

 protected:
  std::streamsize xsgetn(char* s, std::streamsize n) override {
    std::streamsize k = std::min<std::streamsize>(n, egptr() - gptr());
    std::memcpy(s, gptr(), static_cast<std::size_t>(k));
    gbump(static_cast<int>(k));
    return k;
  }
};

// cereal's binary archive writing `obj` (as the serialize functions above
// list it) into a reused buffer, and reading it back into `out`.
template <class T>
void cereal_save_loop(benchmark::State& state, T& obj) {
  std::vector<char> buf;
  buf.reserve(1 << 17);
  VectorBuf sb(buf);
  std::ostream os(&sb);
  for (auto _ : state) {
    sb.reset();
    {
      cereal::BinaryOutputArchive ar(os);
      ar(obj);
    }
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}

template <class T>
void cereal_load_loop(benchmark::State& state, T& obj, T& out) {
  std::vector<char> buf;
  VectorBuf sb(buf);
  std::ostream os(&sb);
  {
    cereal::BinaryOutputArchive ar(os);
    ar(obj);
  }
  SpanBuf in(buf.data(), buf.size());
  std::istream is(&in);
  for (auto _ : state) {
    in.reset(buf.data(), buf.size());
    is.clear();
    cereal::BinaryInputArchive ar(is);
    ar(out);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}

// Every save appends to this writer, and so does the memcpy it is compared
// with: the same destination address for both (reserved once, never moves).
ByteWriter& shared_writer() {
  static ByteWriter w = [] {
    ByteWriter x;
    x.reserve(1 << 17);
    return x;
  }();
  return w;
}

Bytes vm_bytes(const vm_model::Vm& vm) {
  ByteWriter w;
  (void)vm_model::uart_description().save(vm.uart, w);
  (void)vm_model::timer_description().save(vm.timer, w);
  (void)vm_model::nic_description().save(vm.nic, w);
  return std::move(w).take();
}

// ---- the example VM model -------------------------------------------------

void BM_VmSave_Statewire(benchmark::State& state) {
  const vm_model::Vm vm = vm_model::make_sample_vm();
  ByteWriter& w = shared_writer();
  for (auto _ : state) {
    w.truncate(0);
    bool ok = vm_model::uart_description().save(vm.uart, w).has_value() &&
              vm_model::timer_description().save(vm.timer, w).has_value() &&
              vm_model::nic_description().save(vm.nic, w).has_value();
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(w.bytes().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.size()));
  state.counters["bytes"] = static_cast<double>(w.size());
}
BENCHMARK(BM_VmSave_Statewire);

void BM_VmLoad_Statewire(benchmark::State& state) {
  const vm_model::Vm vm = vm_model::make_sample_vm();
  const Bytes uart = *vm_model::uart_description().save(vm.uart);
  const Bytes timer = *vm_model::timer_description().save(vm.timer);
  const Bytes nic = *vm_model::nic_description().save(vm.nic);
  vm_model::Vm out;
  const std::size_t total = uart.size() + timer.size() + nic.size();
  for (auto _ : state) {
    bool ok = vm_model::uart_description().load(out.uart, uart, 3).has_value() &&
              vm_model::timer_description().load(out.timer, timer, 3).has_value() &&
              vm_model::nic_description().load(out.nic, nic, 3).has_value();
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  if (!(out == vm)) state.SkipWithError("loaded VM differs");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total));
}
BENCHMARK(BM_VmLoad_Statewire);

// statewire saving `obj` with `d` into the shared writer, and loading the
// saved body into `out` (checked by saving `out` again).
template <class T>
void statewire_save_loop(benchmark::State& state, const NativeDescription<T>& d, const T& obj) {
  ByteWriter& w = shared_writer();
  for (auto _ : state) {
    w.truncate(0);
    bool ok = d.save(obj, w).has_value();
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(w.bytes().data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * w.size()));
  state.counters["bytes"] = static_cast<double>(w.size());
  state.counters["fields"] = static_cast<double>(d.schema().fields->size());
}

template <class T>
void statewire_load_loop(benchmark::State& state, const NativeDescription<T>& d, const T& obj,
                         T& out) {
  auto bytes = d.save(obj);
  for (auto _ : state) {
    bool ok = d.load(out, *bytes, d.version()).has_value();
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  auto again = d.save(out);
  if (!again || !bytes || *again != *bytes) state.SkipWithError("loaded state differs");
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes->size()));
}

// The floor every save is compared with: appending the same number of bytes
// from the same object to the same writer with one memcpy. Same source and
// destination addresses as the save, because memcpy's own figure moves by
// half with their alignment.
void memcpy_loop(benchmark::State& state, const void* src, std::size_t n) {
  ByteWriter& w = shared_writer();
  for (auto _ : state) {
    w.truncate(0);
    benchmark::DoNotOptimize(src);
    std::memcpy(w.grow(n), src, n);
    benchmark::DoNotOptimize(w.bytes().data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void BM_VmMemcpy(benchmark::State& state) {
  const Bytes body = vm_bytes(vm_model::make_sample_vm());
  memcpy_loop(state, body.data(), body.size());
}
BENCHMARK(BM_VmMemcpy);

void BM_VmSave_Cereal(benchmark::State& state) {
  vm_model::Vm vm = vm_model::make_sample_vm();
  cereal_save_loop(state, vm);
}
BENCHMARK(BM_VmSave_Cereal);

void BM_VmLoad_Cereal(benchmark::State& state) {
  vm_model::Vm vm = vm_model::make_sample_vm(), out;
  cereal_load_loop(state, vm, out);
  if (!(out == vm)) state.SkipWithError("loaded VM differs");
}
BENCHMARK(BM_VmLoad_Cereal);

// ---- scalar-heavy state ---------------------------------------------------

void BM_CpuSave_Statewire(benchmark::State& state) {
  statewire_save_loop(state, cpu_description(), cpu_sample());
}
BENCHMARK(BM_CpuSave_Statewire);

void BM_CpuLoad_Statewire(benchmark::State& state) {
  CpuState out;
  statewire_load_loop(state, cpu_description(), cpu_sample(), out);
}
BENCHMARK(BM_CpuLoad_Statewire);

void BM_CpuMemcpy(benchmark::State& state) {
  memcpy_loop(state, &cpu_sample(), cpu_description().save(cpu_sample())->size());
}
BENCHMARK(BM_CpuMemcpy);

void BM_CpuSave_Cereal(benchmark::State& state) {
  CpuState c = sample_cpu();
  cereal_save_loop(state, c);
}
BENCHMARK(BM_CpuSave_Cereal);

void BM_CpuLoad_Cereal(benchmark::State& state) {
  CpuState c = sample_cpu(), out;
  cereal_load_loop(state, c, out);
}
BENCHMARK(BM_CpuLoad_Cereal);

}  // namespace


// ---- larger scalar state ----------------------------------------------------
// The same kind of state at vector-register-file size (64 KiB: e.g. 32 SVE or
// AVX-512 registers per vCPU times several vCPUs), where the fixed cost of a
// call no longer dominates and the byte swap sets the pace.
namespace {

struct WideState {
  std::array<std::uint64_t, 4096> zmm{};
  std::array<std::uint32_t, 4096> mask{};
  std::uint64_t pc = 0;
};

template <class A>
void serialize(A& ar, WideState& w) {
  ar(w.zmm, w.mask, w.pc);
}

const NativeDescription<WideState>& wide_description() {
  static const auto d = describe<WideState>("wide", 1, 1)
                            .field("zmm", &WideState::zmm)
                            .field("mask", &WideState::mask)
                            .field("pc", &WideState::pc);
  return d;
}

WideState sample_wide() {
  WideState w;
  for (std::size_t i = 0; i < w.zmm.size(); ++i) w.zmm[i] = 0x0102030405060708ull * i;
  for (std::size_t i = 0; i < w.mask.size(); ++i) w.mask[i] = static_cast<std::uint32_t>(i * 31);
  w.pc = 42;
  return w;
}

const WideState& wide_sample() {
  static const WideState w = sample_wide();
  return w;
}

void BM_WideSave_Statewire(benchmark::State& state) {
  statewire_save_loop(state, wide_description(), wide_sample());
}
BENCHMARK(BM_WideSave_Statewire);

void BM_WideLoad_Statewire(benchmark::State& state) {
  static WideState out;
  statewire_load_loop(state, wide_description(), wide_sample(), out);
}
BENCHMARK(BM_WideLoad_Statewire);

void BM_WideMemcpy(benchmark::State& state) {
  memcpy_loop(state, &wide_sample(), wide_description().save(wide_sample())->size());
}
BENCHMARK(BM_WideMemcpy);

void BM_WideSave_Cereal(benchmark::State& state) {
  static WideState c = sample_wide();
  cereal_save_loop(state, c);
}
BENCHMARK(BM_WideSave_Cereal);

}  // namespace

// ---- a register file declared field by field ------------------------------
// Like an x86 vCPU's architectural state as a hypervisor keeps it: dozens of
// separately named members of mixed widths with alignment padding between
// them (a u32 selector before a u64 base), bools and bytes among them. No
// run of same-width members is long, so this is the case where per-field
// work shows; the byte plan does not care about the layout.
namespace {

struct X86Regs {
  std::uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rbp = 0, rsp = 0;
  std::uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
  std::uint64_t rip = 0, rflags = 0;
  std::uint32_t cs_sel = 0; std::uint64_t cs_base = 0; std::uint32_t cs_limit = 0, cs_flags = 0;
  std::uint32_t ds_sel = 0; std::uint64_t ds_base = 0; std::uint32_t ds_limit = 0, ds_flags = 0;
  std::uint32_t ss_sel = 0; std::uint64_t ss_base = 0; std::uint32_t ss_limit = 0, ss_flags = 0;
  std::uint32_t es_sel = 0; std::uint64_t es_base = 0; std::uint32_t es_limit = 0, es_flags = 0;
  std::uint32_t fs_sel = 0; std::uint64_t fs_base = 0; std::uint32_t fs_limit = 0, fs_flags = 0;
  std::uint32_t gs_sel = 0; std::uint64_t gs_base = 0; std::uint32_t gs_limit = 0, gs_flags = 0;
  std::uint64_t gdt_base = 0; std::uint32_t gdt_limit = 0;
  std::uint64_t idt_base = 0; std::uint32_t idt_limit = 0;
  std::uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0, efer = 0;
  std::uint16_t fpuc = 0, fpus = 0, fpop = 0; std::uint8_t fptag = 0;
  std::uint64_t fpip = 0, fpdp = 0;
  std::uint32_t mxcsr = 0;
  std::array<std::uint64_t, 32> xmm{};
  std::array<std::uint64_t, 16> fpregs{};
  std::uint64_t star = 0, lstar = 0, cstar = 0, fmask = 0, kernel_gs_base = 0;
  std::uint64_t sysenter_cs = 0, sysenter_esp = 0, sysenter_eip = 0, pat = 0, tsc = 0;
  std::uint32_t tsc_aux = 0, apic_id = 0;
  std::uint64_t apic_base = 0;
  std::int32_t exception_nr = 0;
  std::uint8_t interrupt_injected = 0, sipi_vector = 0, nmi_injected = 0;
  bool halted = false, has_error_code = false, soft_interrupt = false, nmi_pending = false;
  std::uint32_t error_code = 0;
  std::uint64_t xcr0 = 0, pkru = 0, spec_ctrl = 0, tsc_deadline = 0, mcg_status = 0;
  std::uint16_t smm_flags = 0;
  std::uint8_t smm = 0, cpl = 0;
};

#define SW_X86_FIELDS(X)                                                                     \
  X(rax) X(rbx) X(rcx) X(rdx) X(rsi) X(rdi) X(rbp) X(rsp) X(r8) X(r9) X(r10) X(r11) X(r12) \
  X(r13) X(r14) X(r15) X(rip) X(rflags)                                                     \
  X(cs_sel) X(cs_base) X(cs_limit) X(cs_flags) X(ds_sel) X(ds_base) X(ds_limit) X(ds_flags) \
  X(ss_sel) X(ss_base) X(ss_limit) X(ss_flags) X(es_sel) X(es_base) X(es_limit) X(es_flags) \
  X(fs_sel) X(fs_base) X(fs_limit) X(fs_flags) X(gs_sel) X(gs_base) X(gs_limit) X(gs_flags) \
  X(gdt_base) X(gdt_limit) X(idt_base) X(idt_limit) X(cr0) X(cr2) X(cr3) X(cr4) X(cr8)     \
  X(efer) X(fpuc) X(fpus) X(fpop) X(fptag) X(fpip) X(fpdp) X(mxcsr) X(xmm) X(fpregs)       \
  X(star) X(lstar) X(cstar) X(fmask) X(kernel_gs_base) X(sysenter_cs) X(sysenter_esp)      \
  X(sysenter_eip) X(pat) X(tsc) X(tsc_aux) X(apic_id) X(apic_base) X(exception_nr)         \
  X(interrupt_injected) X(sipi_vector) X(nmi_injected) X(halted) X(has_error_code)          \
  X(soft_interrupt) X(nmi_pending) X(error_code) X(xcr0) X(pkru) X(spec_ctrl)              \
  X(tsc_deadline) X(mcg_status) X(smm_flags) X(smm) X(cpl)

template <class A>
void serialize(A& ar, X86Regs& r) {
#define SW_CEREAL(f) ar(r.f);
  SW_X86_FIELDS(SW_CEREAL)
#undef SW_CEREAL
}

const NativeDescription<X86Regs>& x86_description() {
  static const auto d = [] {
    auto b = describe<X86Regs>("x86-regs", 1, 1);
#define SW_DESCRIBE(f) b.field(#f, &X86Regs::f);
    SW_X86_FIELDS(SW_DESCRIBE)
#undef SW_DESCRIBE
    return b;
  }();
  return d;
}

X86Regs sample_x86() {
  X86Regs r;
  auto* bytes = reinterpret_cast<unsigned char*>(&r);
  for (std::size_t i = 0; i < sizeof r; ++i) bytes[i] = static_cast<unsigned char>(i * 13);
  r.halted = true;
  r.has_error_code = false;
  r.soft_interrupt = true;
  r.nmi_pending = false;
  return r;
}

const X86Regs& x86_sample() {
  static const X86Regs r = sample_x86();
  return r;
}

void BM_X86Save_Statewire(benchmark::State& state) {
  statewire_save_loop(state, x86_description(), x86_sample());
}
BENCHMARK(BM_X86Save_Statewire);

void BM_X86Load_Statewire(benchmark::State& state) {
  X86Regs out;
  statewire_load_loop(state, x86_description(), x86_sample(), out);
}
BENCHMARK(BM_X86Load_Statewire);

void BM_X86Memcpy(benchmark::State& state) {
  memcpy_loop(state, &x86_sample(), x86_description().save(x86_sample())->size());
}
BENCHMARK(BM_X86Memcpy);

void BM_X86Save_Cereal(benchmark::State& state) {
  X86Regs r = sample_x86();
  cereal_save_loop(state, r);
}
BENCHMARK(BM_X86Save_Cereal);

void BM_X86Load_Cereal(benchmark::State& state) {
  X86Regs r = sample_x86(), out;
  cereal_load_loop(state, r, out);
}
BENCHMARK(BM_X86Load_Cereal);

}  // namespace

BENCHMARK_MAIN();
