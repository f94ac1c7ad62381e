// Lookalike matcher figures: index build time, index memory, and lookups per second on one
// core, with 10 and with 100,000 protected domains (deterministic pseudo-random names).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "detect/matcher.h"
#include "detect/rules.h"

namespace {

using rcptwatch::detect::Matcher;
using rcptwatch::detect::parse_rules;
using rcptwatch::detect::RuleSet;

// Domain-like names: 2-4 syllables, sometimes a hyphen or digit, under common suffixes.
std::string random_name(std::mt19937_64& rng) {
  static const char* kSyl[] = {"ar", "my", "na", "to", "bo", "ing", "lock", "heed", "mar", "tin", "de", "fen",
                               "ce", "sta", "te", "gov", "sys", "tem", "tech", "net", "data", "ma", "il",
                               "ser", "vi", "ces", "ex", "am", "ple", "in", "ter", "co", "nor", "th", "rop"};
  std::uniform_int_distribution<int> syl(0, static_cast<int>(std::size(kSyl)) - 1);
  std::uniform_int_distribution<int> count(2, 5);
  std::uniform_int_distribution<int> pct(0, 99);
  std::string s;
  const int n = count(rng);
  for (int i = 0; i < n; ++i) {
    if (i > 0 && pct(rng) < 8) s.push_back('-');
    s += kSyl[syl(rng)];
  }
  if (pct(rng) < 10) s.push_back(static_cast<char>('0' + pct(rng) % 10));
  return s;
}

std::string random_domain(std::mt19937_64& rng) {
  static const char* kSuffix[] = {"com", "com", "com", "net", "org", "de", "fr", "co.uk", "gov.uk", "io", "eu", "int"};
  std::uniform_int_distribution<int> suf(0, static_cast<int>(std::size(kSuffix)) - 1);
  return random_name(rng) + "." + kSuffix[suf(rng)];
}

std::vector<std::string> protected_domains(std::size_t n) {
  std::mt19937_64 rng(42);
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) out.push_back(random_domain(rng));
  return out;
}

// `options`: appended to every protect line, e.g. " distance=1" (the default is 2 for a label
// of 9 characters or more, which is most of these names).
std::shared_ptr<const RuleSet> rules_for(const std::vector<std::string>& domains, const std::string& options = "") {
  std::string text = "protect mil\n";
  for (const std::string& d : domains) text += "protect " + d + options + "\n";
  auto r = parse_rules(text, "bench.rules");
  if (!r) {
    std::fprintf(stderr, "bench rules: %s\n", r.error().front().to_string().c_str());
    std::abort();
  }
  return *r;
}

long rss_kib() {
  std::ifstream in("/proc/self/statm");
  long pages = 0;
  long resident = 0;
  in >> pages >> resident;
  return resident * 4;
}

// Half hits (one typo of a protected domain), half misses (other names).
std::vector<std::string> queries(const std::vector<std::string>& domains) {
  std::mt19937_64 rng(7);
  std::vector<std::string> q;
  std::uniform_int_distribution<std::size_t> pick(0, domains.size() - 1);
  for (int i = 0; i < 4096; ++i) {
    if (i % 2 == 0) {
      std::string d = domains[pick(rng)];
      const std::size_t pos = std::uniform_int_distribution<std::size_t>(0, d.find('.') - 1)(rng);
      switch (i % 8) {
        case 0: d.erase(pos, 1); break;                       // omission
        case 2: d.insert(pos, 1, d[pos]); break;              // repetition
        case 4: d[pos] = d[pos] == 'o' ? '0' : 'x'; break;    // replacement / homoglyph
        default: d += ".com"; break;                          // appended-tld
      }
      if (d.front() == '.' || d.front() == '-') d = "a" + d;  // (insert(0, ...) trips GCC 12 -Wrestrict)
      q.push_back(d);
    } else {
      q.push_back(random_domain(rng) + (i % 6 == 1 ? "" : ""));
    }
  }
  q.push_back("army.ml");
  return q;
}

void BM_IndexBuild(benchmark::State& state) {
  const auto domains = protected_domains(static_cast<std::size_t>(state.range(0)));
  const auto rules = rules_for(domains);
  std::size_t bytes = 0;
  long rss = 0;
  for (auto _ : state) {
    const long before = rss_kib();
    Matcher m(rules);
    rss = rss_kib() - before;
    bytes = m.index_memory_bytes();
    benchmark::DoNotOptimize(m);
  }
  state.counters["index_MiB"] = static_cast<double>(bytes) / (1024.0 * 1024.0);
  state.counters["rss_delta_MiB"] = static_cast<double>(rss) / 1024.0;
}
BENCHMARK(BM_IndexBuild)->Arg(10)->Arg(100000)->Unit(benchmark::kMillisecond)->Iterations(1);

// Uncached lookups of `q` in turn, as lookups_per_s and hit_ratio.
void run_uncached(benchmark::State& state, const Matcher& m, const std::vector<std::string>& q) {
  std::size_t i = 0;
  std::size_t hits = 0;
  for (auto _ : state) {
    const auto r = m.match_uncached(q[i]);
    hits += r.has_value() ? 1 : 0;
    if (++i == q.size()) i = 0;
  }
  state.counters["lookups_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}

void BM_Lookup(benchmark::State& state) {
  const auto domains = protected_domains(static_cast<std::size_t>(state.range(0)));
  run_uncached(state, Matcher(rules_for(domains)), queries(domains));
}
BENCHMARK(BM_Lookup)->Arg(10)->Arg(100000)->Unit(benchmark::kNanosecond);

// The same with every rule at distance 1: what distance 2 costs (its deletion variants are
// about n^2/2 per lookup against n).
void BM_LookupDistance1(benchmark::State& state) {
  const auto domains = protected_domains(static_cast<std::size_t>(state.range(0)));
  run_uncached(state, Matcher(rules_for(domains, " distance=1")), queries(domains));
}
BENCHMARK(BM_LookupDistance1)->Arg(100000)->Unit(benchmark::kNanosecond);

// Real registrable domains, none of them a typo by construction: the names under the private
// section of Debian's public suffix list (about 2,000). Most recipient domains a sensor sees
// are such, so this is the common case, where the synthetic queries above are the dense one
// (their names are made of the same syllables as the protected set).
std::vector<std::string> real_domains() {
  std::ifstream in("/usr/share/publicsuffix/public_suffix_list.dat");
  std::vector<std::string> out;
  std::string line;
  bool in_private = false;
  while (std::getline(in, line)) {
    if (line.find("===BEGIN PRIVATE DOMAINS===") != std::string::npos) in_private = true;
    if (!in_private || line.empty() || line[0] == '/' || line[0] == '*' || line[0] == '!') continue;
    out.push_back(line);
  }
  if (out.empty()) {
    std::fprintf(stderr, "detect_bench: no domains in /usr/share/publicsuffix/public_suffix_list.dat\n");
    std::abort();
  }
  return out;
}

void BM_LookupRealDomains(benchmark::State& state) {
  const auto domains = protected_domains(static_cast<std::size_t>(state.range(0)));
  run_uncached(state, Matcher(rules_for(domains)), real_domains());
}
BENCHMARK(BM_LookupRealDomains)->Arg(10)->Arg(100000)->Unit(benchmark::kNanosecond);

void BM_LookupRealDomainsDistance1(benchmark::State& state) {
  const auto domains = protected_domains(static_cast<std::size_t>(state.range(0)));
  run_uncached(state, Matcher(rules_for(domains, " distance=1")), real_domains());
}
BENCHMARK(BM_LookupRealDomainsDistance1)->Arg(100000)->Unit(benchmark::kNanosecond);

// The same 4,097 distinct domains over and over, as recipient domains repeat in real mail:
// after the first pass every lookup is answered by the verdict cache.
void BM_LookupCached(benchmark::State& state) {
  const auto domains = protected_domains(static_cast<std::size_t>(state.range(0)));
  const Matcher m(rules_for(domains));
  const auto q = queries(domains);
  std::size_t i = 0;
  std::size_t hits = 0;
  for (auto _ : state) {
    const auto r = m.match(q[i]);
    hits += r.has_value() ? 1 : 0;
    if (++i == q.size()) i = 0;
  }
  state.counters["lookups_per_s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_LookupCached)->Arg(10)->Arg(100000)->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
