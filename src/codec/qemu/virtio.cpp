// The "virtio" VMStateInfo: QEMU's hand-written virtio_save() layout (see
// include/statewire/qemu_virtio.hpp), decoded into a tree whose members
// re-encode to the same bytes. The VMState parts inside it (PCIDevice, the
// device's own description, the "virtio" subsections) are Descriptions
// decoded by decode_body(); only the hand-written parts are read here.
#include "statewire/qemu_virtio.hpp"

#include <fmt/format.h>

#include <array>
#include <memory>
#include <optional>

#include "statewire/schema_builder.hpp"

namespace statewire::qemu {

namespace {

constexpr std::uint32_t kQueueMax = 1024;     // VIRTIO_QUEUE_MAX
constexpr std::uint32_t kMsixEntrySize = 16;  // PCI_MSIX_ENTRY_SIZE
constexpr std::uint32_t kMacTableEntries = 64;
constexpr std::uint32_t kNetCtrlGuestOffloads = 1u << 2;  // VIRTIO_NET_F_CTRL_GUEST_OFFLOADS
constexpr std::uint32_t kNetMq = 1u << 22;                // VIRTIO_NET_F_MQ

// Private infos of the device descriptions below, never in a stream's trailer.
constexpr std::string_view kNetTxWaiting = "statewire:virtio-net tx_waiting";

enum class Transport { pci, mmio };

Error refusal(const Cursor& cur, std::string why) {
  return cur.error_here(Errc::unsupported, std::move(why));
}

Unexpected refuse(const Cursor& cur, std::string why) { return Unexpected(refusal(cur, std::move(why))); }

template <class T>
Result<T> named(Result<T> r, std::string_view field) {
  if (!r) r.error().in_field(field);
  return r;
}

Description built(SchemaBuilder& b) {
  auto d = b.build();
  // The descriptions here are fixed; a failure is a bug caught by every test.
  if (!d) std::abort();
  return std::move(*d);
}

std::shared_ptr<const Description> share(Description d) {
  return std::make_shared<const Description>(std::move(d));
}

// --- the transports ---------------------------------------------------------------

bool hex_digits(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return !s.empty();
}

// QEMU names a device's section "<qdev path>/<vmsd>": a PCI device's path
// starts "dddd:bb:ss.f", a virtio-mmio one "virtio-mmio@<address>".
std::optional<Transport> transport_of(std::string_view idstr) {
  const std::size_t slash = idstr.rfind('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view path = idstr.substr(0, slash);
  if (path.starts_with("virtio-mmio@")) return Transport::mmio;
  if (path.size() >= 12 && hex_digits(path.substr(0, 4)) && path[4] == ':' &&
      hex_digits(path.substr(5, 2)) && path[7] == ':' && hex_digits(path.substr(8, 2)) &&
      path[10] == '.' && path[11] >= '0' && path[11] <= '7')
    return Transport::pci;
  return std::nullopt;
}

// What the PCI config space's capability list says: a PCI Express capability
// (then QEMU migrates 4096 bytes of config space, else 256), and MSI-X with
// its table size (QEMU's msix_save() writes that many vectors). virtio-pci
// drops the express flag exactly when it adds no express capability.
struct PciCaps {
  bool express = false;
  std::uint32_t msix_vectors = 0;  // 0: no MSI-X
};

PciCaps pci_caps(ByteSpan cfg) {
  PciCaps caps;
  constexpr std::uint8_t kStatusCapList = 0x10, kCapExpress = 0x10, kCapMsix = 0x11;
  if (cfg.size() < 256 || !(cfg[0x06] & kStatusCapList)) return caps;
  std::uint8_t at = cfg[0x34] & 0xfc;
  // A list is at most 48 entries (0x40..0xff, 4-byte aligned): bounds a loop.
  for (int hops = 0; at >= 0x40 && hops < 48; ++hops) {
    const std::uint8_t id = cfg[at];
    if (id == kCapExpress) caps.express = true;
    if (id == kCapMsix && at + 3 < 256)
      caps.msix_vectors = (std::uint32_t(cfg[at + 2]) | std::uint32_t(cfg[at + 3]) << 8) % 0x800 + 1;
    at = cfg[at + 1] & 0xfc;
  }
  return caps;
}

const Description& pci_device(bool express) {
  auto make = [](std::uint64_t config) {
    SchemaBuilder b("PCIDevice", 2, 1);
    b.scalar("version_id", FieldKind::i32).buffer("config", config).array("irq_state", FieldKind::i32, 4);
    return built(b);
  };
  static const Description conventional = make(256), pcie = make(4096);
  return express ? pcie : conventional;
}

// The transport's extra state (virtio/extra_state): a body with no fields and
// one subsection of per-queue state for all VIRTIO_QUEUE_MAX queues.
Description extra_state(Transport t) {
  if (t == Transport::pci) {
    SchemaBuilder q("virtio_pci/modern_queue_state", 1, 1);
    q.scalar("num", FieldKind::u16).unused(1).scalar("enabled", FieldKind::boolean)
        .array("desc", FieldKind::u32, 2).array("avail", FieldKind::u32, 2)
        .array("used", FieldKind::u32, 2);
    FieldOptions all;
    all.count = kQueueMax;
    SchemaBuilder sub("virtio_pci/modern_state", 1, 1);
    sub.scalar("dfselect", FieldKind::u32).scalar("gfselect", FieldKind::u32)
        .array("guest_features", FieldKind::u32, 2).structure("vqs", built(q), all);
    SchemaBuilder b("virtio_pci", 1, 1);
    b.subsection(built(sub), "virtio_pci_modern_state_needed");
    return built(b);
  }
  SchemaBuilder q("virtio_mmio/queue_state", 1, 1);
  q.scalar("num", FieldKind::u16).scalar("enabled", FieldKind::boolean)
      .array("desc", FieldKind::u32, 2).array("avail", FieldKind::u32, 2)
      .array("used", FieldKind::u32, 2);
  FieldOptions all;
  all.count = kQueueMax;
  SchemaBuilder sub("virtio_mmio/state", 1, 1);
  sub.array("guest_features", FieldKind::u32, 2).structure("vqs", built(q), all);
  SchemaBuilder b("virtio_mmio", 1, 1);
  b.subsection(built(sub), "");
  return built(b);
}

// QEMU's vmstate_virtio: no fields, only subsections, all self-describing
// on the wire.
Description virtio_subsections(Transport t) {
  FieldOptions all;
  all.count = kQueueMax;
  auto one = [](std::string name, std::string field, FieldKind k) {
    SchemaBuilder b(std::move(name), 1, 1);
    b.scalar(std::move(field), k);
    return built(b);
  };
  SchemaBuilder vq("virtqueue_state", 1, 1);
  vq.scalar("vring.avail", FieldKind::u64).scalar("vring.used", FieldKind::u64);
  SchemaBuilder virtqueues("virtio/virtqueues", 1, 1);
  virtqueues.structure("vq", built(vq), all);
  SchemaBuilder packed_vq("packed_virtqueue_state", 1, 1);
  packed_vq.scalar("last_avail_idx", FieldKind::u16)
      .scalar("last_avail_wrap_counter", FieldKind::boolean)
      .scalar("used_idx", FieldKind::u16)
      .scalar("used_wrap_counter", FieldKind::boolean)
      .scalar("inuse", FieldKind::u32);
  SchemaBuilder packed("virtio/packed_virtqueues", 1, 1);
  packed.structure("vq", built(packed_vq), all);
  SchemaBuilder rs("ringsize_state", 1, 1);
  rs.scalar("vring.num_default", FieldKind::u32);
  SchemaBuilder ringsize("virtio/ringsize", 1, 1);
  ringsize.structure("vq", built(rs), all);
  SchemaBuilder extra("virtio/extra_state", 1, 1);
  extra.structure("extra_state", extra_state(t));

  SchemaBuilder b("virtio", 1, 1);
  b.subsection(one("virtio/device_endian", "device_endian", FieldKind::u8), "virtio_device_endian_needed")
      .subsection(one("virtio/64bit_features", "guest_features", FieldKind::u64), "virtio_64bit_features_needed")
      .subsection(built(virtqueues), "virtio_virtqueue_needed")
      .subsection(built(ringsize), "virtio_ringsize_needed")
      .subsection(one("virtio/broken", "broken", FieldKind::boolean), "virtio_broken_needed")
      .subsection(built(extra), "virtio_extra_state_needed")
      .subsection(one("virtio/started", "started", FieldKind::boolean), "virtio_started_needed")
      .subsection(built(packed), "virtio_packed_virtqueue_needed")
      .subsection(one("virtio/disabled", "disabled", FieldKind::boolean), "virtio_disabled_needed");
  return built(b);
}

const Description& virtio_description(Transport t) {
  static const Description pci = virtio_subsections(Transport::pci);
  static const Description mmio = virtio_subsections(Transport::mmio);
  return t == Transport::pci ? pci : mmio;
}

// --- the devices' own state ------------------------------------------------------

// virtio-iommu (hw/virtio/virtio-iommu.c): a GTree of domains by direct key,
// each with a GTree of mappings keyed by an interval struct and a QLIST of
// endpoints.
Description iommu_device() {
  SchemaBuilder interval("interval", 1, 1);
  interval.scalar("low", FieldKind::u64).scalar("high", FieldKind::u64);
  SchemaBuilder mapping("mapping", 1, 1);
  mapping.scalar("phys_addr", FieldKind::u64).scalar("flags", FieldKind::u32);
  SchemaBuilder endpoint("endpoint", 1, 1);
  endpoint.scalar("id", FieldKind::u32);

  Field mappings;
  mappings.name = "mappings";
  mappings.kind = FieldKind::structure;
  mappings.info = "gtree";
  mappings.gtree = true;
  mappings.version_id = 1;
  mappings.key = share(built(interval));
  mappings.nested = share(built(mapping));
  FieldOptions v1, v2;
  v1.since = 1;
  v2.since = 2;
  SchemaBuilder domain("domain", 2, 2);
  domain.scalar("id", FieldKind::u32).field(mappings).list("endpoint_list", built(endpoint), v1)
      .scalar("bypass", FieldKind::boolean, v2);

  Field domains;
  domains.name = "domains";
  domains.kind = FieldKind::structure;
  domains.info = "gtree";
  domains.gtree = true;
  domains.version_id = 2;
  domains.nested = share(built(domain));  // key: direct (the domain id, be64)
  SchemaBuilder b("virtio-iommu-device", 2, 2);
  b.field(domains).scalar("config.bypass", FieldKind::u8, v2);
  return built(b);
}

// virtio-net (hw/net/virtio-net.c): predicates on the device's configuration
// and a WITH_TMP array whose count is curr_queue_pairs - 1.
Description net_device() {
  SchemaBuilder txw("virtio-net-queue-tx_waiting", 0, 0);
  txw.scalar("tx_waiting", FieldKind::u32);
  SchemaBuilder vnet("virtio-net-vnet", 0, 0);
  vnet.scalar("has_vnet_hdr", FieldKind::u32);
  SchemaBuilder ufo("virtio-net-ufo", 0, 0);
  ufo.scalar("has_ufo", FieldKind::u8);
  SchemaBuilder rss("virtio-net-device/rss", 1, 1);
  rss.scalar("rss_data.enabled", FieldKind::boolean)
      .scalar("rss_data.redirect", FieldKind::boolean)
      .scalar("rss_data.populate_hash", FieldKind::boolean)
      .scalar("rss_data.hash_types", FieldKind::u32)
      .scalar("rss_data.indirections_len", FieldKind::u16)
      .scalar("rss_data.default_queue", FieldKind::u16)
      .buffer("rss_data.key", 40)
      .varray("rss_data.indirections_table", FieldKind::u16, "rss_data.indirections_len", 0);

  auto test = [](const char* name) {
    FieldOptions o;
    o.test = name;
    return o;
  };
  Field macs;  // VMSTATE_VBUFFER_MULTIPLY: in_use x 6 bytes, when it fits
  macs.name = "mac_table.macs";
  macs.kind = FieldKind::buffer;
  macs.size = 6;
  macs.count = Count::from("mac_table.in_use", kMacTableEntries);
  macs.test = "mac_table_fits";
  Field dropped = macs;  // else the same bytes, skipped
  dropped.name = "unused";
  dropped.kind = FieldKind::unused;
  dropped.count = Count::from("mac_table.in_use", 0);
  dropped.test = "mac_table_doesnt_fit";
  Field tx_waiting;  // WITH_TMP vmstate_virtio_net_tx_waiting
  tx_waiting.name = "tmp";
  tx_waiting.kind = FieldKind::custom;
  tx_waiting.info = std::string(kNetTxWaiting);
  tx_waiting.nested = share(built(txw));

  SchemaBuilder b("virtio-net-device", 11, 11);
  b.buffer("mac", 6)
      .structure("vqs", built(txw))
      .scalar("mergeable_rx_bufs", FieldKind::u32)
      .scalar("status", FieldKind::u16)
      .scalar("promisc", FieldKind::u8)
      .scalar("allmulti", FieldKind::u8)
      .scalar("mac_table.in_use", FieldKind::u32)
      .field(macs)
      .field(dropped)
      .buffer("vlans", 4096 / 8)
      .structure("tmp", built(vnet))
      .scalar("mac_table.multi_overflow", FieldKind::u8)
      .scalar("mac_table.uni_overflow", FieldKind::u8)
      .scalar("alluni", FieldKind::u8)
      .scalar("nomulti", FieldKind::u8)
      .scalar("nouni", FieldKind::u8)
      .scalar("nobcast", FieldKind::u8)
      .structure("tmp", built(ufo))
      .scalar("max_queue_pairs", FieldKind::u16, test("max_queue_pairs_gt_1"))
      .scalar("curr_queue_pairs", FieldKind::u16, test("max_queue_pairs_gt_1"))
      .field(tx_waiting)
      .scalar("curr_guest_offloads", FieldKind::u64, test("has_ctrl_guest_offloads"))
      .subsection(built(rss), "virtio_net_rss_needed");
  return built(b);
}

// The tx_waiting flags of queue pairs 1.. (WITH_TMP): curr_queue_pairs - 1
// of them, curr_queue_pairs as just loaded (else the device's own, 1).
Result<Value> net_tx_waiting(const Field& f, Cursor& cur, const CustomContext& cx) {
  std::uint64_t pairs = 1;
  if (const Value* v = cx.partial.find("curr_queue_pairs")) (void)v->as_u64(pairs);
  const std::uint64_t n = pairs ? pairs - 1 : 0;
  if (n > cur.remaining() / 4)
    return fail(cur.error_here(Errc::truncated,
                               fmt::format("curr_queue_pairs {} wants {} tx_waiting flags", pairs, n)));
  SW_CHECK(cx.budget.charge(n * (value_cost() + member_cost(10)), cur.offset(), "tx_waiting flags"));
  BodyDecodeOptions o;
  o.limits = cx.limits;
  o.budget = &cx.budget;
  Array vqs;
  for (std::uint64_t i = 0; i < n; ++i) {
    auto s = decode_body(*f.nested, cur, f.nested->version_id, o);
    if (!s) return fail(std::move(s.error().in_field(fmt::format("vqs_1[{}]", i))));
    vqs.items.emplace_back(std::move(*s));
  }
  Struct tmp;
  tmp.members.push_back({"vqs_1", Value(std::move(vqs))});
  return Value(std::move(tmp));
}

// What one device adds: its own save (before its description) and its
// description, with the predicates the stream decides.
struct Device {
  std::string_view name;  // the section's vmsd name
  std::shared_ptr<const Description> vmsd;
  bool request_list = false;  // virtio-blk's in-flight requests (vdc->save)
};

const std::array<Device, 4>& devices() {
  static const std::array<Device, 4> all{{
      {"virtio-iommu", share(iommu_device()), false},
      {"virtio-net", share(net_device()), false},
      {"virtio-blk", nullptr, true},
      {"virtio-rng", nullptr, false},  // no state of its own
  }};
  return all;
}

constexpr std::array<std::string_view, 4> kDeviceNames = {"virtio-iommu", "virtio-net",
                                                         "virtio-blk", "virtio-rng"};

const CustomDecoders& private_decoders() {
  static const CustomDecoders d = {{std::string(kNetTxWaiting), net_tx_waiting}};
  return d;
}

// --- the whole field ---------------------------------------------------------------

class VirtioReader {
 public:
  VirtioReader(const Field& f, Cursor& cur, const CustomContext& cx) : f_(f), cur_(cur), cx_(cx) {
    opt_.limits = cx.limits;
    opt_.budget = &cx.budget;
    opt_.custom = &private_decoders();
    opt_.section = cx.section;
  }

  Result<Value> run() {
    auto t = transport_of(cx_.section);
    if (!t)
      return refuse(cur_, fmt::format("virtio: the transport of section '{}' is not known (PCI "
                                      "and virtio-mmio are decoded)",
                                      cx_.section));
    const Device* dev = nullptr;
    for (const Device& d : devices())
      if (d.name == cx_.description.name) dev = &d;
    if (!dev)
      return refuse(cur_, fmt::format("virtio: the state of device '{}' is not described "
                                      "(described: virtio-iommu, virtio-net, virtio-blk, virtio-rng)",
                                      cx_.description.name));
    transport_ = *t;
    Struct out;
    if (*t == Transport::pci) {
      SW_TRY(pci, named(pci_config(), "pci"));
      out.members.push_back({"pci", Value(std::move(pci))});
    } else {
      Struct mmio;
      for (const char* name : {"host_features_sel", "guest_features_sel", "guest_page_shift"}) {
        SW_TRY(x, named(cur_.read_be32(), fmt::format("mmio.{}", name)));
        mmio.members.push_back({name, Value(x)});
      }
      out.members.push_back({"mmio", Value(std::move(mmio))});
    }
    SW_CHECK(common(out, *t));
    if (dev->request_list) SW_CHECK(requests(out));
    if (dev->vmsd) SW_CHECK(device_state(out, *dev));
    auto subs = decode_body(virtio_description(*t), cur_, 1, opt_);
    if (!subs) return fail(std::move(subs.error()));
    out.subsections = std::move(subs->subsections);
    return Value(std::move(out));
  }

 private:
  // pci_device_save(), msix_save() and the config vector.
  Result<Struct> pci_config() {
    const ByteSpan rest = cur_.rest();
    if (rest.size() < 4 + 256)
      return fail(cur_.error_here(Errc::truncated, "PCI config space: need 260 bytes"));
    caps_ = pci_caps(rest.subspan(4, 256));
    Struct pci;
    auto dev = decode_body(pci_device(caps_.express), cur_, 2, opt_);
    if (!dev) return fail(std::move(dev.error().in_field("PCIDevice")));
    pci.members.push_back({"PCIDevice", Value(std::move(*dev))});
    if (caps_.msix_vectors) {
      const std::uint32_t n = caps_.msix_vectors;
      SW_TRY(table, named(cur_.read_bytes(n * kMsixEntrySize), "msix_table"));
      SW_TRY(pba, named(cur_.read_bytes((n + 7) / 8), "msix_pba"));
      SW_CHECK(cx_.budget.charge(table.size() + pba.size(), cur_.offset(), "MSI-X state"));
      pci.members.push_back({"msix_table", Value(Blob{{table.begin(), table.end()}})});
      pci.members.push_back({"msix_pba", Value(Blob{{pba.begin(), pba.end()}})});
      SW_TRY(vector, named(cur_.read_be16(), "config_vector"));
      pci.members.push_back({"config_vector", Value(vector)});
    }
    return pci;
  }

  Result<void> common(Struct& out, Transport t) {
    SW_TRY(status, named(cur_.read_u8(), "status"));
    SW_TRY(isr, named(cur_.read_u8(), "isr"));
    SW_TRY(queue_sel, named(cur_.read_be16(), "queue_sel"));
    SW_TRY(features, named(cur_.read_be32(), "guest_features"));
    SW_TRY(config_len, named(cur_.read_be32(), "config_len"));
    if (config_len > cx_.limits.max_blob)
      return fail(std::move(cur_.error_here(Errc::limit_exceeded,
                                            fmt::format("config of {} bytes", config_len))
                                .in_field("config")));
    SW_TRY(config, named(cur_.read_bytes(config_len), "config"));
    SW_CHECK(cx_.budget.charge(config.size() + 8 * member_cost(16), cur_.offset(), "virtio config"));
    features_ = features;
    out.members.push_back({"status", Value(status)});
    out.members.push_back({"isr", Value(isr)});
    out.members.push_back({"queue_sel", Value(queue_sel)});
    out.members.push_back({"guest_features", Value(features)});
    out.members.push_back({"config_len", Value(config_len)});
    out.members.push_back({"config", Value(Blob{{config.begin(), config.end()}})});
    SW_TRY(num, named(cur_.read_be32(), "num_queues"));
    if (num > kQueueMax)
      return fail(std::move(cur_.error_here(Errc::invalid_value,
                                            fmt::format("{} queues, QEMU allows {}", num, kQueueMax))
                                .in_field("num_queues")));
    num_queues_ = num;
    out.members.push_back({"num_queues", Value(num)});
    SW_CHECK(cx_.budget.charge(num * (value_cost() + 5 * member_cost(8)), cur_.offset(), "queues"));
    Array queues;
    for (std::uint32_t i = 0; i < num; ++i) {
      auto q = queue(t);
      if (!q) return fail(std::move(q.error().in_field(fmt::format("queues[{}]", i))));
      queues.items.emplace_back(std::move(*q));
    }
    out.members.push_back({"queues", Value(std::move(queues))});
    return {};
  }

  Result<Struct> queue(Transport t) {
    Struct q;
    SW_TRY(num, named(cur_.read_be32(), "num"));
    q.members.push_back({"num", Value(num)});
    if (t == Transport::mmio) {  // has_variable_vring_alignment
      SW_TRY(align, named(cur_.read_be32(), "align"));
      q.members.push_back({"align", Value(align)});
    }
    SW_TRY(desc, named(cur_.read_be64(), "desc"));
    q.members.push_back({"desc", Value(desc)});
    SW_TRY(last, named(cur_.read_be16(), "last_avail_idx"));
    q.members.push_back({"last_avail_idx", Value(last)});
    if (caps_.msix_vectors) {  // virtio_pci_save_queue()
      SW_TRY(vector, named(cur_.read_be16(), "vector"));
      q.members.push_back({"vector", Value(vector)});
    }
    return q;
  }

  // virtio-blk's save: 01 + request per in-flight request, then 00.
  Result<void> requests(Struct& out) {
    SW_TRY(marker, named(cur_.peek(), "requests"));
    if (marker != 0)
      return fail(std::move(
          refusal(cur_, "virtio-blk: in-flight requests (their VirtQueueElement encoding) are not "
                        "decoded")
              .in_field("requests[0]")));
    SW_CHECK(cur_.skip(1));
    Array none;
    none.layout = ArrayLayout::marker_list;
    out.members.push_back({"requests", Value(std::move(none))});
    return {};
  }

  // The device's own description, loaded at the section's version (QEMU:
  // vmstate_load_state(vdc->vmsd, version_id)).
  Result<void> device_state(Struct& out, const Device& dev) {
    TestResolver tests;
    if (dev.name == "virtio-net") {
      tests["mac_table_fits"] = [](const Struct& p, std::uint32_t) -> std::optional<bool> {
        std::uint64_t n = 0;
        const Value* v = p.find("mac_table.in_use");
        if (!v || !v->as_u64(n)) return std::nullopt;
        return n <= kMacTableEntries;
      };
      tests["mac_table_doesnt_fit"] = [fits = tests["mac_table_fits"]](
                                          const Struct& p, std::uint32_t v) -> std::optional<bool> {
        auto r = fits(p, v);
        if (!r) return std::nullopt;
        return !*r;
      };
      // Features were set from the stream before this body (virtio_load).
      tests["has_ctrl_guest_offloads"] = [f = features_](const Struct&, std::uint32_t) {
        return std::optional<bool>((f & kNetCtrlGuestOffloads) != 0);
      };
      // The device's queue pairs: with MQ negotiated it has 2 x max + 1
      // queues. Without, only 3 exist whatever max is; then the field's size
      // in the stream's own description decides (exactly one reading of
      // the two may explain it), else nothing does.
      if (features_ & kNetMq) {
        set_gt1(tests, num_queues_ >= 5);
        return device_body(out, dev, tests);
      }
      return net_without_mq(out, dev, tests);
    }
    return device_body(out, dev, tests);
  }

  Result<void> device_body(Struct& out, const Device& dev, const TestResolver& tests) {
    BodyDecodeOptions o = opt_;
    o.tests = &tests;
    auto s = decode_body(*dev.vmsd, cur_, cx_.version, o);
    if (!s) return fail(std::move(s.error().in_field("device")));
    out.members.push_back({"device", Value(std::move(*s))});
    return {};
  }

  static void set_gt1(TestResolver& tests, bool gt1) {
    tests["max_queue_pairs_gt_1"] = [gt1](const Struct&, std::uint32_t) {
      return std::optional<bool>(gt1);
    };
  }

  // Tries both readings of max_queue_pairs_gt_1 on a scratch cursor and
  // budget: the device body and the virtio subsections must end exactly
  // where the stream's description says the field ends.
  Result<void> net_without_mq(Struct& out, const Device& dev, TestResolver& tests) {
    int explained = 0;
    bool pick = false;
    std::optional<Error> first;
    for (bool gt1 : {false, true}) {
      set_gt1(tests, gt1);
      Cursor c = cur_;
      Budget probe(cx_.limits, c.remaining());
      BodyDecodeOptions o = opt_;
      o.budget = &probe;
      o.tests = &tests;
      auto body = decode_body(*dev.vmsd, c, cx_.version, o);
      auto subs = body ? decode_body(virtio_description(transport_), c, 1, o)
                       : Result<Struct>(fail(body.error()));
      if (!subs) {
        if (!first) first = subs.error();
      } else if (f_.size && c.offset() - field_start_ == f_.size) {
        ++explained;
        pick = gt1;
      }
    }
    auto refused = [this](const char* why) {
      return fail(std::move(refusal(cur_, why).in_field("device")));
    };
    if (!f_.size)
      return refused("virtio-net: whether the device has more than one queue pair is not in the "
                     "stream (MQ not negotiated), and no description gives the field's size");
    if (explained > 1)
      return refused("virtio-net: both readings of max_queue_pairs_gt_1 explain the field's size");
    if (explained == 0) {
      if (first) return fail(std::move(first->in_field("device")));
      return refused("virtio-net: neither reading of max_queue_pairs_gt_1 explains the field's size");
    }
    set_gt1(tests, pick);
    return device_body(out, dev, tests);
  }

 public:
  std::uint64_t field_start_ = 0;

 private:
  Transport transport_ = Transport::pci;
  const Field& f_;
  Cursor& cur_;
  const CustomContext& cx_;
  BodyDecodeOptions opt_;
  PciCaps caps_;
  std::uint32_t features_ = 0;
  std::uint32_t num_queues_ = 0;
};

Result<Value> decode_virtio(const Field& f, Cursor& cur, const CustomContext& cx) {
  VirtioReader r(f, cur, cx);
  r.field_start_ = cur.offset();
  return r.run();
}

}  // namespace

const CustomDecoders& custom_decoders() {
  static const CustomDecoders d = {{"virtio", decode_virtio}};
  return d;
}

std::span<const std::string_view> virtio_devices() noexcept { return kDeviceNames; }

}  // namespace statewire::qemu
