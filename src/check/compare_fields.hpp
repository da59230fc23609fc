// The field-list comparison of `check` (compare_fields()): one FieldPass walks an
// aligned pair of field lists and appends findings. Pairs and lone fields are
// judged in compare_fields.cpp, the runs between aligned pairs ("gaps") by wire
// layout in compare_fields_gaps.cpp. Private to src/check/.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "check/compare.hpp"

namespace statewire::check_detail {

// Wire layout of a field as tokens, nested structs inlined: two layouts with
// the same tokens put the same bytes in the same order under the same gate.
// Inside a struct the outer field's gate decides (nested versions are not on
// the wire), unless a nested field has its own test. flatten() appends one
// field's tokens to `out`, flatten_all() returns a list's.
void flatten(const Field& f, std::vector<std::string>& out);
std::vector<std::string> flatten_all(std::span<const Field> fs);

struct FieldPass {
  const Scope& s;
  Sink& sink;

  Presence fwd_sent(const Field& o) const { return presence(o, s.fwd.src); }
  Presence fwd_read(const Field& n) const { return presence(n, s.fwd.dst); }
  Presence bwd_sent(const Field& n) const { return presence(n, s.bwd.src); }
  Presence bwd_read(const Field& o) const { return presence(o, s.bwd.dst); }

  void removed(const Field& o);
  void added(const Field& n);
  void reordered(const Field& o, const Field& n, std::size_t from, std::size_t to);
  void gating(const Field& o, const Field& n, const std::string& path);
  void pair(const Field& o, const Field& n);
  void nested_pair(const Field& o, const Field& n, const std::string& path, Presence fwd_both,
                   Presence bwd_both);

  // compare_fields_gaps.cpp
  void gap(std::span<const Field> O, std::span<const Field> N);
  static bool same_shape(const Field& o, const Field& n);
  // `unused` blocks stand for bytes; compare totals, not fields.
  void unused_gap(std::span<const Field> O, std::span<const Field> N);
};

}  // namespace statewire::check_detail
