// statewire/codec.hpp — one interface over the wire formats.
//
// A Codec turns a StateStream into bytes and back. Three exist: "qemu"
// (QEMU's migration stream, byte for byte), "framed" (statewire's
// self-delimiting format with lengths and CRC32C) and "json" (the lossless
// tree JSON). Any stream converts among them without loss: the QEMU-specific
// records travel in StateStream::envelope. Codecs carry no version logic.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"

namespace statewire {

class Codec {
 public:
  virtual ~Codec() = default;
  virtual std::string_view name() const = 0;
  [[nodiscard]] virtual Result<Bytes> encode(const StateStream& s) const = 0;
  [[nodiscard]] virtual Result<StateStream> decode(ByteSpan bytes) const = 0;
};

struct CodecOptions {
  qemu::QemuDecodeOptions qemu;
  FramedEncodeOptions framed_encode;
  FramedDecodeOptions framed_decode;
  TreeJsonOptions json;
};

// "qemu", "framed" or "json"; nullptr for any other name.
std::unique_ptr<Codec> make_codec(std::string_view name, const CodecOptions& opt = {});
std::vector<std::string_view> codec_names();

// Which codec wrote these bytes, by their first bytes ("QEVM", the framed
// magic, or a JSON object); nullopt when none matches.
std::optional<std::string_view> detect_codec(ByteSpan bytes) noexcept;

}  // namespace statewire
