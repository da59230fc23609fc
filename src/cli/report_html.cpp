#include "cli/report_html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "cli/report_assets.hpp"
#include "cli/value_text.hpp"
#include "statewire/qemu_analyze.hpp"
#include "statewire/text.hpp"

namespace statewire::cli {

namespace {

using report::PageKind;
using report::PageRun;

constexpr std::size_t kChartRows = 24;     // devices drawn; the rest are summed in one row
constexpr std::size_t kMapSegments = 400;  // at most this many rectangles per RAM block
constexpr std::size_t kRunsListed = 12;    // runs of a block spelled out
constexpr std::size_t kDiffRows = 2000;    // difference rows; more are counted, not shown
constexpr std::size_t kRangesListed = 64;  // differing RAM ranges per block
// A hostile or pathological stream (millions of tiny sections or blocks)
// must not make a page of gigabytes: beyond these, rows are counted, not drawn.
constexpr std::size_t kSectionRows = 5000;
constexpr std::size_t kRamBlocks = 64;

const char* kind_color(PageKind k) {
  switch (k) {
    case PageKind::not_sent: return "#f3f4f6";
    case PageKind::zero: return "#cbd5e1";
    case PageKind::filled: return "#f59e0b";
    case PageKind::data: return "#2563eb";
  }
  return "#000";
}

std::string pct(std::uint64_t part, std::uint64_t whole) {
  return whole ? fmt::format("{:.1f}%", 100.0 * double(part) / double(whole)) : std::string("-");
}

// Names are cut for the chart's label column; the full name is its tooltip.
std::string shorten(const std::string& s, std::size_t n) {
  const std::string p = printable(s);
  if (p.size() <= n) return p;
  std::size_t cut = n - 1;
  while (cut > 0 && (static_cast<unsigned char>(p[cut]) & 0xc0) == 0x80) --cut;  // not inside a character
  return p.substr(0, cut) + "\u2026";
}

struct DeviceSize {
  std::string label;
  std::uint64_t a = 0, b = 0;
};

std::vector<DeviceSize> device_sizes(const ReportStream& a, const ReportStream* b) {
  std::map<std::string, DeviceSize> by;
  for (const auto& s : a.sections)
    if (!s.ram) by[s.label].a += s.bytes;
  if (b)
    for (const auto& s : b->sections)
      if (!s.ram) by[s.label].b += s.bytes;
  std::vector<DeviceSize> out;
  for (auto& [label, d] : by) {
    d.label = label;
    out.push_back(d);
  }
  std::stable_sort(out.begin(), out.end(), [](const DeviceSize& x, const DeviceSize& y) {
    return std::max(x.a, x.b) > std::max(y.a, y.b);
  });
  return out;
}

struct Totals {
  std::uint64_t ram = 0, devices = 0, other = 0;
};

Totals totals(const ReportStream& s) {
  Totals t;
  for (const auto& sec : s.sections) (sec.ram ? t.ram : t.devices) += sec.bytes;
  const std::uint64_t used = t.ram + t.devices;
  t.other = s.size > used ? s.size - used : 0;
  return t;
}

class Html {
 public:
  std::string out;

  void raw(std::string_view s) { out += s; }
  template <class... A>
  void f(fmt::format_string<A...> fs, A&&... a) {
    out += fmt::format(fs, std::forward<A>(a)...);
  }
  void text(std::string_view s) { out += html_escape(s); }

  void facts(const ReportStream& s) {
    raw("<table class=\"facts\"><tbody>");
    row("file", s.name);
    row("format", s.format);
    row("size", fmt::format("{} ({} bytes)", qemu::human_size(s.size), s.size));
    for (const auto& [k, v] : s.facts) row(k, v);
    std::size_t devices = 0;
    for (const auto& sec : s.sections) devices += !sec.ram;
    row("section records", fmt::format("{} ({} device, {} RAM)", s.sections.size(), devices,
                                       s.sections.size() - devices));
    raw("</tbody></table>");
  }

  void row(std::string_view k, std::string_view v) {
    raw("<tr><td>");
    text(k);
    raw("</td><td>");
    text(v);
    raw("</td></tr>");
  }

  // One stacked bar: RAM, device state, the rest.
  void split_bar(const ReportStream& s) {
    const Totals t = totals(s);
    const double w = 700;
    const double whole = double(std::max<std::uint64_t>(1, t.ram + t.devices + t.other));
    f("<svg role=\"img\" aria-label=\"where the bytes go\" width=\"{}\" height=\"22\" "
      "viewBox=\"0 0 {} 22\">",
      w, w);
    double x = 0;
    const std::pair<const char*, std::uint64_t> parts[] = {
        {"RAM", t.ram}, {"device state", t.devices}, {"other (headers, footers, trailer)", t.other}};
    const char* colors[] = {"#2563eb", "#10b981", "#9ca3af"};
    for (std::size_t i = 0; i < 3; ++i) {
      const double pw = w * double(parts[i].second) / whole;
      if (pw <= 0) continue;
      f("<rect x=\"{:.1f}\" y=\"2\" width=\"{:.1f}\" height=\"18\" fill=\"{}\"><title>{}: {} ({})</title></rect>",
        x, std::max(pw, 1.0), colors[i], parts[i].first, qemu::human_size(parts[i].second),
        pct(parts[i].second, s.size));
      x += pw;
    }
    raw("</svg><p class=\"legend\">");
    for (std::size_t i = 0; i < 3; ++i)
      f("<span><i style=\"background:{}\"></i>{} {} ({})</span>", colors[i], parts[i].first,
        qemu::human_size(parts[i].second), pct(parts[i].second, s.size));
    raw("</p>");
  }

  void device_chart(const ReportStream& a, const ReportStream* b) {
    const auto sizes = device_sizes(a, b);
    if (sizes.empty()) {
      raw("<p class=\"muted\">No device sections.</p>");
      return;
    }
    const std::size_t rows = std::min(sizes.size(), kChartRows) + (sizes.size() > kChartRows);
    const int label_w = 230, bar_w = 440, row_h = b ? 30 : 18;
    std::uint64_t max = 1, sum_a = 0, sum_b = 0;
    for (const auto& d : sizes) {
      sum_a += d.a;
      sum_b += d.b;
    }
    DeviceSize rest{fmt::format("{} more devices", sizes.size() > kChartRows ? sizes.size() - kChartRows : 0)};
    for (std::size_t i = kChartRows; i < sizes.size(); ++i) {
      rest.a += sizes[i].a;
      rest.b += sizes[i].b;
    }
    for (std::size_t i = 0; i < sizes.size() && i < kChartRows; ++i)
      max = std::max({max, sizes[i].a, sizes[i].b});
    max = std::max({max, rest.a, rest.b});
    const int h = int(rows) * row_h + 8;
    f("<svg role=\"img\" aria-label=\"device sizes\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\">",
      label_w + bar_w + 170, h, label_w + bar_w + 170, h);
    auto bar = [&](int y, int bh, std::uint64_t v, std::uint64_t sum, const char* color,
                   const std::string& who) {
      const double bw = double(bar_w) * double(v) / double(max);
      f("<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>", label_w, y,
        std::max(bw, v ? 1.0 : 0.0), bh, color);
      text(who);
      f(": {} bytes</title></rect><text x=\"{:.1f}\" y=\"{}\">{} ({})</text>", v,
        label_w + bw + 6, y + bh - 3, qemu::human_size(v), pct(v, sum));
    };
    for (std::size_t i = 0; i < rows; ++i) {
      const DeviceSize& d = i < kChartRows && i < sizes.size() ? sizes[i] : rest;
      const int y = int(i) * row_h + 4;
      f("<text x=\"{}\" y=\"{}\" text-anchor=\"end\"><title>", label_w - 8, y + 13);
      text(d.label);
      raw("</title>");
      text(shorten(d.label, 34));
      raw("</text>");
      if (!b) {
        bar(y, 14, d.a, sum_a, "#10b981", d.label);
      } else {
        bar(y, 13, d.a, sum_a, "#10b981", d.label + " in A");
        bar(y + 14, 13, d.b, sum_b, "#8b5cf6", d.label + " in B");
      }
    }
    raw("</svg>");
    if (b)
      raw("<p class=\"legend\"><span><i style=\"background:#10b981\"></i>A</span>"
          "<span><i style=\"background:#8b5cf6\"></i>B</span></p>");
  }

  void ram_map(const ReportStream& s) {
    if (s.ram.empty()) {
      raw("<p class=\"muted\">No RAM pages in this stream.</p>");
      return;
    }
    raw("<p class=\"legend\">");
    for (PageKind k : {PageKind::data, PageKind::zero, PageKind::filled, PageKind::not_sent})
      f("<span><i style=\"background:{}\"></i>{}</span>", kind_color(k), report::page_kind_name(k));
    raw("</p>");
    for (std::size_t bi = 0; bi < s.ram.size(); ++bi) {
      if (bi == kRamBlocks) {
        f("<p class=\"muted\">… {} more RAM blocks not drawn (statewire analyze lists them).</p>",
          s.ram.size() - kRamBlocks);
        break;
      }
      const ReportRamBlock& blk = s.ram[bi];
      const auto c = report::count_pages(blk.runs);
      const std::uint64_t total = c.not_sent + c.zero + c.filled + c.data;
      raw("<h3><code>");
      text(blk.id);
      f("</code> <span class=\"muted\">{} ({} pages of {}), {} run{}</span></h3>",
        qemu::human_size(blk.used_length ? blk.used_length : total * blk.page_size), total,
        qemu::human_size(blk.page_size), blk.runs.size(), blk.runs.size() == 1 ? "" : "s");
      const double w = 800;
      raw("<svg role=\"img\" aria-label=\"RAM map of ");
      text(blk.id);
      f("\" width=\"{}\" height=\"22\" viewBox=\"0 0 {} 22\">", w + 2, w + 2);
      f("<rect x=\"0.5\" y=\"0.5\" width=\"{}\" height=\"20\" fill=\"none\" stroke=\"#d1d5db\"/>", w + 1);
      for (const auto& seg : report::segments(blk.runs, kMapSegments)) {
        if (seg.kind == PageKind::not_sent || total == 0) continue;
        const double x = w * double(seg.first) / double(total);
        const double sw = std::max(w * double(seg.pages) / double(total), 0.5);
        f("<rect x=\"{:.2f}\" y=\"1\" width=\"{:.2f}\" height=\"19\" fill=\"{}\"><title>{:#x}-{:#x}: "
          "{} ({} pages)</title></rect>",
          x + 1, sw, kind_color(seg.kind), seg.first * blk.page_size,
          (seg.first + seg.pages) * blk.page_size - 1, report::page_kind_name(seg.kind), seg.pages);
      }
      raw("</svg>");
      f("<p class=\"mono\">data {} · zero {} · filled {} · not sent {}</p>", c.data, c.zero,
        c.filled, c.not_sent);
      raw("<table class=\"runs\"><thead><tr><th>from</th><th>to</th><th class=\"n\">pages</th><th>kind</th></tr></thead><tbody>");
      for (std::size_t i = 0; i < blk.runs.size() && i < kRunsListed; ++i) {
        const PageRun& r = blk.runs[i];
        f("<tr><td class=\"mono\">{:#x}</td><td class=\"mono\">{:#x}</td><td class=\"n\">{}</td>"
          "<td>{}</td></tr>",
          r.first * blk.page_size, (r.first + r.pages) * blk.page_size - 1, r.pages,
          report::page_kind_name(r.kind));
      }
      if (blk.runs.size() > kRunsListed)
        f("<tr><td colspan=\"4\" class=\"muted\">… {} more runs</td></tr>", blk.runs.size() - kRunsListed);
      raw("</tbody></table>");
    }
  }

  void section_table(const ReportStream& s, const std::string& id) {
    f("<input type=\"search\" placeholder=\"filter sections\" data-filter=\"{}\"> "
      "<span class=\"muted\" id=\"{}-count\">{} shown</span>",
      id, id, std::min(s.sections.size(), kSectionRows));
    f("<div class=\"scroll\"><table class=\"sortable\" id=\"{}\"><thead><tr><th class=\"n\">#</th>"
      "<th class=\"n\">offset</th><th>section</th><th>record</th><th class=\"n\">version</th>"
      "<th class=\"n\">body bytes</th><th>schema</th><th>note</th></tr></thead><tbody>",
      id);
    std::size_t i = 0;
    for (const auto& sec : s.sections) {
      if (i == kSectionRows) break;
      f("<tr><td class=\"n\" data-v=\"{}\">{}</td>", i, i);
      if (sec.offset)
        f("<td class=\"n mono\" data-v=\"{}\">{:#x}</td>", *sec.offset, *sec.offset);
      else
        raw("<td class=\"n\" data-v=\"0\">-</td>");
      raw("<td><code>");
      text(sec.label);
      f("</code></td><td>{}</td><td class=\"n\" data-v=\"{}\">{}</td><td class=\"n\" data-v=\"{}\">{}</td>",
        sec.kind, sec.version, sec.version, sec.bytes, sec.bytes);
      raw("<td class=\"src-");
      text(sec.source);
      raw("\">");
      text(sec.source);
      raw("</td><td class=\"muted\">");
      text(sec.note);
      raw("</td></tr>");
      ++i;
    }
    raw("</tbody></table></div>");
    if (s.sections.size() > kSectionRows)
      f("<p class=\"muted\">… {} more section records not listed (statewire analyze lists them "
        "all).</p>",
        s.sections.size() - kSectionRows);
  }

  void problems(const ReportStream& s) {
    if (s.warnings.empty() && s.anomalies.empty() && s.stopped.empty()) return;
    raw(s.anomalies.empty() && s.stopped.empty() ? "<section class=\"warn\">" : "<section class=\"bad\">");
    raw("<h2>Problems in ");
    text(s.name);
    raw("</h2><ul>");
    for (const auto& w : s.warnings) item("warning", w);
    for (const auto& a : s.anomalies) item("a loader would refuse", a);
    if (!s.stopped.empty()) item("read stopped early; everything before it is shown", s.stopped);
    raw("</ul></section>");
  }

  void item(std::string_view what, std::string_view msg) {
    raw("<li><b>");
    text(what);
    raw(":</b> ");
    text(msg);
    raw("</li>");
  }

  void diff_section(const ReportStream& a, const ReportStream& b, const StreamDiff& d) {
    raw("<section id=\"diff\"><h2>Differences</h2><p>");
    text(a.name);
    raw(" (A) against ");
    text(b.name);
    f(" (B): <b>{}</b></p>",
      d.count ? fmt::format("{} difference{}", d.count, d.count == 1 ? "" : "s")
              : std::string("no differences"));
    std::vector<const SectionDiff*> only_a, only_b, not_compared;
    for (const auto& s : d.sections) {
      if (s.kind == SectionDiff::Kind::only_in_a) only_a.push_back(&s);
      if (s.kind == SectionDiff::Kind::only_in_b) only_b.push_back(&s);
      if (s.kind == SectionDiff::Kind::not_compared) not_compared.push_back(&s);
    }
    auto list = [&](const char* title, const std::vector<const SectionDiff*>& v) {
      if (v.empty()) return;
      f("<h3>{}</h3><p>", title);
      for (std::size_t i = 0; i < v.size(); ++i) {
        raw(i ? ", <code>" : "<code>");
        text(v[i]->section);
        raw("</code>");
      }
      raw("</p>");
    };
    list("Only in A", only_a);
    list("Only in B", only_b);
    list("Not compared (no schema explained one side; give --schema)", not_compared);
    std::size_t rows = 0, total = 0;
    for (const auto& s : d.sections) total += s.differences.size();
    if (total) {
      raw("<h3>Fields</h3><input type=\"search\" placeholder=\"filter differences\" data-filter=\"diff-table\"> ");
      f("<span class=\"muted\" id=\"diff-table-count\">{} shown</span>", std::min(total, kDiffRows));
      raw("<div class=\"scroll\"><table class=\"sortable\" id=\"diff-table\"><thead><tr><th>section</th>"
          "<th>field</th><th>A</th><th>B</th></tr></thead><tbody>");
      for (const auto& s : d.sections)
        for (const auto& x : s.differences) {
          if (rows++ >= kDiffRows) break;
          raw("<tr><td><code>");
          text(s.section);
          raw("</code></td><td><code>");
          text(x.path);
          raw("</code></td>");
          if (x.left && x.right) {
            raw("<td class=\"mono\">");
            text(value_text(*x.left));
            raw("</td><td class=\"mono\">");
            text(value_text(*x.right));
            raw("</td>");
          } else {
            raw("<td colspan=\"2\">");
            text(x.what);
            raw("</td>");
          }
          raw("</tr>");
        }
      raw("</tbody></table></div>");
      if (total > kDiffRows)
        f("<p class=\"muted\">{} more differences not shown (statewire diff lists them all).</p>",
          total - kDiffRows);
    }
    if (!d.ram_compared) {
      raw("<p class=\"muted\">RAM not compared.</p>");
    } else if (d.ram.empty()) {
      raw("<h3>RAM</h3><p>Every page is the same.</p>");
    } else {
      raw("<h3>RAM: differing pages</h3>");
      for (const auto& [block, ranges] : d.ram) {
        std::uint64_t pages = 0;
        for (const auto& r : ranges) pages += r.pages;
        raw("<p><code>");
        text(block);
        f("</code>: {} page{} in {} range{}</p><p class=\"mono\">", pages, pages == 1 ? "" : "s",
          ranges.size(), ranges.size() == 1 ? "" : "s");
        for (std::size_t i = 0; i < ranges.size() && i < kRangesListed; ++i)
          f("{}{:#x}-{:#x}", i ? " · " : "", ranges[i].start, ranges[i].end - 1);
        if (ranges.size() > kRangesListed) f(" … {} more", ranges.size() - kRangesListed);
        raw("</p>");
      }
    }
    raw("</section>");
  }
};

}  // namespace

std::string html_escape(std::string_view s) {
  const std::string p = printable(s);
  std::string out;
  out.reserve(p.size());
  for (char c : p) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_report_html(const ReportStream& a, const ReportStream* b, const StreamDiff* diff) {
  Html h;
  h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        // Nothing may be fetched: no network, no other files.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        "<title>statewire report: ");
  h.text(a.name);
  if (b) {
    h.raw(" vs ");
    h.text(b->name);
  }
  h.raw("</title><script>");
  h.raw(kReportErrorHook);
  h.raw("</script><style>");
  h.raw(kReportStyle);
  h.raw("</style></head><body><header><h1>statewire report</h1><p>");
  h.text(a.name);
  if (b) {
    h.raw(" &nbsp;vs&nbsp; ");
    h.text(b->name);
  }
  h.raw("</p></header><main><pre id=\"sw-errors\" hidden></pre>");

  h.problems(a);
  if (b) h.problems(*b);

  h.raw("<section><h2>Streams</h2><div class=\"cols\"><div>");
  if (b) h.raw("<h3>A</h3>");
  h.facts(a);
  h.split_bar(a);
  h.raw("</div>");
  if (b) {
    h.raw("<div><h3>B</h3>");
    h.facts(*b);
    h.split_bar(*b);
    h.raw("</div>");
  }
  h.raw("</div></section>");

  if (b && diff) h.diff_section(a, *b, *diff);

  h.raw("<section><h2>Device state by size</h2>");
  h.device_chart(a, b);
  h.raw("</section>");

  h.raw("<section><h2>RAM map</h2>");
  if (b) h.raw("<h3>A</h3>");
  h.ram_map(a);
  if (b) {
    h.raw("<h3>B</h3>");
    h.ram_map(*b);
  }
  h.raw("</section>");

  h.raw("<section><h2>Sections</h2>");
  if (b) h.raw("<h3>A</h3>");
  h.section_table(a, "sections-a");
  if (b) {
    h.raw("<h3>B</h3>");
    h.section_table(*b, "sections-b");
  }
  h.raw("</section>");

  h.raw("<footer class=\"muted\" id=\"sw-status\">rendering…</footer></main><script>");
  h.raw(kReportScript);
  h.raw("</script></body></html>\n");
  return std::move(h.out);
}

}  // namespace statewire::cli
