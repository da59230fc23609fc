// Parsing and printing channel addresses ("tcp:HOST:PORT", "unix:PATH", ...).
#include <fmt/format.h>

#include <charconv>

#include "statewire/channel.hpp"

namespace statewire {
namespace {

constexpr std::string_view kForms =
    "expected tcp:HOST:PORT, unix:PATH, fd:N, file:PATH or - (standard input/output)";

Result<Endpoint> bad(std::string_view text, std::string_view why) {
  return fail(Errc::invalid_value, fmt::format("address '{}': {}; {}", text, why, kForms));
}

template <class Int>
bool parse_number(std::string_view digits, Int& out) {
  if (digits.empty()) return false;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
  return ec == std::errc{} && end == digits.data() + digits.size();
}

Result<Endpoint> parse_tcp(std::string_view text, std::string_view rest) {
  Endpoint e;
  e.kind = Endpoint::Kind::tcp;
  std::string_view port;
  if (rest.starts_with('[')) {  // [v6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return bad(text, "an IPv6 host is written [ADDRESS]:PORT");
    e.host = std::string(rest.substr(1, close - 1));
    port = rest.substr(close + 2);
  } else {
    const auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad(text, "no port");
    e.host = std::string(rest.substr(0, colon));
    if (e.host.find(':') != std::string::npos)
      return bad(text, "an IPv6 host is written [ADDRESS]:PORT");
    port = rest.substr(colon + 1);
  }
  if (!parse_number(port, e.port)) return bad(text, fmt::format("port '{}' is not 0..65535", port));
  return e;
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text) {
  if (text == "-" || text == "stdio") return Endpoint{};
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return bad(text, "no kind");
  const std::string_view kind = text.substr(0, colon);
  const std::string_view rest = text.substr(colon + 1);
  if (kind == "tcp") return parse_tcp(text, rest);
  Endpoint e;
  if (kind == "unix" || kind == "file") {
    if (rest.empty()) return bad(text, "no path");
    if (rest.find('\0') != std::string_view::npos) return bad(text, "a path with a NUL byte");
    e.kind = kind == "unix" ? Endpoint::Kind::unix_socket : Endpoint::Kind::file;
    e.path = std::string(rest);
    return e;
  }
  if (kind == "fd") {
    e.kind = Endpoint::Kind::fd;
    if (!parse_number(rest, e.fd) || e.fd < 0)
      return bad(text, fmt::format("'{}' is not a file descriptor number", rest));
    return e;
  }
  return bad(text, fmt::format("unknown kind '{}'", kind));
}

std::string Endpoint::to_string() const {
  switch (kind) {
    case Kind::tcp:
      return host.find(':') != std::string::npos ? fmt::format("tcp:[{}]:{}", host, port)
                                                 : fmt::format("tcp:{}:{}", host, port);
    case Kind::unix_socket: return "unix:" + path;
    case Kind::fd: return fmt::format("fd:{}", fd);
    case Kind::file: return "file:" + path;
    case Kind::stdio: return "-";
  }
  return "?";
}

}  // namespace statewire
