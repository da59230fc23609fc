// The planner (include/statewire/planner.hpp): a breadth-first search over
// versions per section, then the transforms applied and the result validated.
#include "statewire/planner.hpp"

#include <fmt/format.h>

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "statewire/qemu_stream.hpp"

namespace statewire {

namespace {

bool opaque_or_bulk(const Section& s) {
  if (s.kind != SectionKind::full) return true;
  return s.body.subsections.empty() && s.body.members.size() == 1 &&
         s.body.members[0].name == qemu::keys::kOpaque;
}

bool accepts(const std::vector<const Description*>& cands, std::uint32_t v) {
  for (const auto* d : cands)
    if (v >= d->minimum_version_id && v <= d->version_id) return true;
  return false;
}

bool condition_holds(const Transform& t, const std::vector<const Description*>& cands) {
  if (t.when.empty()) return true;
  if (cands.empty()) return t.when.has.empty();
  for (const auto* d : cands)
    if (t.when.holds(*d)) return true;
  return false;
}

// Shortest chain of version-changing transforms from `v` into the
// destination's range; nullopt when there is none.
std::optional<std::vector<const Transform*>> find_chain(const TransformSet* set,
                                                        std::string_view vmsd, std::uint32_t v,
                                                        const std::vector<const Description*>& cands) {
  if (accepts(cands, v)) return std::vector<const Transform*>{};
  if (!set) return std::nullopt;
  std::map<std::uint32_t, const Transform*> came_by;
  std::set<std::uint32_t> seen{v};
  std::deque<std::uint32_t> todo{v};
  while (!todo.empty()) {
    std::uint32_t cur = todo.front();
    todo.pop_front();
    for (const auto& t : set->all()) {
      if (t.section != vmsd || t.from != cur || t.from == t.to || seen.count(t.to) ||
          !condition_holds(t, cands))
        continue;
      seen.insert(t.to);
      came_by[t.to] = &t;
      if (accepts(cands, t.to)) {
        std::vector<const Transform*> chain;
        for (std::uint32_t at = t.to; at != v; at = came_by[at]->from) chain.push_back(came_by[at]);
        return std::vector<const Transform*>(chain.rbegin(), chain.rend());
      }
      todo.push_back(t.to);
    }
  }
  return std::nullopt;
}

std::string range_text(const std::vector<const Description*>& cands) {
  std::vector<std::string> r;
  for (const auto* d : cands) r.push_back(fmt::format("{}..{}", d->minimum_version_id, d->version_id));
  return fmt::format("{}", fmt::join(r, " or "));
}

}  // namespace

MigrationPlan plan_migration(StateStream source, const SchemaCatalog& destination,
                             const PlanOptions& opt) {
  MigrationPlan plan;
  plan.result = std::move(source);
  std::set<std::string> refused;
  StateStream& st = plan.result;
  for (std::size_t i = 0; i < st.sections.size(); ++i) {
    if (opaque_or_bulk(st.sections[i])) continue;
    const std::string label = st.sections[i].label();
    const std::uint32_t from = st.sections[i].version_id;
    const std::string vmsd(SchemaCatalog::vmsd_name(st.sections[i].name));
    auto cands = destination.find_all(st.sections[i].name, st.sections[i].instance_id);
    if (cands.empty()) continue;  // merged away below, or refused by validation
    auto chain = find_chain(opt.transforms, vmsd, from, cands);
    if (!chain) {
      Error e = make_error(
          from > cands.front()->version_id ? Errc::version_too_new : Errc::version_too_old,
          fmt::format("version {} sent; the destination reads {} and no transform chain leads "
                      "there",
                      from, range_text(cands)));
      e.section = label;
      plan.refusals.push_back(std::move(e));
      refused.insert(label);
      continue;
    }
    const std::uint32_t final_version = chain->empty() ? from : chain->back()->to;
    if (opt.transforms)
      for (const auto& t : opt.transforms->all())
        if (t.section == vmsd && t.from == final_version && t.to == final_version &&
            condition_holds(t, cands))
          chain->push_back(&t);
    SectionPlan sp{label, from, final_version, {}};
    for (const Transform* t : *chain) {
      // A same-version fix-up that finds nothing to do is left out of the plan.
      const bool fixup = t->from == t->to;
      Section before = fixup ? st.sections[i] : Section{};
      const std::size_t count = st.sections.size();
      const std::string name = st.sections[i].name;
      const std::uint32_t instance = st.sections[i].instance_id;
      auto r = apply_transform(*t, st, i);
      if (!r) {
        sp.chain.push_back(t);
        plan.refusals.push_back(std::move(r.error()));
        refused.insert(label);
        break;
      }
      // A merge may have removed a section before this one: find it again.
      if (i >= st.sections.size() || st.sections[i].name != name ||
          st.sections[i].instance_id != instance)
        for (std::size_t k = 0; k < st.sections.size(); ++k)
          if (st.sections[k].name == name && st.sections[k].instance_id == instance) i = k;
      if (!fixup || count != st.sections.size() || !(st.sections[i] == before)) sp.chain.push_back(t);
    }
    plan.sections.push_back(std::move(sp));
  }
  auto v = validate_stream(
      st, [&destination](const Section& s) { return destination.find_all(s.name, s.instance_id); },
      opt.validate);
  for (auto& e : v.problems)
    if (!refused.count(e.section)) plan.refusals.push_back(std::move(e));
  plan.unchecked = std::move(v.unchecked);
  return plan;
}

std::string render_plan_text(const MigrationPlan& plan) {
  std::string out;
  std::size_t changed = 0;
  for (const auto& s : plan.sections) {
    if (s.chain.empty()) continue;
    ++changed;
    out += fmt::format("{}: version {} -> {}\n", s.section, s.from, s.to);
    for (const Transform* t : s.chain) {
      out += fmt::format("  {}{}\n", t->label(), t->origin.empty() ? "" : " [" + t->origin + "]");
      for (const auto& op : t->ops) out += fmt::format("    {}\n", op.to_string());
    }
  }
  out = fmt::format("{} section(s) checked, {} transformed, {} refusal(s): {}\n",
                    plan.sections.size(), changed, plan.refusals.size(),
                    plan.ok() ? "the destination accepts the state" : "the destination would refuse it") +
        out;
  for (const auto& e : plan.refusals)
    out += fmt::format("refused: {} [{}]\n", e.to_string(), errc_name(e.code));
  return out;
}

std::string render_plan_json(const MigrationPlan& plan) {
  using Json = nlohmann::ordered_json;
  Json j;
  j["ok"] = plan.ok();
  Json secs = Json::array();
  for (const auto& s : plan.sections) {
    Json c = Json::array();
    for (const Transform* t : s.chain) {
      Json ops = Json::array();
      for (const auto& op : t->ops) ops.push_back(op.to_string());
      c.push_back({{"section", t->section}, {"from", t->from}, {"to", t->to}, {"note", t->note},
                   {"origin", t->origin}, {"ops", ops}});
    }
    secs.push_back({{"section", s.section}, {"from", s.from}, {"to", s.to}, {"chain", c}});
  }
  j["sections"] = secs;
  Json refs = Json::array();
  for (const auto& e : plan.refusals)
    refs.push_back({{"section", e.section}, {"path", e.field_path}, {"code", errc_name(e.code)},
                    {"message", e.message}});
  j["refusals"] = refs;
  j["unchecked"] = plan.unchecked;
  return j.dump(2) + "\n";
}

}  // namespace statewire
