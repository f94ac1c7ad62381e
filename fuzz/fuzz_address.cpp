// libFuzzer entry point for the SMTP path grammar (parse_path_argument, find_esmtp_param):
// every view it returns must point inside the argument it was given, so consumers can keep
// using them as slices of the line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/parse.h"

namespace {

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rcptwatch::smtp;
  if (size < 1) return 0;
  // The first byte picks the keyword; the argument is a copy in its own allocation so ASan
  // sees any read past its end.
  static constexpr std::string_view kKeywords[] = {"TO", "FROM", "TO:", "FROM:"};
  const std::string_view keyword = kKeywords[data[0] & 3u];
  const std::string argument(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string_view arg = argument;

  const PathArgument p = parse_path_argument(keyword, arg);
  if (!inside(p.address, arg) || !inside(p.domain, arg) || !inside(p.params, arg)) __builtin_trap();
  if (p.ok() && !p.domain.empty() && !inside(p.domain, p.address)) __builtin_trap();
  if (p.null_path && !p.address.empty()) __builtin_trap();
  (void)to_string(p.error);
  for (std::string_view name : {"NOTIFY", "ORCPT", "SIZE", "BODY", "SMTPUTF8"}) {
    const auto v = find_esmtp_param(p.params, name);
    if (v && !inside(*v, p.params)) __builtin_trap();
  }
  (void)parse_command(arg);
  (void)parse_bdat(arg);
  (void)parse_reply_line(arg);
  (void)looks_like_auth_continuation(arg);
  return 0;
}
