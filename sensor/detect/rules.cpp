// Rule file loader (grammar: rules/README.md). Collects every error of every file before
// deciding, so an operator fixes a broken rule pack in one pass and a bad pack never half-loads.
#include "detect/rules.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_map>

#include "detect/domain_name.h"

namespace rcptwatch::detect {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxDistance3Length = 40;

// tld-swap and combosquat come last: they are tried only when nothing else matched (matcher.cpp).
constexpr std::array<std::string_view, 31> kTechniques = {
    "watch-list",        "homoglyph-unicode", "homoglyph",       "appended-tld",
    "missing-dot",       "dot-to-hyphen",     "subdomain",       "hyphenation",
    "repetition",        "transposition",     "keyboard",        "vowel-swap",
    "bitsquatting",      "omission",          "insertion",       "replacement",
    "tld-label-omission", "tld-homoglyph",    "tld-repetition",  "tld-transposition",
    "tld-keyboard",      "tld-vowel-swap",    "tld-bitsquatting", "tld-omission",
    "tld-insertion",     "tld-replacement",   "multi-edit",      "malformed-idn",
    "tld-multi-edit",    "tld-swap",          "combosquat",
};

// dnstwist's dictionary words (login mail secure support account portal webmail) and what
// phishing and misdirected mail commonly pair with a name: sign-in, mail access, help desks,
// payment, HR. Short words that end or start ordinary English words ("it": unit, audit) are
// left out; "my" and "hr" stay, since myarmy or hrnato read as the organisation's own.
constexpr std::array<std::string_view, 36> kKeywords = {
    "account", "accounts", "admin",    "auth",    "billing", "cloud",   "docs",     "email",  "exchange",
    "help",    "helpdesk", "hr",       "inbox",   "login",   "logon",   "mail",     "my",     "office",
    "online",  "owa",      "password", "pay",     "payroll", "portal",  "remote",   "secure", "security",
    "service", "signin",   "sso",      "support", "update",  "verify",  "vpn",      "web",    "webmail",
};

struct Token {
  std::string text;  // quotes removed, escapes resolved
  std::uint32_t column = 0;
  bool quoted = false;
};

struct Loader {
  std::vector<ProtectRule> rules;
  std::vector<AllowRule> allows;
  std::vector<std::string> keywords;
  std::vector<LoadError> errors;
  std::map<std::uint32_t, std::string> id_sources;
  std::vector<fs::path> include_stack;  // canonical paths of files being read

  void error(const std::string& file, std::uint32_t line, std::uint32_t col, std::string why) {
    errors.push_back(LoadError{file, line, col, std::move(why)});
  }

  void load_file(const fs::path& path, const std::string& shown, const std::string& from_file,
                 std::uint32_t from_line, std::uint32_t from_col);
  void load_text(std::string_view text, const std::string& name, const fs::path& dir);
  void parse_line(std::string_view line, const std::string& file, std::uint32_t lineno,
                  const fs::path& dir);
  void parse_keywords(const std::vector<Token>& tokens, const std::string& file, std::uint32_t lineno);
};

// Splits a line into tokens; a '"' starts a quoted run (inside a token, as in msg="a b").
// Returns false (with the error recorded) on an unterminated quote.
bool tokenize(std::string_view line, std::vector<Token>& out, std::uint32_t& bad_column) {
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    if (i >= line.size() || line[i] == '#') return true;
    Token t;
    t.column = static_cast<std::uint32_t>(i + 1);
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
      if (line[i] == '"') {
        const std::size_t open = i++;
        bool closed = false;
        while (i < line.size()) {
          if (line[i] == '\\' && i + 1 < line.size()) {
            t.text.push_back(line[i + 1]);
            i += 2;
            continue;
          }
          if (line[i] == '"') {
            closed = true;
            ++i;
            break;
          }
          t.text.push_back(line[i++]);
        }
        if (!closed) {
          bad_column = static_cast<std::uint32_t>(open + 1);
          return false;
        }
        t.quoted = true;
        continue;
      }
      t.text.push_back(line[i++]);
    }
    out.push_back(std::move(t));
  }
  return true;
}

std::optional<Severity> parse_severity(std::string_view s) {
  if (s == "low") return Severity::Low;
  if (s == "medium") return Severity::Medium;
  if (s == "high") return Severity::High;
  if (s == "critical") return Severity::Critical;
  return std::nullopt;
}

std::optional<std::uint32_t> parse_uint(std::string_view s) {
  if (s.empty() || s.size() > 9) return std::nullopt;
  std::uint32_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::uint32_t default_distance(std::string_view domain) {
  std::size_t longest = 0;
  for (const std::string_view l : split_labels(domain)) longest = std::max(longest, l.size());
  return longest >= 9 ? 2 : 1;
}

void Loader::parse_line(std::string_view line, const std::string& file, std::uint32_t lineno,
                        const fs::path& dir) {
  std::vector<Token> tokens;
  std::uint32_t bad_col = 0;
  if (!tokenize(line, tokens, bad_col)) {
    error(file, lineno, bad_col, "unterminated quote");
    return;
  }
  if (tokens.empty()) return;
  const Token& kw = tokens[0];
  const std::string& k = kw.text;
  if (kw.quoted || (k != "protect" && k != "allow" && k != "watch" && k != "include" && k != "keywords")) {
    error(file, lineno, kw.column, "unknown keyword '" + k + "'");
    return;
  }
  if (tokens.size() < 2) {
    const std::string what = k == "include" ? "path" : k == "keywords" ? "word" : "domain";
    error(file, lineno, static_cast<std::uint32_t>(line.size() + 1), "missing " + what + " after '" + k + "'");
    return;
  }
  if (k == "keywords") {
    parse_keywords(tokens, file, lineno);
    return;
  }
  const Token& arg = tokens[1];

  if (k == "include") {
    if (tokens.size() > 2) {
      error(file, lineno, tokens[2].column, "bad option: 'include' takes no options");
      return;
    }
    fs::path p(arg.text);
    if (p.is_relative()) p = dir / p;
    load_file(p, p.lexically_normal().string(), file, lineno, arg.column);
    return;
  }

  // Domain: allow and watch take "*.suffix"; protect takes a plain domain or a TLD.
  std::string_view dom = arg.text;
  bool wildcard = false;
  if (k != "protect" && dom.starts_with("*.")) {
    wildcard = true;
    dom.remove_prefix(2);
  }
  auto norm = normalise_domain(dom);
  std::string bad_domain;
  if (!norm) {
    bad_domain = std::string(to_string(norm.error()));
  } else if (norm->malformed_idn) {
    bad_domain = "malformed xn-- label";
  }
  if (!bad_domain.empty()) {
    error(file, lineno, arg.column, "bad domain '" + arg.text + "': " + bad_domain);
    return;
  }

  const std::string source = file + ":" + std::to_string(lineno);
  if (k == "allow") {
    if (tokens.size() > 2) {
      error(file, lineno, tokens[2].column, "bad option: 'allow' takes no options");
      return;
    }
    allows.push_back(AllowRule{norm->ascii, wildcard, source});
    return;
  }

  ProtectRule rule;
  rule.domain = norm->ascii;
  rule.kind = (k == "protect") ? RuleKind::Protect : RuleKind::Watch;
  rule.wildcard = wildcard;
  rule.source = source;
  rule.max_distance = default_distance(rule.domain);
  std::optional<std::uint32_t> id;
  std::uint32_t id_column = 0;
  std::vector<std::string> seen;
  bool line_ok = true;
  for (std::size_t t = 2; t < tokens.size(); ++t) {
    const Token& opt = tokens[t];
    const std::size_t eq = opt.text.find('=');
    if (eq == std::string::npos || eq == 0) {
      error(file, lineno, opt.column, "bad option: expected key=value, got '" + opt.text + "'");
      line_ok = false;
      continue;
    }
    const std::string key = opt.text.substr(0, eq);
    const std::string value = opt.text.substr(eq + 1);
    auto bad = [&](const std::string& why) {
      error(file, lineno, opt.column, "bad option: " + why);
      line_ok = false;
    };
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      bad("'" + key + "' given twice");
      continue;
    }
    seen.push_back(key);
    if (key == "id") {
      const auto v = parse_uint(value);
      if (!v || *v == 0 || *v >= kAutoIdBase) {
        bad("id must be an integer from 1 to " + std::to_string(kAutoIdBase - 1));
        continue;
      }
      id = *v;
      id_column = opt.column;
    } else if (key == "severity") {
      const auto s = parse_severity(value);
      if (!s) {
        bad("severity must be low, medium, high or critical");
        continue;
      }
      rule.severity = *s;
    } else if (key == "msg") {
      rule.msg = value;
    } else if (key == "distance" || key == "techniques" || key == "except") {
      if (rule.kind != RuleKind::Protect) {
        bad("'" + key + "' is only valid for protect");
        continue;
      }
      if (key == "distance") {
        const auto v = parse_uint(value);
        if (!v || *v > kMaxRuleDistance) {
          bad("distance must be an integer from 0 to " + std::to_string(kMaxRuleDistance));
          continue;
        }
        // The deletion index holds about length^distance / distance! strings per rule.
        if (*v == kMaxRuleDistance && rule.domain.size() > kMaxDistance3Length) {
          bad("distance=3 needs a domain of at most " + std::to_string(kMaxDistance3Length) + " characters");
          continue;
        }
        rule.max_distance = *v;
      } else {
        std::vector<std::string> names;
        bool names_ok = !value.empty();
        std::size_t start = 0;
        while (names_ok && start <= value.size()) {
          const std::size_t comma = std::min(value.find(',', start), value.size());
          const std::string name = value.substr(start, comma - start);
          if (!is_technique_name(name) || name == "watch-list") {
            bad("unknown technique '" + name + "'");
            names_ok = false;
            break;
          }
          names.push_back(name);
          start = comma + 1;
        }
        if (value.empty()) bad(key + " needs at least one name");
        if (names_ok) (key == "techniques" ? rule.techniques : rule.except_techniques) = std::move(names);
      }
    } else {
      bad("unknown option '" + key + "'");
    }
  }
  if (!line_ok) return;
  if (id) {
    const auto [it, inserted] = id_sources.emplace(*id, source);
    if (!inserted) {
      error(file, lineno, id_column,
            "duplicate id " + std::to_string(*id) + " (first used at " + it->second + ")");
      return;
    }
    rule.id = *id;
  }
  rules.push_back(std::move(rule));
}

// A keyword is matched against a whole label's start or end, so it must be able to stand in one.
void Loader::parse_keywords(const std::vector<Token>& tokens, const std::string& file, std::uint32_t lineno) {
  for (std::size_t t = 1; t < tokens.size(); ++t) {
    const Token& tok = tokens[t];
    if (tok.text.find('=') != std::string::npos) {
      error(file, lineno, tok.column, "bad option: 'keywords' takes no options");
      continue;
    }
    std::string word = tok.text;
    std::transform(word.begin(), word.end(), word.begin(),
                   [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    const bool ldh = std::all_of(word.begin(), word.end(),
                                 [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
    std::string bad;
    if (word.empty() || !ldh) {
      bad = "only letters, digits and hyphens";
    } else if (word.front() == '-' || word.back() == '-') {
      bad = "starts or ends with '-'";
    } else if (word.size() > kMaxKeywordLength) {
      bad = "longer than " + std::to_string(kMaxKeywordLength) + " characters";
    }
    if (!bad.empty()) {
      error(file, lineno, tok.column, "bad word '" + tok.text + "' in 'keywords': " + bad);
      continue;
    }
    if (std::find(keywords.begin(), keywords.end(), word) == keywords.end()) keywords.push_back(std::move(word));
  }
}

void Loader::load_text(std::string_view text, const std::string& name, const fs::path& dir) {
  std::uint32_t lineno = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t nl = std::min(text.find('\n', start), text.size());
    ++lineno;
    parse_line(text.substr(start, nl - start), name, lineno, dir);
    if (nl == text.size()) break;
    start = nl + 1;
  }
}

void Loader::load_file(const fs::path& path, const std::string& shown, const std::string& from_file,
                       std::uint32_t from_line, std::uint32_t from_col) {
  std::error_code ec;
  fs::path canon = fs::weakly_canonical(path, ec);
  if (ec) canon = path.lexically_normal();
  if (std::find(include_stack.begin(), include_stack.end(), canon) != include_stack.end()) {
    std::string chain;
    for (const auto& p : include_stack) chain += p.string() + " -> ";
    chain += canon.string();
    error(from_file, from_line, from_col, "include cycle: " + chain);
    return;
  }
  if (include_stack.size() >= kMaxIncludeDepth) {
    error(from_file, from_line, from_col,
          "includes nested deeper than " + std::to_string(kMaxIncludeDepth));
    return;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in || fs::is_directory(path, ec)) {
    const std::string why = in ? "is a directory" : std::strerror(errno);
    error(from_file.empty() ? shown : from_file, from_line, from_col,
          "cannot read '" + shown + "': " + why);
    return;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  include_stack.push_back(canon);
  load_text(buf.str(), shown, path.parent_path());
  include_stack.pop_back();
}

tl::expected<std::shared_ptr<const RuleSet>, std::vector<LoadError>> finish(Loader& loader) {
  if (!loader.errors.empty()) return tl::unexpected(std::move(loader.errors));
  std::uint32_t next_auto = kAutoIdBase;
  for (ProtectRule& r : loader.rules) {
    if (r.id == 0) r.id = ++next_auto;
  }
  return std::make_shared<const RuleSet>(std::move(loader.rules), std::move(loader.allows), std::move(loader.keywords));
}

}  // namespace

std::string_view to_string(Severity s) {
  switch (s) {
    case Severity::Low: return "low";
    case Severity::Medium: return "medium";
    case Severity::High: return "high";
    case Severity::Critical: return "critical";
  }
  return "unknown";
}

std::string LoadError::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + reason;
}

RuleSet::RuleSet(std::vector<ProtectRule> rules, std::vector<AllowRule> allows, std::vector<std::string> keywords)
    : rules_(std::move(rules)), allows_(std::move(allows)), keywords_(std::move(keywords)) {}

const ProtectRule* RuleSet::find(std::uint32_t id) const {
  for (const ProtectRule& r : rules_) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::span<const std::string_view> technique_names() { return kTechniques; }

bool is_technique_name(std::string_view name) {
  return std::find(kTechniques.begin(), kTechniques.end(), name) != kTechniques.end();
}

std::span<const std::string_view> builtin_keywords() { return kKeywords; }

tl::expected<std::shared_ptr<const RuleSet>, std::vector<LoadError>> load_rule_files(
    const std::vector<std::string>& paths) {
  Loader loader;
  for (const std::string& p : paths) loader.load_file(fs::path(p), p, std::string(), 0, 0);
  return finish(loader);
}

tl::expected<std::shared_ptr<const RuleSet>, std::vector<LoadError>> parse_rules(
    std::string_view text, std::string_view name) {
  Loader loader;
  const fs::path named(name);
  std::error_code ec;
  const fs::path canon = fs::weakly_canonical(named, ec);
  loader.include_stack.push_back(ec ? named.lexically_normal() : canon);
  loader.load_text(text, std::string(name), named.parent_path());
  return finish(loader);
}

}  // namespace rcptwatch::detect
