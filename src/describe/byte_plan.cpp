// Building and running BytePlans (see byte_plan.hpp).
#include "describe/byte_plan.hpp"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <string_view>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define STATEWIRE_VBMI_PLANS 1
#endif

namespace statewire::detail {

PlanSlot::~PlanSlot() = default;
void PlanSlot::Deleter::operator()(PlainPlans* p) const noexcept { delete p; }

void PlanSlot::reset() noexcept {
  ready.store(nullptr, std::memory_order_release);
  decided.store(false, std::memory_order_release);
  plans.reset();
}

namespace {

constexpr std::uint64_t kAll = ~std::uint64_t{0};

// Sets a step's kind from its masks and index (see Step::Kind).
void classify(BytePlan::Step& s) {
  if (s.hi_mask != 0) {
    s.kind = BytePlan::Step::general;
    return;
  }
  s.kind = BytePlan::Step::one_window;
  if (s.lo_mask != kAll || s.store_mask != kAll) return;
  bool in_lane = true;
  for (unsigned lane = 0; lane < 64; ++lane) in_lane &= s.index[lane] / 16 == lane / 16;
  if (in_lane) s.kind = BytePlan::Step::in_lane;
}

// Appends `s`, or counts it as one more repeat of the last step when it is
// the same step 64 bytes further on both sides.
void append(std::vector<BytePlan::Step>& steps, const BytePlan::Step& s) {
  if (!steps.empty()) {
    BytePlan::Step& prev = steps.back();
    const std::uint32_t ahead = 64 * prev.repeat;
    if (prev.dst + ahead == s.dst && prev.src + ahead == s.src &&
        prev.store_mask == s.store_mask && prev.lo_mask == s.lo_mask &&
        prev.hi_mask == s.hi_mask && prev.kind == s.kind &&
        std::memcmp(prev.index, s.index, 64) == 0) {
      ++prev.repeat;
      return;
    }
  }
  steps.push_back(s);
}

// Where a step's source window starts: at its lowest source byte, moved
// back so that the window ends inside the source when the source is big
// enough. A load that reaches past the object into memory written just
// before (the caller's other variables) waits for those stores to retire,
// masked or not: that wait was most of the cost of saving a small object.
std::uint32_t window_start(std::int32_t lowest, std::int32_t highest, std::size_t src_size) {
  const std::size_t width = highest - lowest < 64 ? 64 : 128;
  std::size_t start = static_cast<std::size_t>(lowest);
  if (src_size >= width && start + width > src_size) start = src_size - width;
  return static_cast<std::uint32_t>(start);
}

// One step writing the mapped bytes among destination lanes [0, lanes) at
// `dst` (lane i is destination byte dst + i), all with sources in one window.
BytePlan::Step make_step(std::span<const std::int32_t> map, std::size_t dst, std::size_t lanes,
                         std::size_t src_size) {
  std::int32_t lowest = INT32_MAX, highest = -1;
  for (std::size_t i = 0; i < lanes; ++i)
    if (const std::int32_t m = map[dst + i]; m >= 0) {
      lowest = std::min(lowest, m);
      highest = std::max(highest, m);
    }
  BytePlan::Step s{};
  s.dst = static_cast<std::uint32_t>(dst);
  s.src = window_start(lowest, highest, src_size);
  for (std::size_t i = 0; i < lanes; ++i) {
    if (map[dst + i] < 0) continue;
    const auto rel = static_cast<std::uint32_t>(map[dst + i]) - s.src;
    s.index[i] = static_cast<std::uint8_t>(rel);
    s.store_mask |= std::uint64_t{1} << i;
    (rel < 64 ? s.lo_mask : s.hi_mask) |= std::uint64_t{1} << (rel % 64);
  }
  classify(s);
  return s;
}

}  // namespace

BytePlan BytePlan::build(std::span<const std::int32_t> map, bool may_overrun,
                         std::size_t src_size) {
  BytePlan plan;
  plan.overrun_ = may_overrun;
  const std::size_t n = map.size();
  if (may_overrun) {
    // Every destination byte is mapped and bytes past a step's end may be
    // scribbled (the next step or the slack overwrites them): each step
    // takes as many destination bytes, up to 64, as have their sources in
    // one 64-byte window, so padding between members costs a slightly
    // shorter step instead of a second source register.
    for (std::size_t d = 0; d < n;) {
      std::int32_t lo = map[d], hi = map[d];
      std::size_t len = 0;
      while (len < 64 && d + len < n) {
        const std::int32_t m = map[d + len];
        if (std::max(hi, m) - std::min(lo, m) >= 64) break;
        lo = std::min(lo, m);
        hi = std::max(hi, m);
        ++len;
      }
      append(plan.steps_, make_step(map, d, len, src_size));
      d += len;
    }
    return plan;
  }
  // 64-byte destination chunks; the last one moved back to end at the last
  // byte (its lanes already written are skipped), so no store reaches past
  // the destination either.
  for (std::size_t done = 0; done < n;) {
    const std::size_t chunk = n >= 64 ? std::min(done, n - 64) : 0;
    const std::size_t end = std::min(n, chunk + 64);
    // Each step covers the pending lanes whose sources fit one window that
    // starts at the lowest pending source; members in order need one step.
    std::vector<std::size_t> pending;
    for (std::size_t i = done; i < end; ++i)
      if (map[i] >= 0) pending.push_back(i - chunk);
    while (!pending.empty()) {
      std::int32_t lowest = INT32_MAX;
      for (std::size_t i : pending) lowest = std::min(lowest, map[chunk + i]);
      std::vector<std::int32_t> part(end - chunk, -1);
      std::erase_if(pending, [&](std::size_t i) {
        if (map[chunk + i] - lowest >= 128) return false;  // left for a later step
        part[i] = map[chunk + i];
        return true;
      });
      BytePlan::Step step = make_step(part, 0, part.size(), src_size);
      step.dst = static_cast<std::uint32_t>(chunk);
      append(plan.steps_, step);
    }
    done = end;
  }
  return plan;
}

namespace {

// STATEWIRE_BYTE_PLANS=off runs the portable paths on any CPU: for tests of
// those paths and for comparing the two in benchmarks.
[[maybe_unused]] bool plans_switched_off() noexcept {
  const char* v = std::getenv("STATEWIRE_BYTE_PLANS");
  return v && std::string_view(v) == "off";
}

}  // namespace

// The same permutation a lane at a time.
void BytePlan::run_reference(const unsigned char* src, unsigned char* dst) const {
  for (const Step& st : steps_)
    for (std::uint32_t k = 0; k < st.repeat; ++k)
      for (unsigned lane = 0; lane < 64; ++lane)
        if (st.store_mask >> lane & 1)
          dst[st.dst + 64 * k + lane] = src[st.src + 64 * k + st.index[lane]];
}

#if defined(STATEWIRE_VBMI_PLANS)

bool byte_plans_supported() noexcept {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi") && !plans_switched_off();
  }();
  return ok;
}

// GCC 12's _mm512_permutexvar_epi8 passes an undefined vector it never reads.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
[[gnu::target("avx512f,avx512bw,avx512vbmi")]] void BytePlan::run(const unsigned char* src,
                                                                  unsigned char* dst) const {
  for (const Step& st : steps_) {
    const unsigned char* s = src + st.src;
    unsigned char* d = dst + st.dst;
    // Locals: the stores below could alias the plan as far as the compiler knows.
    const std::uint32_t repeat = st.repeat;
    switch (st.kind) {
      case Step::in_lane: {
        // vpshufb uses the low four bits of each index byte (the offset in
        // the 16-byte lane). Loaded as two 32-byte halves: a misaligned
        // 64-byte load always splits a cache line, a 32-byte one only every
        // other time; that measured faster than one 64-byte load on
        // misaligned objects and buffers, the usual case.
        const __m512i index = _mm512_loadu_si512(st.index);
        for (std::uint32_t k = 0; k < repeat; ++k, s += 64, d += 64) {
          const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
          const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32));
          const __m512i x = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
          _mm512_storeu_si512(d, _mm512_shuffle_epi8(x, index));
        }
        break;
      }
      case Step::one_window: {
        const __m512i index = _mm512_loadu_si512(st.index);
        const __mmask64 lo = st.lo_mask;
        const bool whole = overrun_ || st.store_mask == kAll;
        for (std::uint32_t k = 0; k < repeat; ++k, s += 64, d += 64) {
          // Masked loads never touch (or fault on) bytes outside their masks,
          // so a window may hang over the end of the object or buffer.
          const __m512i r = _mm512_permutexvar_epi8(index, _mm512_maskz_loadu_epi8(lo, s));
          if (whole)
            _mm512_storeu_si512(d, r);
          else
            _mm512_mask_storeu_epi8(d, st.store_mask, r);
        }
        break;
      }
      case Step::general: {
        const __m512i index = _mm512_loadu_si512(st.index);
        const __mmask64 lo = st.lo_mask, hi = st.hi_mask, store = st.store_mask;
        for (std::uint32_t k = 0; k < repeat; ++k, s += 64, d += 64) {
          const __m512i a = _mm512_maskz_loadu_epi8(lo, s);
          const __m512i b = _mm512_maskz_loadu_epi8(hi, s + 64);
          _mm512_mask_storeu_epi8(d, store, _mm512_permutex2var_epi8(a, index, b));
        }
        break;
      }
    }
  }
}

#pragma GCC diagnostic pop

#else

bool byte_plans_supported() noexcept { return false; }
void BytePlan::run(const unsigned char* src, unsigned char* dst) const { run_reference(src, dst); }

#endif

namespace {

// Whether a body at the description's own version is a fixed layout of
// scalars: scalar fields and fixed arrays, and nested structs (fixed counts)
// that are such bodies themselves; no tests, variable counts, vectors,
// strings, buffers, padding, hooks or subsections anywhere.
bool flat(const Program& p, int depth = 0) {
  if (p.misuse || p.pre_save || p.post_save || p.pre_load || p.post_load || !p.subs.empty() ||
      depth > 16)
    return false;
  for (const Op& op : p.ops) {
    if (op.since > p.version) continue;
    // Pointers, lists, computed children, _EQUAL checks and fixed nested
    // versions are not a permutation of the object's bytes: the walk runs them.
    if (op.test >= 0 || op.varray || op.vec || op.pointer || op.list || op.tmp || op.map || op.equal ||
        op.struct_version >= 0)
      return false;
    if (op.kind == ElemKind::structure) {
      if (!flat(*op.nested, depth + 1)) return false;
    } else if (elem_width(op.kind) == 0) {
      return false;
    }
  }
  return true;
}

// Every byte a flat body moves, as (wire offset, object offset) pairs, in
// wire order. Host byte order is little-endian (checked by the caller), so
// wire byte b of a W-byte element is object byte W-1-b.
void flat_bytes(const Program& p, std::uint64_t base,
                std::vector<std::pair<std::uint32_t, std::uint32_t>>& out,
                std::vector<std::uint32_t>& bools) {
  for (const Op& op : p.ops) {
    if (op.since > p.version) continue;
    for (std::uint32_t k = 0; k < op.count; ++k) {
      const std::uint64_t at = base + op.offset + std::uint64_t{k} * op.stride;
      if (op.kind == ElemKind::structure) {
        flat_bytes(*op.nested, at, out, bools);
        continue;
      }
      const auto w = static_cast<std::uint32_t>(elem_width(op.kind));
      if (op.kind == ElemKind::boolean) bools.push_back(static_cast<std::uint32_t>(out.size()));
      for (std::uint32_t b = 0; b < w; ++b)
        out.emplace_back(static_cast<std::uint32_t>(out.size()),
                         static_cast<std::uint32_t>(at + (w - 1 - b)));
    }
  }
}

std::unique_ptr<PlainPlans, PlanSlot::Deleter> build_plans(const Program& p) {
  if (!flat(p) || std::endian::native != std::endian::little) return nullptr;
  std::unique_ptr<PlainPlans, PlanSlot::Deleter> plans(new PlainPlans);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> bytes;
  flat_bytes(p, 0, bytes, plans->bools);
  // Offsets are 32-bit in a plan; bodies that large are not register files.
  if (bytes.size() >= (1u << 30)) return nullptr;
  plans->size = static_cast<std::uint32_t>(bytes.size());

  std::vector<std::int32_t> map(bytes.size(), -1);
  std::uint32_t lo = UINT32_MAX, hi = 0;
  for (auto [wire, obj] : bytes) {
    map[wire] = static_cast<std::int32_t>(obj);
    lo = std::min(lo, obj);
    hi = std::max(hi, obj + 1);
  }
  plans->save = BytePlan::build(map, true, p.object_size);

  // A member described twice loads from its later field, as in the walk.
  map.assign(bytes.empty() ? 0 : hi - lo, -1);
  for (auto [wire, obj] : bytes) map[obj - lo] = static_cast<std::int32_t>(wire);
  plans->load = BytePlan::build(map, false, plans->size);
  plans->load_base = bytes.empty() ? 0 : lo;
  return plans;
}

}  // namespace

const PlainPlans* build_plain_plans(const Program& p) {
  PlanSlot& slot = p.plans;
  if (slot.decided.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard lock(slot.mutex);
  if (!slot.decided.load(std::memory_order_relaxed)) {
    if (byte_plans_supported()) slot.plans = build_plans(p);
    slot.ready.store(slot.plans.get(), std::memory_order_release);
    slot.decided.store(true, std::memory_order_release);
  }
  return slot.plans.get();
}

}  // namespace statewire::detail
