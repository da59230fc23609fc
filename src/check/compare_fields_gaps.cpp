// The gaps of a field-list comparison: the fields between two aligned pairs,
// judged by wire layout (compare_fields.hpp).
#include "check/compare_fields.hpp"

#include <fmt/format.h>

#include <optional>
#include <string>
#include <vector>

namespace statewire::check_detail {

void FieldPass::gap(std::span<const Field> O, std::span<const Field> N) {
  if (O.empty() && N.empty()) return;
  auto any = [](std::span<const Field> fs, auto pred) {
    return std::any_of(fs.begin(), fs.end(), pred);
  };
  bool any_unused = any(O, is_unused) || any(N, is_unused);
  bool any_struct = any(O, [](const Field& f) { return f.nested != nullptr; }) ||
                    any(N, [](const Field& f) { return f.nested != nullptr; });
  // Same count, same shape at each position: renames.
  if (!any_unused && O.size() == N.size()) {
    bool pairable = true;
    for (std::size_t i = 0; i < O.size() && pairable; ++i) pairable = same_shape(O[i], N[i]);
    if (pairable) {
      for (std::size_t i = 0; i < O.size(); ++i) pair(O[i], N[i]);
      return;
    }
  }
  if (any_struct && flatten_all(O) == flatten_all(N)) {
    std::string path = s.join(O.empty() ? N.front().name : O.front().name);
    sink.add(s, path, "fields-wrapped", Verdict::ok, Verdict::ok,
             fmt::format("Fields around {} moved into or out of a nested struct with the same "
                         "wire layout; the bytes on the wire are unchanged.",
                         path));
    return;
  }
  if (any_unused) return unused_gap(O, N);
  bool same_names = O.size() == N.size();
  for (std::size_t i = 0; i < O.size() && same_names; ++i) same_names = O[i].name == N[i].name;
  if (same_names) {
    for (std::size_t i = 0; i < O.size(); ++i) pair(O[i], N[i]);
    return;
  }
  // Same-shaped fields at either end of the gap are renames; what is left
  // in the middle was removed or added.
  std::size_t head = 0, tail = 0;
  while (head < O.size() && head < N.size() && same_shape(O[head], N[head])) ++head;
  while (tail < O.size() - head && tail < N.size() - head &&
         same_shape(O[O.size() - 1 - tail], N[N.size() - 1 - tail]))
    ++tail;
  for (std::size_t i = 0; i < head; ++i) pair(O[i], N[i]);
  for (const auto& o : O.subspan(head, O.size() - head - tail)) removed(o);
  for (const auto& n : N.subspan(head, N.size() - head - tail)) added(n);
  for (std::size_t i = tail; i-- > 0;) pair(O[O.size() - 1 - i], N[N.size() - 1 - i]);
}

bool FieldPass::same_shape(const Field& o, const Field& n) {
  bool so = o.nested != nullptr, sn = n.nested != nullptr;
  if (so != sn || is_unused(o) || is_unused(n)) return false;
  return so || (element_bytes(o) == element_bytes(n) && o.count == n.count);
}

void FieldPass::unused_gap(std::span<const Field> O, std::span<const Field> N) {
  auto total = [](std::span<const Field> fs) -> std::optional<std::uint64_t> {
    std::uint64_t t = 0;
    for (const auto& f : fs) {
      auto b = field_bytes(f);
      if (!b || f.has_test()) return std::nullopt;
      t += *b;
    }
    return t;
  };
  auto names = [](std::span<const Field> fs) {
    std::vector<std::string> out;
    for (const auto& f : fs)
      if (!is_unused(f)) out.push_back(f.name);
    return out;
  };
  auto to = total(O), tn = total(N);
  std::string path = s.join(O.empty() ? N.front().name : O.front().name);
  if (to && tn && *to != *tn) {
    // A dump without element counts shows an array as one element: if the
    // smaller side has such a field whose element size divides the
    // difference, the totals may well agree. Say so instead of "breaks".
    const bool old_short = *to < *tn;
    const auto side = old_short ? O : N;
    const bool counts = old_short ? s.old_counts : s.new_counts;
    const std::uint64_t diff = old_short ? *tn - *to : *to - *tn;
    const Field* maybe_array = nullptr;
    for (const auto& f : side)
      if (!counts && !is_unused(f) && !f.nested && f.count.mode == Count::Mode::single &&
          f.kind == FieldKind::opaque && f.size > 0 && diff % f.size == 0) {
        maybe_array = &f;
        break;
      }
    if (maybe_array) {
      const std::uint64_t n = diff / maybe_array->size + 1;
      auto& f = sink.add(
          s, path, "unused-size-unknown", Verdict::risk, Verdict::risk,
          fmt::format("Near {} the {} dump shows {} bytes and the {} one {} where unused "
                      "padding is involved, but the {} dump records no element counts (QEMU "
                      "7.2's -dump-vmstate): if {} is an array of {} elements of {} byte{}, "
                      "the byte counts agree and nothing shifts.",
                      path, old_short ? "old" : "new", old_short ? *to : *tn,
                      old_short ? "new" : "old", old_short ? *tn : *to,
                      old_short ? "old" : "new", s.join(maybe_array->name), n,
                      maybe_array->size, maybe_array->size == 1 ? "" : "s"),
          "Confirm the count in the source (or compare an extended export, statewire schema "
          "--extended, or a dump from a QEMU that writes \"num\").");
      (void)f;
      return;
    }
  }
  if (!to || !tn || *to != *tn) {
    sink.add(s, path, "unused-size-mismatch", Verdict::breaks, Verdict::breaks,
             fmt::format("Near {} the old build has {} bytes and the new one {} where unused "
                         "padding is involved; the byte counts differ, so every later byte "
                         "shifts.",
                         path, to ? fmt::format("{}", *to) : "a run-time number of",
                         tn ? fmt::format("{}", *tn) : "a run-time number of"),
             "Size the VMSTATE_UNUSED block to exactly the bytes of the fields it replaces.");
    return;
  }
  auto old_names = names(O), new_names = names(N);
  if (!old_names.empty())
    sink.add(s, s.join(old_names.front()), "field-replaced-by-unused", Verdict::ok, Verdict::ok,
             fmt::format("{} ({} bytes) became unused padding of the same size: an old "
                         "destination gets zeros there from a new source.",
                         fmt::join(old_names, ", "), *to));
  if (!new_names.empty())
    sink.add(s, s.join(new_names.front()), "unused-reused", Verdict::risk, Verdict::ok,
             fmt::format("{} now occupy {} bytes that were unused padding: the layout matches, "
                         "but an old source sends zeros there, which the new destination loads "
                         "as values.",
                         fmt::join(new_names, ", "), *to),
             "Make zero a valid value for the new fields, or send them in a subsection.");
}

}  // namespace statewire::check_detail
