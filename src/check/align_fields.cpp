// Aligns two field lists by name, in order: the anchors between which
// compare_fields judges "gaps" by wire layout. Names repeat (PCIDevice has two
// `config` fields, many devices several `unused`), so alignment is positional,
// never a name lookup.
#include <algorithm>
#include <string_view>
#include <unordered_map>

#include "check/compare.hpp"

namespace statewire::check_detail {

namespace {
// A hostile dump may hold huge field lists; the quadratic table is used only
// up to this many cells (16 MiB), beyond that a greedy in-order match.
constexpr std::size_t kMaxAlignCells = std::size_t{1} << 22;
}  // namespace

// Pairs (i, j) aligning equal names in order: the longest common subsequence
// for lists of real sizes, a greedy match for huge ones.
std::vector<std::pair<std::size_t, std::size_t>> align_by_name(std::span<const Field> a,
                                                                 std::span<const Field> b) {
  const std::size_t m = a.size(), n = b.size();
  std::vector<std::pair<std::size_t, std::size_t>> out;
  if ((m + 1) > kMaxAlignCells / (n + 1)) {
    std::unordered_map<std::string_view, std::vector<std::size_t>> where;
    for (std::size_t j = n; j-- > 0;) where[b[j].name].push_back(j);  // ascending via back()
    std::size_t next = 0;
    for (std::size_t i = 0; i < m; ++i) {
      auto it = where.find(a[i].name);
      if (it == where.end()) continue;
      auto& js = it->second;
      while (!js.empty() && js.back() < next) js.pop_back();
      if (js.empty()) continue;
      out.emplace_back(i, js.back());
      next = js.back() + 1;
      js.pop_back();
    }
    return out;
  }
  std::vector<std::uint32_t> t((m + 1) * (n + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> std::uint32_t& { return t[i * (n + 1) + j]; };
  for (std::size_t i = m; i-- > 0;)
    for (std::size_t j = n; j-- > 0;)
      at(i, j) = a[i].name == b[j].name ? at(i + 1, j + 1) + 1
                                        : std::max(at(i + 1, j), at(i, j + 1));
  std::size_t i = 0, j = 0;
  while (i < m && j < n) {
    if (a[i].name == b[j].name) {
      out.emplace_back(i++, j++);
    } else if (at(i + 1, j) >= at(i, j + 1)) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

}  // namespace statewire::check_detail
