// `rcptwatch state show|export|forget`: reads (or, for forget, edits) the correspondent store
// a sensor running with --learn keeps in --state-dir. Nothing here runs on the packet path.
#include "app/state_command.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "alert/json_writer.h"
#include "learn/correspondent_store.h"
#include "learn/learner.h"

namespace po = boost::program_options;

namespace rcptwatch::app {
namespace {

constexpr const char* kStateUsage =
    "Usage: rcptwatch state show [--state-dir DIR | -c FILE]    table of the learned domains\n"
    "       rcptwatch state export [--state-dir DIR | -c FILE]  the same as JSON lines\n"
    "       rcptwatch state forget DOMAIN... [--state-dir DIR | -c FILE]\n"
    "\n"
    "-c FILE reads state-dir from the sensor's INI config file (the same file as\n"
    "'rcptwatch -c FILE'; its other options are ignored here); --state-dir wins over it.\n"
    "\n"
    "What 'rcptwatch --learn' learned: every recipient domain with its message count, distinct\n"
    "senders, first and last seen (packet time), and whether it is an established\n"
    "correspondent (protected). 'forget' deletes domains, e.g. a lookalike that was learned;\n"
    "a running sensor drops them from its learned rules at its next flush. DIR defaults to\n"
    "/var/lib/rcptwatch. Exit 0 ok; 1 forget: a domain was not in the store; 2 bad usage or an\n"
    "unusable store.\n";

struct Parsed {
  po::variables_map vm;
  bool ok = false;
  bool help = false;
};

Parsed parse(int argc, const char* const* argv, bool with_domains, std::ostream& err) {
  po::options_description opts;
  opts.add_options()("help,h", "")("state-dir", po::value<std::string>(), "")(
      "config,c", po::value<std::string>(), "");
  if (with_domains) opts.add_options()("domain", po::value<std::vector<std::string>>(), "");
  po::positional_options_description pos;
  if (with_domains) pos.add("domain", -1);
  Parsed p;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).positional(pos).run(), p.vm);
  } catch (const po::error& e) {
    err << "rcptwatch state: " << e.what() << "\n";
    return p;
  }
  if (p.vm.count("config")) {
    // Only state-dir matters here; the sensor's other options are not this command's to check.
    // Stored after the command line, so --state-dir wins.
    const std::string path = p.vm["config"].as<std::string>();
    std::ifstream file(path);
    if (!file) {
      err << "rcptwatch state: " << path << ": cannot read the config file: " << std::strerror(errno)
          << "\n";
      return p;
    }
    po::options_description from_file;
    from_file.add_options()("state-dir", po::value<std::string>(), "");
    try {
      po::store(po::parse_config_file(file, from_file, /*allow_unregistered=*/true), p.vm);
    } catch (const po::error& e) {
      err << "rcptwatch state: " << path << ": " << e.what() << "\n";
      return p;
    }
  }
  po::notify(p.vm);
  p.ok = true;
  p.help = p.vm.count("help") > 0;
  return p;
}

tl::expected<learn::CorrespondentStore, std::string> open_store(const po::variables_map& vm,
                                                                learn::CorrespondentStore::Access access) {
  const std::filesystem::path dir =
      vm.count("state-dir") ? std::filesystem::path(vm["state-dir"].as<std::string>()) : learn::LearnConfig{}.state_dir;
  return learn::CorrespondentStore::open(dir / learn::kStoreFileName, access);
}

std::string seconds(Timestamp ts) {
  std::string t = format_rfc3339(ts);  // "....:SS.uuuuuuZ": people read whole seconds
  const auto dot = t.find('.');
  return dot == std::string::npos ? t : t.substr(0, dot) + "Z";
}

void print_table(const std::vector<learn::CorrespondentRecord>& records, std::ostream& out) {
  std::size_t width = 6;
  for (const auto& r : records) width = std::max(width, r.domain.size());
  char line[512];
  std::snprintf(line, sizeof line, "%-*s %9s %8s  %-20s  %-20s  %s\n", static_cast<int>(width), "domain", "messages",
                "senders", "first_seen", "last_seen", "established");
  out << line;
  std::size_t established = 0;
  for (const auto& r : records) {
    established += r.established_at ? 1 : 0;
    std::snprintf(line, sizeof line, "%-*s %9llu %8llu  %-20s  %-20s  %s\n", static_cast<int>(width),
                  r.domain.c_str(), static_cast<unsigned long long>(r.messages),
                  static_cast<unsigned long long>(r.senders), seconds(r.first_seen).c_str(),
                  seconds(r.last_seen).c_str(), r.established_at ? "yes" : "no");
    out << line;
  }
  out << records.size() << " domains, " << established << " established\n";
}

void print_json_lines(const std::vector<learn::CorrespondentRecord>& records, std::ostream& out) {
  std::string buffer;
  for (const auto& r : records) {
    buffer.clear();
    alert::JsonWriter w(buffer);
    w.begin_object();
    w.field("domain", r.domain);
    w.field("messages", r.messages);
    w.field("senders", r.senders);
    w.field("first_seen", format_rfc3339(r.first_seen));
    w.field("last_seen", format_rfc3339(r.last_seen));
    w.field("established", r.established_at.has_value());
    w.key("established_at");
    if (r.established_at) {
      w.value(format_rfc3339(*r.established_at));
    } else {
      w.null();
    }
    w.end_object();
    out << buffer << "\n";
  }
}

int show_main(int argc, const char* const* argv, bool json, std::ostream& out, std::ostream& err) {
  const Parsed p = parse(argc, argv, false, err);
  if (!p.ok) return 2;
  if (p.help) {
    out << kStateUsage;
    return 0;
  }
  auto store = open_store(p.vm, learn::CorrespondentStore::Access::ReadOnly);
  if (!store) {
    err << "rcptwatch state: " << store.error() << "\n";
    return 2;
  }
  auto records = store->all();
  if (!records) {
    err << "rcptwatch state: " << records.error() << "\n";
    return 2;
  }
  json ? print_json_lines(*records, out) : print_table(*records, out);
  return 0;
}

int forget_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  const Parsed p = parse(argc, argv, true, err);
  if (!p.ok) return 2;
  if (p.help) {
    out << kStateUsage;
    return 0;
  }
  if (!p.vm.count("domain")) {
    err << "rcptwatch state forget: no domain given\n";
    return 2;
  }
  auto store = open_store(p.vm, learn::CorrespondentStore::Access::Existing);
  if (!store) {
    err << "rcptwatch state: " << store.error() << "\n";
    return 2;
  }
  int status = 0;
  for (const std::string& given : p.vm["domain"].as<std::vector<std::string>>()) {
    // Stored domains are normalised (lower case, A-labels); a name that is not one is looked
    // up as given.
    const std::string normalised = learn::learnable_domain(given);
    const std::string& domain = normalised.empty() ? given : normalised;
    auto forgotten = store->forget(domain);
    if (!forgotten) {
      err << "rcptwatch state: " << forgotten.error() << "\n";
      return 2;
    }
    if (*forgotten) {
      out << "forgot " << domain << "\n";
    } else {
      err << "rcptwatch state forget: " << domain << ": not in " << store->path() << "\n";
      status = 1;
    }
  }
  return status;
}

}  // namespace

int state_command_main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  if (argc < 2) {
    err << kStateUsage;
    return 2;
  }
  const std::string_view sub = argv[1];
  if (sub == "--help" || sub == "-h" || sub == "help") {
    out << kStateUsage;
    return 0;
  }
  if (sub == "show") return show_main(argc - 1, argv + 1, false, out, err);
  if (sub == "export") return show_main(argc - 1, argv + 1, true, out, err);
  if (sub == "forget") return forget_main(argc - 1, argv + 1, out, err);
  err << "rcptwatch state: unknown subcommand '" << sub << "'\n" << kStateUsage;
  return 2;
}

int state_command_main(int argc, const char* const* argv) {
  return state_command_main(argc, argv, std::cout, std::cerr);
}

}  // namespace rcptwatch::app
