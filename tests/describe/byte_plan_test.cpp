// Plain bodies compiled to byte permutations (src/describe/byte_plan.hpp):
// the plan against a byte-by-byte application of its map, and described
// structs through the public API against the independent tree path
// (to_tree + encode_body, decode_body + from_tree), including the inputs the
// one-step load must hand back to the checking walk.
#include "describe/byte_plan.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>
#include <random>

#include <sys/mman.h>
#include <unistd.h>

#include "statewire/describe.hpp"
#include "statewire/vmstate_body.hpp"

namespace statewire {
namespace {

using detail::BytePlan;

// dst[i] = src[map[i]] for every mapped byte; the others keep their value.
Bytes apply_map(const std::vector<std::int32_t>& map, const Bytes& src, Bytes dst) {
  for (std::size_t i = 0; i < map.size(); ++i)
    if (map[i] >= 0) dst[i] = src[static_cast<std::size_t>(map[i])];
  return dst;
}

Bytes random_bytes(std::mt19937& rng, std::size_t n) {
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

// Maps of every shape the builder must handle: identity runs (one repeated
// step), element swaps, scattered sources far apart (several steps per
// 64-byte chunk), holes, tails shorter than a chunk.
std::vector<std::int32_t> random_map(std::mt19937& rng, std::size_t n, std::size_t src_size,
                                     int shape) {
  std::vector<std::int32_t> map(n, -1);
  std::uniform_int_distribution<std::size_t> any(0, src_size - 1);
  for (std::size_t i = 0; i < n; ++i) {
    switch (shape) {
      case 0: map[i] = static_cast<std::int32_t>(i); break;                    // copy
      case 1: map[i] = static_cast<std::int32_t>(i / 8 * 8 + 7 - i % 8); break;  // be64 swap
      case 2: map[i] = static_cast<std::int32_t>(any(rng)); break;            // anything
      default:
        if (rng() % 3) map[i] = static_cast<std::int32_t>((i * 37 + 11) % src_size);  // holes
    }
  }
  return map;
}

TEST(BytePlan, MatchesTheMapByteByByte) {
  std::mt19937 rng(20261123);
  for (int shape = 0; shape < 4; ++shape) {
    for (std::size_t n : {1u, 17u, 63u, 64u, 65u, 200u, 850u, 4096u}) {
      const std::size_t src_size = shape == 2 ? n + 300 : n + 8;
      const auto map = random_map(rng, n, src_size, shape);
      const Bytes src = random_bytes(rng, src_size);
      const Bytes before = random_bytes(rng, n);
      const Bytes want = apply_map(map, src, before);
      // Without and with the source size (windows then kept inside it).
      for (std::size_t known : {std::size_t{0}, src_size}) {
        const BytePlan plan = BytePlan::build(map, false, known);
        Bytes got = before;
        plan.run_reference(src.data(), got.data());
        EXPECT_EQ(got, want) << "reference, shape " << shape << ", n " << n << ", " << known;
        if (detail::byte_plans_supported()) {
          got = before;
          plan.run(src.data(), got.data());
          EXPECT_EQ(got, want) << "vector, shape " << shape << ", n " << n << ", " << known;
        }
      }
    }
  }
}

TEST(BytePlan, OverrunningPlansMatchTheMapInsideTheirLength) {
  // Save plans: every byte mapped, up to kOverrun bytes of slack after the end.
  std::mt19937 rng(7);
  for (int shape = 0; shape < 3; ++shape) {
    for (std::size_t n : {1u, 17u, 63u, 64u, 65u, 200u, 850u, 4096u}) {
      const std::size_t src_size = shape == 2 ? n + 300 : n + 8;
      const auto map = random_map(rng, n, src_size, shape);
      const Bytes src = random_bytes(rng, src_size);
      const Bytes want = apply_map(map, src, Bytes(n));
      const BytePlan plan = BytePlan::build(map, true, src_size);
      Bytes got(n + BytePlan::kOverrun);
      plan.run_reference(src.data(), got.data());
      EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin())) << "reference, shape " << shape << ", n " << n;
      if (detail::byte_plans_supported()) {
        Bytes fast(n + BytePlan::kOverrun);
        plan.run(src.data(), fast.data());
        EXPECT_TRUE(std::equal(want.begin(), want.end(), fast.begin())) << "vector, shape " << shape << ", n " << n;
      }
    }
  }
}

TEST(BytePlan, PaddingShortensStepsInsteadOfAddingWindows) {
  // 4-byte values each followed by 4 bytes of padding: a 64-byte window of
  // source holds 32 destination bytes, so an overrunning plan needs one
  // step per 32 bytes and never a second source register.
  std::vector<std::int32_t> map;
  for (std::int32_t v = 0; v < 64; ++v)
    for (std::int32_t b = 0; b < 4; ++b) map.push_back(v * 8 + 3 - b);
  EXPECT_EQ(BytePlan::build(map, true).steps(), map.size() / 32);
}

TEST(BytePlan, RunsOfIdenticalStepsCollapse) {
  // 4096 big-endian u64s: one step repeated, not 512 steps.
  const auto map = random_map(*std::make_unique<std::mt19937>(1), 4096 * 8, 4096 * 8, 1);
  EXPECT_EQ(BytePlan::build(map).steps(), 1u);
}

TEST(BytePlan, ReadsOnlyMappedSourceBytes) {
  if (!detail::byte_plans_supported()) GTEST_SKIP() << "no AVX-512 VBMI on this CPU";
  // Sources at the very end of a page followed by an inaccessible one: the
  // masked loads must not touch the guard page.
  const long page = sysconf(_SC_PAGESIZE);
  auto* mem = static_cast<unsigned char*>(aligned_alloc(static_cast<std::size_t>(page),
                                                        2 * static_cast<std::size_t>(page)));
  ASSERT_NE(mem, nullptr);
  ASSERT_EQ(mprotect(mem + page, static_cast<std::size_t>(page), PROT_NONE), 0);
  std::vector<std::int32_t> map(10);
  for (std::size_t i = 0; i < map.size(); ++i) map[i] = static_cast<std::int32_t>(page - 1 - i);
  mem[page - 1] = 0xaa;
  mem[page - 10] = 0xbb;
  std::array<unsigned char, 10> out{};
  BytePlan::build(map).run(mem, out.data());
  EXPECT_EQ(out[0], 0xaa);
  EXPECT_EQ(out[9], 0xbb);
  ASSERT_EQ(mprotect(mem + page, static_cast<std::size_t>(page), PROT_READ | PROT_WRITE), 0);
  free(mem);
}

// ---- described structs --------------------------------------------------

// Mixed widths, padding between members, members described out of their
// declaration order, members left undescribed (load must keep them), a
// double and bools.
struct Mixed {
  std::uint8_t a = 0;
  std::uint64_t b = 0;
  std::uint16_t c = 0;
  bool on = false;
  std::int32_t d = 0;
  double e = 0;
  std::array<std::uint32_t, 40> regs{};
  std::uint32_t untouched = 0;  // not described
  std::array<std::uint8_t, 300> gap{};  // not described: pushes `far` past a 128-byte window
  std::int16_t far = 0;
  std::array<bool, 3> bits{};
  friend bool operator==(const Mixed&, const Mixed&) = default;
};

const NativeDescription<Mixed>& mixed() {
  static const auto d = describe<Mixed>("mixed", 2, 1)
                            .field("far", &Mixed::far)
                            .field("b", &Mixed::b)
                            .field("a", &Mixed::a)
                            .field("regs", &Mixed::regs)
                            .field("on", &Mixed::on)
                            .field("c", &Mixed::c)
                            .field("e", &Mixed::e)
                            .field("d", &Mixed::d)
                            .field("bits", &Mixed::bits);
  return d;
}

Mixed sample_mixed() {
  Mixed m;
  m.a = 0x11;
  m.b = 0x0102030405060708ull;
  m.c = 0xa1b2;
  m.on = true;
  m.d = -123456;
  m.e = -0.0;
  for (std::size_t i = 0; i < m.regs.size(); ++i) m.regs[i] = static_cast<std::uint32_t>(i * 0x01010101u);
  m.untouched = 0xdeadbeef;
  m.far = -2;
  m.bits = {true, false, true};
  return m;
}

// The bytes the schema-less tree path gives for the same object.
Bytes via_tree(const Mixed& m) {
  auto tree = mixed().to_tree(m);
  EXPECT_TRUE(tree.has_value());
  ByteWriter w;
  EXPECT_TRUE(encode_body(*tree, w).has_value());
  return Bytes(w.bytes().begin(), w.bytes().end());
}

TEST(PlainBody, UsesAPlanWhereTheCpuCan) {
  const bool planned = detail::plain_plans(*mixed().program()) != nullptr;
  EXPECT_EQ(planned, detail::byte_plans_supported());
}

TEST(PlainBody, SaveEqualsTheTreePath) {
  const Mixed m = sample_mixed();
  auto bytes = mixed().save(m);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().to_string();
  EXPECT_EQ(*bytes, via_tree(m));
  // Appending after other bytes, at every alignment.
  for (std::size_t pad = 0; pad < 64; pad += 7) {
    ByteWriter w;
    w.put_zeros(pad);
    ASSERT_TRUE(mixed().save(m, w).has_value());
    EXPECT_EQ(Bytes(w.bytes().begin() + static_cast<long>(pad), w.bytes().end()), *bytes);
  }
}

TEST(PlainBody, LoadKeepsUndescribedMembers) {
  const Mixed m = sample_mixed();
  auto bytes = mixed().save(m);
  ASSERT_TRUE(bytes.has_value());
  Mixed out;
  out.untouched = 7;
  out.gap[5] = 9;
  ASSERT_TRUE(mixed().load(out, *bytes, 2).has_value());
  Mixed want = m;
  want.untouched = 7;
  want.gap[5] = 9;
  EXPECT_EQ(out, want);

  // The same through the tree path.
  Cursor cur(*bytes);
  auto tree = decode_body(mixed().schema(), cur, 2);
  ASSERT_TRUE(tree.has_value());
  Mixed via;
  via.untouched = 7;
  via.gap[5] = 9;
  ASSERT_TRUE(mixed().from_tree(via, *tree, 2).has_value());
  EXPECT_EQ(via, out);
}

TEST(PlainBody, NonCanonicalBoolByteLoadsAsTrue) {
  auto bytes = mixed().save(sample_mixed());
  ASSERT_TRUE(bytes.has_value());
  // Wire order: far(2) b(8) a(1) regs(160) on(1) ...
  const std::size_t on_at = 2 + 8 + 1 + 160;
  ASSERT_EQ((*bytes)[on_at], 1);
  (*bytes)[on_at] = 2;  // QEMU reads any non-zero byte as true
  Mixed out;
  ASSERT_TRUE(mixed().load(out, *bytes, 2));
  Mixed want = sample_mixed();
  want.untouched = 0;  // not described: keeps the destination's
  EXPECT_EQ(out, want);
}

TEST(PlainBody, ShortOrLongInputIsNamedAndNothingChanges) {
  auto bytes = mixed().save(sample_mixed());
  ASSERT_TRUE(bytes.has_value());
  Mixed out;
  const Mixed before = out;
  Bytes cut(bytes->begin(), bytes->end() - 3);
  auto r = mixed().load(out, cut, 2);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().to_string().find("bits"), std::string::npos) << r.error().to_string();
  EXPECT_EQ(out, before);

  Bytes longer = *bytes;
  longer.push_back(0);
  r = mixed().load(out, longer, 2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::mismatch);
  EXPECT_EQ(out, before);
}

TEST(PlainBody, CursorLoadStopsAtTheBodyAndRejectsAnUnknownSubsection) {
  const Mixed m = sample_mixed();
  auto bytes = mixed().save(m);
  ASSERT_TRUE(bytes.has_value());
  Bytes two = *bytes;
  two.push_back(0x42);  // the next record's first byte
  Cursor cur(two);
  Mixed out;
  ASSERT_TRUE(mixed().load(out, cur, 2).has_value());
  EXPECT_EQ(cur.remaining(), 1u);
  EXPECT_EQ(out.regs, m.regs);

  // A subsection of ours that the description does not know: an error, as
  // on the walk path.
  Bytes sub = *bytes;
  const std::string name = "mixed/extra";
  sub.push_back(0x05);
  sub.push_back(static_cast<std::uint8_t>(name.size()));
  sub.insert(sub.end(), name.begin(), name.end());
  sub.insert(sub.end(), {0, 0, 0, 1});
  Cursor cur2(sub);
  Mixed out2;
  auto r = mixed().load(out2, cur2, 2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::unknown_subsection);
}

TEST(PlainBody, OlderVersionsStillTakeTheWalk) {
  // Version 1 has the same fields (none is gated): the walk writes them.
  const Mixed m = sample_mixed();
  auto v2 = mixed().save(m);
  auto v1 = mixed().save(m, SaveOptions{1});
  ASSERT_TRUE(v1.has_value() && v2.has_value());
  EXPECT_EQ(*v1, *v2);
  Mixed out;
  ASSERT_TRUE(mixed().load(out, *v1, 1).has_value());
  EXPECT_EQ(out.regs, m.regs);
}

// Nested fixed-layout structs (segment registers, an array of them) fold
// into the parent's plan.
struct Seg {
  std::uint32_t sel = 0;
  std::uint64_t base = 0;
  std::uint32_t limit = 0;
  std::uint16_t flags = 0;
  bool present = false;
  friend bool operator==(const Seg&, const Seg&) = default;
};

struct SegCpu {
  std::array<std::uint64_t, 4> regs{};
  std::array<Seg, 6> segs{};
  Seg ldt;
  std::uint8_t cpl = 0;
  friend bool operator==(const SegCpu&, const SegCpu&) = default;
};

const NativeDescription<Seg>& seg_desc() {
  static const auto d = describe<Seg>("seg", 1, 1)
                            .field("sel", &Seg::sel)
                            .field("base", &Seg::base)
                            .field("limit", &Seg::limit)
                            .field("flags", &Seg::flags)
                            .field("present", &Seg::present);
  return d;
}

const NativeDescription<SegCpu>& seg_cpu() {
  static const auto d = describe<SegCpu>("segcpu", 1, 1)
                            .field("regs", &SegCpu::regs)
                            .structure("segs", &SegCpu::segs, seg_desc())
                            .structure("ldt", &SegCpu::ldt, seg_desc())
                            .field("cpl", &SegCpu::cpl);
  return d;
}

SegCpu sample_seg_cpu() {
  SegCpu c;
  c.regs = {1, 2, 0xffffffffffffffffull, 0x8000000000000000ull};
  for (std::size_t i = 0; i < c.segs.size(); ++i)
    c.segs[i] = {static_cast<std::uint32_t>(i * 8), 0x1000u * i, 0xfffff, 0xc093, i % 2 == 0};
  c.ldt = {0x28, 0xdead0000, 0xffff, 0x82, true};
  c.cpl = 3;
  return c;
}

TEST(PlainBody, NestedStructsFoldIntoThePlan) {
  EXPECT_EQ(detail::plain_plans(*seg_cpu().program()) != nullptr, detail::byte_plans_supported());
  const SegCpu c = sample_seg_cpu();
  auto bytes = seg_cpu().save(c);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().to_string();
  auto tree = seg_cpu().to_tree(c);
  ASSERT_TRUE(tree.has_value());
  ByteWriter w;
  ASSERT_TRUE(encode_body(*tree, w).has_value());
  EXPECT_EQ(*bytes, Bytes(w.bytes().begin(), w.bytes().end()));
  SegCpu out;
  ASSERT_TRUE(seg_cpu().load(out, *bytes, 1).has_value());
  EXPECT_EQ(out, c);

  // A bool byte of 7 inside segs[2]: true to QEMU; the plan leaves it to the
  // walk, which stores `true`, and the object saves it back as 0x01.
  const std::size_t seg_wire = 4 + 8 + 4 + 2 + 1;
  const std::size_t at = 32 + 2 * seg_wire + 18;
  ASSERT_LE((*bytes)[at], 1);
  const Bytes before = *bytes;
  (*bytes)[at] = 7;
  SegCpu odd;
  ASSERT_TRUE(seg_cpu().load(odd, *bytes, 1).has_value());
  EXPECT_TRUE(odd.segs[2].present);
  Bytes want = before;
  want[at] = 1;
  EXPECT_EQ(*seg_cpu().save(odd), want);
}

TEST(PlainBody, ANestedHookKeepsTheWalk) {
  int calls = 0;
  auto seg = describe<Seg>("seg", 1, 1).field("sel", &Seg::sel).post_load([&](Seg&, std::uint32_t) -> Result<void> {
    ++calls;
    return {};
  });
  auto cpu = describe<SegCpu>("segcpu", 1, 1).structure("segs", &SegCpu::segs, seg);
  EXPECT_EQ(detail::plain_plans(*cpu.program()), nullptr);
  SegCpu c = sample_seg_cpu(), out;
  auto bytes = cpu.save(c);
  ASSERT_TRUE(bytes.has_value());
  ASSERT_TRUE(cpu.load(out, *bytes, 1).has_value());
  EXPECT_EQ(calls, 6);
  EXPECT_EQ(out.segs[5].sel, c.segs[5].sel);
}

struct Grows {
  std::uint32_t x = 0;
  std::uint16_t y = 0;
};

TEST(PlainBody, DescribingMoreDropsTheOldPlan) {
  auto d = describe<Grows>("grows", 1, 1).field("x", &Grows::x);
  Grows g{0x01020304, 0x0506};
  auto first = d.save(g);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, (Bytes{1, 2, 3, 4}));
  d.field("y", &Grows::y);
  auto second = d.save(g);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(*second, (Bytes{1, 2, 3, 4, 5, 6}));
  // A hook makes the body run code: no plan, the hook runs.
  int calls = 0;
  d.pre_save([&](const Grows&) -> Result<void> {
    ++calls;
    return {};
  });
  ASSERT_TRUE(d.save(g).has_value());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace statewire
