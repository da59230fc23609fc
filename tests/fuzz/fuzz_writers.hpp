// Every writer that consumes decoded data, run on whatever a fuzz target
// decoded: the tree JSON writer (and its reader: the same tree back, names
// that are not UTF-8 included), the framed writer (decodes back to the same
// tree) and the QEMU writer (may refuse a tree no QEMU stream can hold, must
// not crash). A broken promise aborts, which the fuzzer reports.
#pragma once

#include <cstdlib>

#include "statewire/framed.hpp"
#include "statewire/qemu_stream.hpp"
#include "statewire/tree_json.hpp"

namespace statewire::fuzz {

inline void check_writers(const StateStream& s) {
  auto json = stream_from_json(to_json(s));
  if (!json || !(*json == s)) std::abort();
  if (auto framed = encode_framed(s)) {
    auto back = decode_framed(*framed);
    if (!back || !(back->stream == s)) std::abort();
  }
  (void)qemu::encode_qemu_stream(s);
}

}  // namespace statewire::fuzz
