// The VMState descriptions inside a virtio field (virtio_descriptions.hpp).
#include "codec/qemu/virtio_descriptions.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdlib>

#include "statewire/schema_builder.hpp"

namespace statewire::qemu::virtio {

namespace {

// Private infos of the device descriptions below, never in a stream's trailer.
constexpr std::string_view kNetTxWaiting = "statewire:virtio-net tx_waiting";

Description built(SchemaBuilder& b) {
  auto d = b.build();
  // The descriptions here are fixed; a failure is a bug caught by every test.
  if (!d) std::abort();
  return std::move(*d);
}

std::shared_ptr<const Description> share(Description d) {
  return std::make_shared<const Description>(std::move(d));
}

bool hex_digits(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return !s.empty();
}

}  // namespace

// --- the transports ---------------------------------------------------------------

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

namespace {

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

}  // namespace

const Description& virtio_description(Transport t) {
  static const Description pci = virtio_subsections(Transport::pci);
  static const Description mmio = virtio_subsections(Transport::mmio);
  return t == Transport::pci ? pci : mmio;
}

// --- the devices' own state ------------------------------------------------------

namespace {

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

// virtio-balloon (hw/virtio/virtio-balloon.c): two counters and the
// subsections of its optional features.
Description balloon_device() {
  SchemaBuilder hint("virtio-balloon-device/free-page-report", 1, 1);
  hint.scalar("free_page_hint_cmd_id", FieldKind::u32).scalar("free_page_hint_status", FieldKind::u32);
  SchemaBuilder poison("virtio-balloon-device/page-poison", 1, 1);
  poison.scalar("poison_val", FieldKind::u32);
  SchemaBuilder b("virtio-balloon-device", 1, 1);
  b.scalar("num_pages", FieldKind::u32)
      .scalar("actual", FieldKind::u32)
      .subsection(built(hint), "virtio_balloon_free_page_support")
      .subsection(built(poison), "virtio_balloon_page_poison_support");
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

}  // namespace

std::span<const Device> devices() {
  static const std::array<Device, 5> all{{
      {"virtio-iommu", share(iommu_device()), false},
      {"virtio-net", share(net_device()), false},
      {"virtio-blk", nullptr, true},
      {"virtio-rng", nullptr, false},  // no state of its own
      {"virtio-balloon", share(balloon_device()), false},
  }};
  return all;
}

const CustomDecoders& private_decoders() {
  static const CustomDecoders d = {{std::string(kNetTxWaiting), net_tx_waiting}};
  return d;
}

}  // namespace statewire::qemu::virtio
