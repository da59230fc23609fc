#include "statewire/tree_diff.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace statewire {

namespace {

class Differ {
 public:
  explicit Differ(const DiffOptions& opt) : opt_(opt) {}

  void add(std::string path, std::string what) {
    if (out_.size() < opt_.max_differences)
      out_.push_back({std::move(path), std::move(what), std::nullopt, std::nullopt});
  }
  bool full() const { return out_.size() >= opt_.max_differences; }

  void value(const std::string& path, const Value& a, const Value& b) {
    if (full()) return;
    if (a.kind() != b.kind()) {
      add(path, fmt::format("kind {} != {}", kind_name(a.kind()), kind_name(b.kind())));
      return;
    }
    if (const auto* x = a.get_if<Array>()) {
      const auto* y = b.get_if<Array>();
      if (x->items.size() != y->items.size())
        add(path, fmt::format("length {} != {}", x->items.size(), y->items.size()));
      std::size_t n = std::min(x->items.size(), y->items.size());
      for (std::size_t i = 0; i < n; ++i) value(fmt::format("{}[{}]", path, i), x->items[i], y->items[i]);
      return;
    }
    if (const auto* x = a.get_if<Struct>()) {
      structure(path, *x, *b.get_if<Struct>());
      return;
    }
    if (!(a == b) && !full()) {
      add(path, fmt::format("{} != {}", to_text(a), to_text(b)));
      out_.back().left = a;
      out_.back().right = b;
    }
  }

  void structure(const std::string& path, const Struct& a, const Struct& b) {
    std::string prefix = path.empty() || path.back() == ':' ? path : path + ".";
    std::size_t n = std::max(a.members.size(), b.members.size());
    for (std::size_t i = 0; i < n && !full(); ++i) {
      if (i >= a.members.size()) {
        add(prefix + b.members[i].name, "only in right");
      } else if (i >= b.members.size()) {
        add(prefix + a.members[i].name, "only in left");
      } else if (a.members[i].name != b.members[i].name) {
        add(prefix + a.members[i].name,
            fmt::format("field name {} != {}", a.members[i].name, b.members[i].name));
      } else {
        value(prefix + a.members[i].name, a.members[i].value, b.members[i].value);
      }
    }
    // Subsections are matched by name: which ones were sent is itself a difference.
    for (const auto& sa : a.subsections) {
      auto it = std::find_if(b.subsections.begin(), b.subsections.end(),
                             [&](const SubsectionState& s) { return s.name == sa.name; });
      std::string spath = prefix + sa.name;
      if (it == b.subsections.end()) {
        add(spath, "subsection only in left");
        continue;
      }
      if (sa.version_id != it->version_id)
        add(spath, fmt::format("subsection version {} != {}", sa.version_id, it->version_id));
      structure(spath, sa.body, it->body);
    }
    for (const auto& sb : b.subsections) {
      bool in_a = std::any_of(a.subsections.begin(), a.subsections.end(),
                              [&](const SubsectionState& s) { return s.name == sb.name; });
      if (!in_a) add(prefix + sb.name, "subsection only in right");
    }
  }

  std::vector<Difference> take() { return std::move(out_); }

 private:
  const DiffOptions& opt_;
  std::vector<Difference> out_;
};

}  // namespace

std::vector<Difference> diff(const Struct& a, const Struct& b, const DiffOptions& opt) {
  Differ d(opt);
  d.structure("", a, b);
  return d.take();
}

std::vector<Difference> diff(const StateStream& a, const StateStream& b, const DiffOptions& opt) {
  Differ d(opt);
  std::size_t n = std::max(a.sections.size(), b.sections.size());
  for (std::size_t i = 0; i < n && !d.full(); ++i) {
    if (i >= a.sections.size()) {
      d.add(b.sections[i].label(), "section only in right");
      continue;
    }
    if (i >= b.sections.size()) {
      d.add(a.sections[i].label(), "section only in left");
      continue;
    }
    const Section& x = a.sections[i];
    const Section& y = b.sections[i];
    if (x.name != y.name || x.instance_id != y.instance_id) {
      d.add(x.label(), fmt::format("section {} != {}", x.label(), y.label()));
      continue;
    }
    if (x.version_id != y.version_id)
      d.add(x.label(), fmt::format("version {} != {}", x.version_id, y.version_id));
    if (x.kind != y.kind || x.section_id != y.section_id)
      d.add(x.label(), "section record kind or id differs");
    d.structure(x.label() + ":", x.body, y.body);
  }
  return d.take();
}

}  // namespace statewire
