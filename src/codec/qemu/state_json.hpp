// analyze-migration.py's state JSON, the part of `statewire analyze` that prints
// each device section as QEMU's script does: PyJsonWriter writes JSON as Python's
// json module does, and the section renderers (state_json.cpp) fill it from a
// decoded Struct, guided by the section's trailer entry where there is one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "codec/qemu/trailer.hpp"
#include "statewire/qemu_analyze.hpp"
#include "statewire/value.hpp"

namespace statewire::qemu::detail {

// Writes JSON the way Python's json module does with indent=N and
// separators (',', ': '), ensure_ascii: analyze-migration.py's output format.
class PyJsonWriter {
 public:
  PyJsonWriter(std::string& out, int indent) : out_(out), indent_(indent) {}
  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_list() { open('['); }
  void end_list() { close(']'); }
  void key(std::string_view k) {
    item();
    string(k);
    out_ += ": ";
  }
  void elem() { item(); }
  void string(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out_ += '"';
    for (unsigned char c : s) {
      switch (c) {
        case '"': out_ += "\\\""; break;
        case '\\': out_ += "\\\\"; break;
        case '\n': out_ += "\\n"; break;
        case '\r': out_ += "\\r"; break;
        case '\t': out_ += "\\t"; break;
        case '\b': out_ += "\\b"; break;
        case '\f': out_ += "\\f"; break;
        default:
          if (c < 0x20 || c >= 0x80) {
            out_ += "\\u00";
            out_ += hex[c >> 4];
            out_ += hex[c & 15];
          } else {
            out_ += static_cast<char>(c);
          }
      }
    }
    out_ += '"';
  }
  void boolean(bool b) { out_ += b ? "true" : "false"; }
  void null() { out_ += "null"; }
  // A value already known to need no escaping (hex text).
  void plain_string(std::string_view s) {
    out_ += '"';
    out_ += s;
    out_ += '"';
  }
  std::string& out() { return out_; }
  // To undo a partly written value.
  struct Mark {
    std::size_t size;
    std::vector<bool> first;
  };
  Mark mark() const { return {out_.size(), first_}; }
  void reset(const Mark& m) {
    out_.resize(m.size);
    first_ = m.first;
  }

 private:
  void open(char c) {
    out_ += c;
    first_.push_back(true);
  }
  void close(char c) {
    const bool empty = first_.back();
    first_.pop_back();
    if (!empty) newline();
    out_ += c;
  }
  void item() {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
    newline();
  }
  void newline() {
    out_ += '\n';
    out_.append(static_cast<std::size_t>(indent_) * first_.size(), ' ');
  }
  std::string& out_;
  int indent_;
  std::vector<bool> first_;
};

// Rendering from the tree alone (no trailer entry). Member names may repeat
// in a tree (several `unused` fields); like QEMU's own trailer, such names
// get "[k]" suffixes, so no object ever holds one key twice.
void generic_struct(PyJsonWriter& w, const Struct& s);

// Rendering guided by the section's trailer entry `desc`, as the chosen
// script would print it; false if the entry does not fit the tree (the
// caller then renders from the tree alone).
bool trailer_struct(PyJsonWriter& w, const Json& desc, const Struct& s, StateLayout layout);

}  // namespace statewire::qemu::detail
