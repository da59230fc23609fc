// Reading a JSON document from untrusted text: one helper for every reader
// (tree JSON, schema dumps, description trailers, capability answers,
// machine-type files).
//
// nlohmann's parser and our walkers over its DOM recurse, so the nesting is
// checked by a linear pre-scan before the parser sees the text (100,000
// nested brackets would overflow the stack). Syntax errors name the line and
// column. The parser throws internally; nothing escapes this header.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "statewire/limits.hpp"
#include "statewire/result.hpp"

namespace statewire::detail {

// 1-based line and column of a byte offset in `text`.
struct TextPosition {
  std::uint64_t line = 1;
  std::uint64_t column = 1;
};
TextPosition position_of(std::string_view text, std::uint64_t offset) noexcept;

// Fails with limit_exceeded (naming line and column) if brackets outside
// strings nest deeper than `max_depth`.
[[nodiscard]] Result<void> check_json_nesting(std::string_view text, std::size_t max_depth,
                                              std::string_view what);

// The error for a parse failure at byte `offset` with nlohmann's reason.
Error json_syntax_error(std::string_view text, std::uint64_t offset, std::string_view reason,
                        std::string_view what);

// Parses `text` as a JSON document; `what` names it in errors ("schema dump").
template <class Json>
[[nodiscard]] Result<Json> parse_json_document(std::string_view text, const Limits& limits,
                                               std::string_view what) {
  SW_CHECK(check_json_nesting(text, limits.max_json_depth, what));
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and may point one past the end.
    const std::uint64_t at = e.byte ? e.byte - 1 : 0;
    return fail(json_syntax_error(text, at, e.what(), what));
  } catch (const nlohmann::json::exception& e) {
    return fail(json_syntax_error(text, 0, e.what(), what));
  }
}

}  // namespace statewire::detail
