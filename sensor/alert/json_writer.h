// A minimal streaming JSON writer for our event lines: correct string escaping (control
// characters, quotes, invalid UTF-8 replaced by U+FFFD) without a DOM or allocations per field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rcptwatch::alert {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  void key(std::string_view k);

  void value(std::string_view s);
  void value(const char* s) { value(std::string_view(s)); }
  void value(std::uint64_t v);
  void value(std::int64_t v);
  void value(std::uint32_t v) { value(static_cast<std::uint64_t>(v)); }
  void value(int v) { value(static_cast<std::int64_t>(v)); }
  void value(bool v);
  void null();
  void value(std::optional<int> v) { v ? value(*v) : null(); }

  template <typename T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }

 private:
  void separator();
  std::string& out_;
  bool need_comma_ = false;
};

// Appends `s` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view s);

}  // namespace rcptwatch::alert
