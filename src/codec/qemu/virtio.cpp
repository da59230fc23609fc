// The "virtio" VMStateInfo: QEMU's hand-written virtio_save() layout (see
// include/statewire/qemu_virtio.hpp), decoded into a tree whose members
// re-encode to the same bytes. The VMState parts inside it (PCIDevice, the
// device's own description, the "virtio" subsections) are Descriptions
// (virtio_descriptions.hpp) decoded by decode_body(); only the hand-written
// parts are read here.
#include "statewire/qemu_virtio.hpp"

#include <fmt/format.h>

#include <array>
#include <optional>

#include "codec/qemu/virtio_descriptions.hpp"

namespace statewire::qemu {

namespace {

using namespace virtio;

constexpr std::array<std::string_view, 5> kDeviceNames = {
    "virtio-iommu", "virtio-net", "virtio-blk", "virtio-rng", "virtio-balloon"};

Error refusal(const Cursor& cur, std::string why) {
  return cur.error_here(Errc::unsupported, std::move(why));
}

Unexpected refuse(const Cursor& cur, std::string why) { return Unexpected(refusal(cur, std::move(why))); }

template <class T>
Result<T> named(Result<T> r, std::string_view field) {
  if (!r) r.error().in_field(field);
  return r;
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
                                      "(described: virtio-iommu, virtio-net, virtio-blk, virtio-rng, "
                                      "virtio-balloon)",
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
