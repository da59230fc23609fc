// The codec registry: adapts each codec's own functions to the Codec interface.
#include "statewire/codec.hpp"

#include <cstring>

namespace statewire {

namespace {

class QemuCodec final : public Codec {
 public:
  explicit QemuCodec(const qemu::QemuDecodeOptions& o) : opt_(o) {}
  std::string_view name() const override { return "qemu"; }
  Result<Bytes> encode(const StateStream& s) const override { return qemu::encode_qemu_stream(s); }
  Result<StateStream> decode(ByteSpan b) const override { return qemu::decode_qemu_stream(b, opt_); }

 private:
  qemu::QemuDecodeOptions opt_;
};

class FramedCodec final : public Codec {
 public:
  FramedCodec(const FramedEncodeOptions& e, const FramedDecodeOptions& d) : enc_(e), dec_(d) {}
  std::string_view name() const override { return "framed"; }
  Result<Bytes> encode(const StateStream& s) const override { return encode_framed(s, enc_); }
  Result<StateStream> decode(ByteSpan b) const override {
    SW_TRY(f, decode_framed(b, dec_));
    return std::move(f.stream);
  }

 private:
  FramedEncodeOptions enc_;
  FramedDecodeOptions dec_;
};

class JsonCodec final : public Codec {
 public:
  explicit JsonCodec(const TreeJsonOptions& o) : opt_(o) {}
  std::string_view name() const override { return "json"; }
  Result<Bytes> encode(const StateStream& s) const override {
    std::string text = to_json(s, opt_);
    return Bytes(text.begin(), text.end());
  }
  Result<StateStream> decode(ByteSpan b) const override {
    return stream_from_json(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  }

 private:
  TreeJsonOptions opt_;
};

}  // namespace

std::unique_ptr<Codec> make_codec(std::string_view name, const CodecOptions& opt) {
  if (name == "qemu") return std::make_unique<QemuCodec>(opt.qemu);
  if (name == "framed") return std::make_unique<FramedCodec>(opt.framed_encode, opt.framed_decode);
  if (name == "json") return std::make_unique<JsonCodec>(opt.json);
  return nullptr;
}

std::vector<std::string_view> codec_names() { return {"qemu", "framed", "json"}; }

std::optional<std::string_view> detect_codec(ByteSpan b) noexcept {
  if (b.size() >= 4 && std::memcmp(b.data(), "QEVM", 4) == 0) return "qemu";
  if (is_framed(b)) return "framed";
  for (std::uint8_t c : b) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '{') return "json";
    break;
  }
  return std::nullopt;
}

}  // namespace statewire
