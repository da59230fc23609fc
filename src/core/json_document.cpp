#include "core/json_document.hpp"

#include <fmt/format.h>

namespace statewire::detail {

TextPosition position_of(std::string_view text, std::uint64_t offset) noexcept {
  TextPosition p;
  const std::uint64_t end = offset < text.size() ? offset : text.size();
  for (std::uint64_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

Result<void> check_json_nesting(std::string_view text, std::size_t max_depth,
                                std::string_view what) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth) {
          const TextPosition p = position_of(text, i);
          Error e = make_error(Errc::limit_exceeded,
                               fmt::format("{}: line {}, column {}: nested deeper than {} levels",
                                           what, p.line, p.column, max_depth));
          e.offset = i;
          return fail(std::move(e));
        }
        break;
      case ']':
      case '}':
        if (depth) --depth;  // unbalanced text is the parser's to report
        break;
      default: break;
    }
  }
  return {};
}

Error json_syntax_error(std::string_view text, std::uint64_t offset, std::string_view reason,
                        std::string_view what) {
  // nlohmann's message starts "[json.exception.parse_error.101] parse error at
  // line 1, column 2: "; keep only the reason after it.
  std::string_view r = reason;
  if (auto p = r.find("]"); p != std::string_view::npos && r.starts_with("[json.exception")) {
    r.remove_prefix(p + 1);
    if (auto colon = r.find(": "); colon != std::string_view::npos) r.remove_prefix(colon + 2);
  }
  while (!r.empty() && r.front() == ' ') r.remove_prefix(1);
  const TextPosition p = position_of(text, offset);
  Error e = make_error(Errc::invalid_value, fmt::format("{}: not valid JSON at line {}, column {}: {}",
                                                        what, p.line, p.column, r));
  e.offset = offset;
  return e;
}

}  // namespace statewire::detail
