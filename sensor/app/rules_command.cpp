// `rcptwatch rules check|explain|variants`: load and validate rule files, say why a domain
// matches or not, and list the variants the typo models consider. Output is for people
// (explain --json for scripts); nothing here runs on the packet path.
#include "app/rules_command.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "app/sensor_main.h"
#include "detect/matcher.h"
#include "detect/rules.h"

namespace po = boost::program_options;

namespace rcptwatch::app {
namespace {

constexpr const char* kRulesUsage =
    "Usage: rcptwatch rules check FILE...\n"
    "       rcptwatch rules explain DOMAIN... [--rules FILE]... [--json]\n"
    "       rcptwatch rules variants DOMAIN [--technique NAME]\n"
    "\n"
    "Tools for writing rule packs (grammar: rules/README.md). 'rcptwatch rules SUBCOMMAND --help'\n"
    "describes each.\n";

using RuleSetPtr = std::shared_ptr<const detect::RuleSet>;

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

// Parses options after the subcommand; positional arguments go to `positional`.
struct Parsed {
  po::variables_map vm;
  bool ok = false;
};

Parsed parse(const po::options_description& opts, const char* positional_name, int argc, const char* const* argv,
             std::ostream& err) {
  Parsed p;
  po::positional_options_description pos;
  pos.add(positional_name, -1);
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), p.vm);
    po::notify(p.vm);
    p.ok = true;
  } catch (const po::error& e) {
    err << "rcptwatch rules: " << e.what() << "\n";
  }
  return p;
}

void print_errors(const std::vector<detect::LoadError>& errors, std::ostream& err) {
  for (const detect::LoadError& e : errors) err << e.to_string() << "\n";
}

int check_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  po::options_description opts("rcptwatch rules check FILE...\n\n"
                               "Loads the files as one rule set (in the order given, includes expanded) and\n"
                               "prints every error as file:line:column: reason. Exit 0 if valid, 2 if not");
  opts.add_options()("help,h", "this help")("file", po::value<std::vector<std::string>>(), "rule file");
  const Parsed p = parse(opts, "file", argc, argv, err);
  if (!p.ok) return 2;
  if (p.vm.count("help")) {
    out << opts << "\n";
    return 0;
  }
  if (!p.vm.count("file")) {
    err << "rcptwatch rules check: no rule file given\n";
    return 2;
  }
  auto rules = detect::load_rule_files(p.vm["file"].as<std::vector<std::string>>());
  if (!rules) {
    print_errors(rules.error(), err);
    return 2;
  }
  std::size_t protect = 0;
  std::size_t watch = 0;
  for (const detect::ProtectRule& r : (*rules)->rules()) (r.kind == detect::RuleKind::Watch ? watch : protect)++;
  out << "ok: " << protect << " protect, " << (*rules)->allows().size() << " allow, " << watch << " watch rules";
  if (!(*rules)->keywords().empty()) out << ", " << (*rules)->keywords().size() << " added combosquat keywords";
  out << "\n";
  return 0;
}

void print_match_json(std::ostream& out, const char* key, const detect::Match& m) {
  out << json_escape(key) << ":{\"technique\":" << json_escape(m.technique)
      << ",\"protected_domain\":" << json_escape(m.protected_domain) << ",\"distance\":" << m.distance;
  if (m.rule != nullptr) {
    out << ",\"rule_id\":" << m.rule->id << ",\"rule_source\":" << json_escape(m.rule->source)
        << ",\"severity\":" << json_escape(detect::to_string(m.rule->severity)) << ",\"msg\":" << json_escape(m.rule->msg);
  }
  out << "}";
}

void print_json(std::ostream& out, const detect::Explanation& x) {
  out << "{\"input\":" << json_escape(x.input) << ",\"verdict\":" << json_escape(detect::to_string(x.verdict))
      << ",\"reason\":" << json_escape(detect::to_string(x.reason));
  if (x.verdict != detect::Explanation::Verdict::Invalid) {
    out << ",\"ascii\":" << json_escape(x.ascii) << ",\"unicode\":" << json_escape(x.unicode)
        << ",\"malformed_idn\":" << (x.malformed_idn ? "true" : "false")
        << ",\"registrable_domain\":" << json_escape(x.registrable_domain)
        << ",\"public_suffix\":" << json_escape(x.public_suffix);
  }
  if (x.match) {
    out << ",";
    print_match_json(out, "match", *x.match);
  }
  if (x.reason == detect::Explanation::Reason::Allowed) {
    out << ",\"allow_rule\":" << json_escape(x.allow_rule) << ",\"allow_source\":" << json_escape(x.allow_source);
    if (x.suppressed) {
      out << ",";
      print_match_json(out, "suppressed", *x.suppressed);
    }
  }
  if (!x.owner.empty()) out << ",\"protected_owner\":" << json_escape(x.owner);
  if (!x.error.empty()) out << ",\"error\":" << json_escape(x.error);
  out << ",\"summary\":" << json_escape(x.summary()) << "}\n";
}

void print_text(std::ostream& out, const detect::Explanation& x) {
  out << x.input << ": " << (x.verdict == detect::Explanation::Verdict::Match ? "MATCH" : "no match");
  if (x.verdict == detect::Explanation::Verdict::Invalid) out << " (invalid)";
  out << "\n";
  if (x.verdict != detect::Explanation::Verdict::Invalid) {
    out << "  normalised: " << x.ascii;
    if (x.unicode != x.ascii) out << " (" << x.unicode << ")";
    if (x.malformed_idn) out << " [malformed IDN]";
    out << "\n";
    if (!x.registrable_domain.empty()) {
      out << "  registrable domain: " << x.registrable_domain << ", public suffix: " << x.public_suffix << "\n";
    }
  }
  out << "  why: " << x.summary() << "\n";
}

RuleSetPtr load_or_default(const po::variables_map& vm, std::ostream& err) {
  auto rules = vm.count("rules") ? detect::load_rule_files(vm["rules"].as<std::vector<std::string>>())
                                 : detect::parse_rules(kDefaultRulesText, "<built-in default.rules>");
  if (!rules) {
    print_errors(rules.error(), err);
    return nullptr;
  }
  return *rules;
}

int explain_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  po::options_description opts("rcptwatch rules explain DOMAIN... [--rules FILE]... [--json]\n\n"
                               "Says for each domain whether it matches and why: technique, protected domain,\n"
                               "distance and rule (id, file:line), or the allow rule that suppressed it, or the\n"
                               "protected domain it is at or under. Without --rules, the built-in default rules.\n"
                               "Exit 0 if no domain matched, 1 if any matched, 2 on bad usage or rules");
  opts.add_options()("help,h", "this help")("rules", po::value<std::vector<std::string>>(), "rule file (repeatable)")(
      "json", "one JSON object per line")("domain", po::value<std::vector<std::string>>(), "domain");
  const Parsed p = parse(opts, "domain", argc, argv, err);
  if (!p.ok) return 2;
  if (p.vm.count("help")) {
    out << opts << "\n";
    return 0;
  }
  if (!p.vm.count("domain")) {
    err << "rcptwatch rules explain: no domain given\n";
    return 2;
  }
  const RuleSetPtr rules = load_or_default(p.vm, err);
  if (!rules) return 2;
  const detect::Matcher matcher(rules);
  bool any = false;
  for (const std::string& d : p.vm["domain"].as<std::vector<std::string>>()) {
    const detect::Explanation x = matcher.explain(d);
    any = any || x.verdict == detect::Explanation::Verdict::Match;
    if (p.vm.count("json")) {
      print_json(out, x);
    } else {
      print_text(out, x);
    }
  }
  return any ? 1 : 0;
}

int variants_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  po::options_description opts("rcptwatch rules variants DOMAIN [--technique NAME]\n\n"
                               "Prints the variants the typo models consider for a protected domain, one\n"
                               "'variant<TAB>technique' per line (A-labels). Every one of them is matched by\n"
                               "'protect DOMAIN'. A TLD (mil) gets 'example.SUFFIX' for real suffixes one edit away");
  std::string techniques_help = "only this technique:";
  for (const std::string_view t : detect::variant_techniques()) {
    techniques_help += ' ';  // appended piecewise: GCC 12 -O3 warns falsely on " " + string
    techniques_help += t;
  }
  opts.add_options()("help,h", "this help")("technique", po::value<std::string>(), techniques_help.c_str())(
      "domain", po::value<std::vector<std::string>>(), "protected domain");
  const Parsed p = parse(opts, "domain", argc, argv, err);
  if (!p.ok) return 2;
  if (p.vm.count("help")) {
    out << opts << "\n";
    return 0;
  }
  if (!p.vm.count("domain") || p.vm["domain"].as<std::vector<std::string>>().size() != 1) {
    err << "rcptwatch rules variants: give exactly one domain\n";
    return 2;
  }
  const std::string domain = p.vm["domain"].as<std::vector<std::string>>().front();
  std::string technique;
  if (p.vm.count("technique")) {
    technique = p.vm["technique"].as<std::string>();
    const auto names = detect::variant_techniques();
    if (std::find(names.begin(), names.end(), technique) == names.end()) {
      err << "rcptwatch rules variants: unknown technique '" << technique << "'\n";
      return 2;
    }
  }
  auto checked = detect::parse_rules("protect " + domain + "\n", "<command line>");
  if (!checked) {
    print_errors(checked.error(), err);
    return 2;
  }
  const detect::Matcher matcher(*checked);
  for (const detect::Variant& v : matcher.variants(domain, technique)) out << v.domain << "\t" << v.technique << "\n";
  return 0;
}

}  // namespace

int rules_command_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  if (argc < 2) {
    err << kRulesUsage;
    return 2;
  }
  const std::string_view sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << kRulesUsage;
    return 0;
  }
  // The subcommand's own options start after its name.
  if (sub == "check") return check_main(argc - 1, argv + 1, out, err);
  if (sub == "explain") return explain_main(argc - 1, argv + 1, out, err);
  if (sub == "variants") return variants_main(argc - 1, argv + 1, out, err);
  err << "rcptwatch rules: unknown subcommand '" << sub << "'\n" << kRulesUsage;
  return 2;
}

int rules_command_main(int argc, const char* const* argv) {
  return rules_command_main(argc, argv, std::cout, std::cerr);
}

}  // namespace rcptwatch::app
