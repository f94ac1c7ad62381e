// Lookalike matcher. All the work that depends on the rule set happens once, in the
// constructor, building indexes keyed by what an observed domain can be turned into; a lookup
// then costs a fixed number of hash probes plus one verification per candidate, whatever the
// number of protected domains, and on the common path (plain ASCII, no match) allocates nothing:
//   - a symmetric-deletion index (every string reachable by deleting up to d characters) for
//     edit-distance typos, separately for whole protected domains and for protected TLDs. It
//     stores 32-bit slots (a fingerprint of the hashed deletion variant and the rule's place in
//     the index), not the strings, so 100,000 protected domains take well under 256 MiB; a
//     fingerprint collision only costs one more verification by edit distance. Variant hashes
//     are additive (see DeletionHashes), so a variant costs two additions, and a Bloom filter
//     of the indexed variants (KeyFilter) turns most away before the table is read;
//   - hashed exact keys for structural tricks (missing dot, dot to hyphen, appended TLD, extra
//     dot, hyphens, a suffix label left out, another suffix) and for homoglyph skeletons;
//   - two tries of combosquat keywords (nato-login.int): a label is split at a keyword only
//     where it starts or ends with one, and each split costs one probe of the exact keys.
// libpsl is asked for the observed domain's public suffix only when a decision depends on it
// (SuffixInfo): a libpsl lookup costs more than all the rest of a typical lookup.
#include "detect/matcher.h"

#include <libpsl.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/utf16.h>

#include <sys/mman.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <bitset>
#include <cstdlib>
#include <cstring>
#include <new>
#include <mutex>
#include <set>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "detect/domain_name.h"
#include "detect/edit_distance.h"

namespace rcptwatch::detect {
namespace {

struct PslFree {
  void operator()(psl_ctx_t* p) const { psl_free(p); }
};
struct SpoofClose {
  void operator()(USpoofChecker* p) const { uspoof_close(p); }
};

// ---------------------------------------------------------------------------------------------
// Hashing

constexpr std::size_t kMaxText = 256;  // domains are at most 253 characters

constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Which exact-key family a hashed key belongs to (keeps families apart in one table).
enum class KeyKind : std::uint8_t {
  Ascii,         // the protected domain itself: appended-tld
  Unicode,       // the protected domain in U-labels: subdomain
  TldName,       // a protected TLD: appended-tld for TLD rules
  OneDotRemoved,  // missing-dot, suffix kept
  Dotless,        // missing-dot, with a new suffix
  OneDotHyphen,   // dot-to-hyphen, suffix kept
  DotsHyphens,    // dot-to-hyphen, with a new suffix
  Dehyphenated,   // hyphenation
  LabelOmitted,   // tld-label-omission
  Skeleton,       // homoglyph
  SwapName,       // tld-swap: the protected domain without its suffix, or some of its labels
  PartStarred,    // combosquat: one hyphen-separated part of a label replaced by '*'
};

// A key's family and label count, unmixed (KeyHasher::seed mixes it).
constexpr std::uint64_t raw_key_seed(KeyKind kind, std::size_t labels) {
  return 0xcbf29ce484222325ULL ^ (static_cast<std::uint64_t>(kind) << 56) ^ (static_cast<std::uint64_t>(labels) << 48);
}

// A key hashed from pieces (a key with a dot or hyphens left out needs no copy elsewhere):
// the pieces are gathered on the stack and hashed eight bytes at a time.
class KeyHasher {
 public:
  KeyHasher(KeyKind kind, std::size_t labels) : kind_(kind), seed_(seed(kind, labels)) {}
  KeyKind kind() const { return kind_; }
  KeyHasher& add(std::string_view s) {
    const std::size_t n = std::min(s.size(), buf_.size() - size_);
    std::memcpy(buf_.data() + size_, s.data(), n);
    size_ += n;
    return *this;
  }
  KeyHasher& add_without(std::string_view s, char drop) {
    for (const char c : s) {
      if (c != drop && size_ < buf_.size()) buf_[size_++] = c;
    }
    return *this;
  }
  std::uint64_t finish() const { return hash(seed_, std::string_view(buf_.data(), size_)); }

  // A key is found by its hash alone (no string kept), so every word goes through a full mix:
  // the family and label count in the seed must never cancel against the first word (the
  // seed comes mixed, see seed()).
  static std::uint64_t hash(std::uint64_t seed, std::string_view key) {
    std::uint64_t h = seed;
    std::size_t i = 0;
    for (; i + 8 <= key.size(); i += 8) {
      std::uint64_t w;
      std::memcpy(&w, key.data() + i, 8);
      h = mix64(h ^ w);
    }
    return mix64(h ^ tail_word(key, i) ^ (static_cast<std::uint64_t>(key.size()) << 56));
  }
  // The bytes of key from i on (fewer than eight) as one little-endian word, read with at most
  // two loads instead of byte by byte (overlapping loads put equal bytes in equal places).
  static std::uint64_t tail_word(std::string_view key, std::size_t i) {
    const std::size_t rem = key.size() - i;
    if (rem == 0) return 0;
    const char* p = key.data() + i;
    if (key.size() >= 8) {
      std::uint64_t w;
      std::memcpy(&w, key.data() + key.size() - 8, 8);
      return w >> (8 * (8 - rem));
    }
    if (rem >= 4) {
      std::uint32_t lo;
      std::uint32_t hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + rem - 4, 4);
      return lo | (static_cast<std::uint64_t>(hi) << (8 * (rem - 4)));
    }
    const auto byte = [p](std::size_t k) { return static_cast<std::uint64_t>(static_cast<unsigned char>(p[k])); };
    return byte(0) | (byte(rem / 2) << (8 * (rem / 2))) | (byte(rem - 1) << (8 * (rem - 1)));
  }
  // The family and label count, mixed: from a table for the label counts domains have, as
  // a lookup makes a dozen keys of a few families.
  static std::uint64_t seed(KeyKind kind, std::size_t labels) {
    static constexpr std::size_t kKinds = static_cast<std::size_t>(KeyKind::PartStarred) + 1;
    static constexpr std::size_t kLabels = 128;
    static constexpr std::array<std::array<std::uint64_t, kLabels>, kKinds> kMixed = [] {
      std::array<std::array<std::uint64_t, kLabels>, kKinds> t{};
      for (std::size_t k = 0; k < kKinds; ++k) {
        for (std::size_t l = 0; l < kLabels; ++l) t[k][l] = mix64(raw_key_seed(static_cast<KeyKind>(k), l));
      }
      return t;
    }();
    const auto k = static_cast<std::size_t>(kind);
    return k < kKinds && labels < kLabels ? kMixed[k][labels] : mix64(raw_key_seed(kind, labels));
  }

 private:
  KeyKind kind_;
  std::uint64_t seed_;
  std::array<char, 2 * kMaxText> buf_;  // keys are domains or parts of them
  std::size_t size_ = 0;
};

std::uint64_t key_hash(KeyKind kind, std::string_view key, std::size_t labels) {
  return KeyHasher::hash(KeyHasher::seed(kind, labels), key);
}

// Where the labels of a domain start, found in one scan per lookup: the matcher asks for the
// last n labels of the domain, or of its first p labels, dozens of times, and trailing_labels()
// would rescan for each. A domain has at most 127 labels; a longer text falls back to it.
class LabelStarts {
 public:
  explicit LabelStarts(std::string_view d) : d_(d) {
    starts_[0] = 0;
    std::size_t count = 1;  // a local, kept in a register
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (d[i] != '.') continue;
      if (count == starts_.size()) {
        overflow_ = true;
        count_ = count_labels(d);
        return;
      }
      starts_[count++] = static_cast<std::uint16_t>(i + 1);
    }
    count_ = count;
  }
  std::size_t count() const { return count_; }
  // Where the first p labels end (1 <= p <= count()).
  std::size_t end_of(std::size_t p) const {
    if (overflow_) return end_by_scan(p);
    return p == count_ ? d_.size() : starts_[p] - 1;
  }
  // Where label k starts (k < count()).
  std::size_t start_of(std::size_t k) const { return k == 0 ? 0 : end_of(k) + 1; }
  // trailing_labels(d, n).
  __attribute__((always_inline)) std::string_view tail(std::size_t n) const { return tail_of_prefix(count(), n); }
  // trailing_labels of the first p labels (1 <= p <= count()). Inlined everywhere, as tail()
  // (the scan for very deep domains kept out of line): where GCC left them calls, a call cost
  // about as much as the subscripts.
  __attribute__((always_inline)) std::string_view tail_of_prefix(std::size_t p, std::size_t n) const {
    const std::size_t end = end_of(p);
    if (overflow_) return trailing_labels(d_.substr(0, end), n);
    if (n == 0) return d_.substr(end, 0);
    if (n >= p) return d_.substr(0, end);
    return d_.substr(starts_[p - n], end - starts_[p - n]);
  }

 private:
  // end_of() for a domain of more labels than starts_ holds.
  __attribute__((noinline)) std::size_t end_by_scan(std::size_t p) const {
    std::size_t i = 0;
    for (std::size_t seen = 0; i < d_.size(); ++i) {
      if (d_[i] == '.' && ++seen == p) break;
    }
    return i;
  }
  std::string_view d_;
  std::array<std::uint16_t, 128> starts_;  // starts_[k]: where label k starts (k < count_)
  std::size_t count_ = 1;
  bool overflow_ = false;
};

// A T built on first use, in place. std::optional<T> zeroes its storage when it is made, which
// for a value most lookups never need (the 1.4 KiB OsaPattern, a few candidates) costs more
// than using it would.
template <typename T>
class Lazy {
 public:
  Lazy() {}
  ~Lazy() {
    if (built_) value_.~T();
  }
  Lazy(const Lazy&) = delete;
  Lazy& operator=(const Lazy&) = delete;
  explicit operator bool() const { return built_; }
  // The value, built from args the first time.
  template <typename... Args>
  T& get(Args&&... args) {
    if (!built_) {
      new (&value_) T(std::forward<Args>(args)...);
      built_ = true;
    }
    return value_;
  }

 private:
  union {
    T value_;
  };
  bool built_ = false;
};

// Candidates of one lookup: on the stack unless there are unusually many.
template <typename T, std::size_t N>
class SmallVector {
 public:
  void push_back(T v) {
    if (size_ < N) {
      inline_[size_++] = v;
      return;
    }
    if (spill_.empty()) spill_.assign(inline_.begin(), inline_.end());
    spill_.push_back(v);
    ++size_;
  }
  T* begin() { return size_ <= N ? inline_.data() : spill_.data(); }
  T* end() { return begin() + size_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  void clear() {
    size_ = 0;
    spill_.clear();
  }
  void sort_unique() {
    std::sort(begin(), end());
    truncate(static_cast<std::size_t>(std::unique(begin(), end()) - begin()));
  }
  // Keeps the first n.
  void truncate(std::size_t n) {
    if (size_ > N && n <= N) std::copy_n(spill_.begin(), n, inline_.begin());
    if (n <= N) {
      spill_.clear();
    } else {
      spill_.resize(n);
    }
    size_ = n;
  }

 private:
  std::array<T, N> inline_;
  std::vector<T> spill_;
  std::size_t size_ = 0;
};
using TargetList = SmallVector<std::uint32_t, 64>;

// A zeroed array of T for the big index tables, asking the kernel for 2 MiB pages: a lookup
// probes a hundred random cache lines of a table of 100+ MiB, and with 4 KiB pages nearly every
// probe would also miss the TLB.
template <typename T>
class PageArray {
 public:
  PageArray() = default;
  explicit PageArray(std::size_t n) : size_(n) {
    if (n == 0) return;
    constexpr std::size_t kHuge = std::size_t{2} << 20;
    const std::size_t bytes = n * sizeof(T);
    const std::size_t align = bytes >= kHuge ? kHuge : alignof(T);
    const std::size_t rounded = (bytes + align - 1) / align * align;
    void* p = std::aligned_alloc(align, rounded);
    if (p == nullptr) throw std::bad_alloc();
    if (align == kHuge) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: fine if refused
    std::memset(p, 0, rounded);
    data_.reset(static_cast<T*>(p));
  }
  T* data() const { return data_.get(); }
  std::size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  std::size_t size_ = 0;
};

// A Bloom filter of a table's keys, two bits in one 64-bit word per key: it tells most absent
// keys apart in a few instructions and one load from a much smaller array than the table, where
// a table probe reads a bucket's cache line and compares its slots. With 100,000 rules the
// deletion table holds about 11 million variants (a 13-character text makes about 90 at
// distance 2, and most miss), the exact-key table about a million keys: its filter, 1.5 MiB,
// stays in L2 where the table does not. No false negatives, so no match is lost; at 12 bits per
// key about 3% of absent keys get through, and the table answers those. Keys must be spread in
// their high bits (a full mix, or DeletionHashes' polynomial keys).
class KeyFilter {
 public:
  void reset(std::size_t entries) {
    std::size_t words = 2;
    while (words * 64 < entries * kBitsPerEntry) words <<= 1;
    shift_ = static_cast<unsigned>(64 - std::countr_zero(words));
    words_ = PageArray<std::uint64_t>(words);
    std::fill_n(words_.data(), words, ~std::uint64_t{0});  // every bit absent
  }
  void add(std::uint64_t key) { add_at(position(key)); }
  __attribute__((always_inline)) bool may_contain(std::uint64_t key) const { return view().may_contain_at(position(key)); }

  // A key's place in the filter: the word from its top bits, the two bits from the middle.
  // A multiply carries the key's well-spread high bits into all but the lowest bits.
  static constexpr std::uint64_t kSpread = 0xFF51AFD7ED558CCDULL;
  static std::uint64_t position(std::uint64_t key) { return key * kSpread; }
  // By position, for keys made with the multiply built in (DeletionHashes).
  // A word's set bits are the ones no key has: a test is then one AND of the word (in memory)
  // with the key's mask, where set bits for present ones would also take a NOT.
  void add_at(std::uint64_t position) { words_.data()[position >> shift_] &= ~mask_of(position); }
  // The words and the shift by value, for a hot loop to keep in registers: read through the
  // filter they are read again after every store the compiler cannot tell apart from them.
  struct View {
    const std::uint64_t* words;
    unsigned shift;
    __attribute__((always_inline)) void prefetch_at(std::uint64_t position) const {
      __builtin_prefetch(&words[position >> shift]);
    }
    __attribute__((always_inline)) bool may_contain_at(std::uint64_t position) const { return missing_at(position) == 0; }
    // The key's bits the word lacks: 0 when it may be there.
    __attribute__((always_inline)) std::uint64_t missing_at(std::uint64_t position) const {
      return words[position >> shift] & mask_of(position);
    }
  };
  View view() const { return View{words_.data(), shift_}; }
  std::size_t memory_bytes() const { return words_.size() * sizeof(std::uint64_t); }

 private:
  static constexpr std::size_t kBitsPerEntry = 12;
  // The two bits, one in each half of the word, from ten bits of the position by table: a
  // lookup tests about 90 positions, and a table read costs three instructions where two
  // variable shifts (no BMI2 on the baseline target) cost eight. Splitting the word in halves
  // keeps the false-positive rate (about 2.4% at 12 bits per key against 2.4% for two bits
  // anywhere in it); the 8 KiB table stays in L1.
  static constexpr std::array<std::uint64_t, 1024> kMasks = [] {
    std::array<std::uint64_t, 1024> t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = (std::uint64_t{1} << (i & 31)) | (std::uint64_t{1} << (32 + (i >> 5)));
    return t;
  }();
  static std::uint64_t mask_of(std::uint64_t h) { return kMasks[(h >> 20) & 1023]; }
  PageArray<std::uint64_t> words_;
  unsigned shift_ = 63;
};

// A table up to this size stays in cache by itself: no filter in front of it.
constexpr std::size_t kFilterTablesFrom = std::size_t{1} << 20;

// (fingerprint, target) pairs in open addressing over 64-byte buckets of 8 slots: one probe
// reads one cache line (a full bucket spills into the next one, rarely at this load). The
// bucket comes from the low bits of the 64-bit hash and the fingerprint is the high 32 bits.
class HashBuckets {
 public:
  void add(std::uint64_t hash, std::uint32_t target) { pending_.push_back({hash, target}); }

  void finish() {
    std::size_t nb = 1;
    // Load <= 0.9 counting duplicate variants (dropped below), so less in fact: with 8 slots a
    // bucket still rarely spills.
    while (nb * kSlots * 9 < pending_.size() * 10) nb <<= 1;
    if (pending_.empty()) nb = 0;
    mask_ = nb == 0 ? 0 : nb - 1;
    buckets_ = PageArray<Bucket>(nb);
    filtered_ = nb * sizeof(Bucket) > kFilterTablesFrom;
    if (filtered_) filter_.reset(pending_.size());
    for (const Pending& p : pending_) {
      insert(p.hash, p.target);
      if (filtered_) filter_.add(p.hash);
    }
    std::vector<Pending>().swap(pending_);
  }

  void prefetch(std::uint64_t hash) const {
    if (buckets_.size() != 0) __builtin_prefetch(&buckets_.data()[hash & mask_]);
  }

  template <typename F>
  void find(std::uint64_t hash, F&& f) const {
    if (buckets_.size() == 0 || (filtered_ && !filter_.may_contain(hash))) return;
    const auto fp = static_cast<std::uint32_t>(hash >> 32);
    for (std::size_t b = hash & mask_;; b = (b + 1) & mask_) {
      const Bucket& bucket = buckets_.data()[b];
      for (const Slot& s : bucket.slots) {
        if (s.target_plus1 == 0) return;  // end of the chain
        if (s.fp == fp) f(s.target_plus1 - 1);
      }
    }
  }

  std::size_t memory_bytes() const { return buckets_.size() * sizeof(Bucket) + filter_.memory_bytes(); }

 private:
  static constexpr std::size_t kSlots = 8;
  struct Pending {
    std::uint64_t hash;
    std::uint32_t target;
  };
  struct Slot {
    std::uint32_t fp;
    std::uint32_t target_plus1;  // 0: empty
  };
  struct alignas(64) Bucket {
    std::array<Slot, kSlots> slots;
  };

  void insert(std::uint64_t hash, std::uint32_t target) {
    const auto fp = static_cast<std::uint32_t>(hash >> 32);
    for (std::size_t b = hash & mask_;; b = (b + 1) & mask_) {
      for (Slot& s : buckets_.data()[b].slots) {
        if (s.target_plus1 == 0) {
          s = Slot{fp, target + 1};
          return;
        }
        if (s.fp == fp && s.target_plus1 == target + 1) return;  // duplicate deletion variant
      }
    }
  }

  std::vector<Pending> pending_;
  PageArray<Bucket> buckets_;
  std::size_t mask_ = 0;
  KeyFilter filter_;
  bool filtered_ = false;
};

// Hashes of the strings made by deleting characters of one text, O(1) each. The polynomial hash
// H = sum (c_i + 1) R^i (mod 2^64) is linear in the characters, and R is odd, hence invertible:
// deleting positions a_1 < ... < a_k shifts what follows each of them down, which gives
//   H' = W_1[a_1] + ... + W_k[a_k] + P(n) R^-k,  W_t[a] = P(a) R^-(t-1) - P(a+1) R^-t,
// with P the prefix sums. Equal variants hash equally whatever positions made them; within a
// run of equal characters only the first is deleted, which drops most duplicates.
class DeletionHashes {
 public:
  static constexpr std::uint32_t kMaxDepth = kMaxRuleDistance;

  // Variants up to max_depth (<= kMaxDepth) deletions.
  DeletionHashes(std::u32string_view s, std::uint32_t max_depth)
      : s_(s.substr(0, std::min(s.size(), kMaxText - 1))), max_depth_(std::min(max_depth, kMaxDepth)) {
    const std::size_t n = s_.size();
    const Constants& k = constants();
    std::array<std::uint64_t, kMaxText + 1> p;
    p[0] = 0;
    std::size_t runs = 0;  // a local: a byte store could alias a member count
    for (std::size_t i = 0; i < n; ++i) {
      p[i + 1] = p[i] + (static_cast<std::uint64_t>(s_[i]) + 1) * k.pow[i];
      if (i == 0 || s_[i] != s_[i - 1]) run_starts_[runs++] = static_cast<std::uint8_t>(i);
    }
    runs_ = runs;
    run_starts_[runs] = static_cast<std::uint8_t>(n);  // where the last run ends
    const auto weight = [&](std::uint32_t t, std::size_t a) { return p[a] * k.inv_pow_spread[t] - p[a + 1] * k.inv_pow_spread[t + 1]; };
    for (std::uint32_t t = 0; t <= max_depth_; ++t) tail_[t] = p[n] * k.inv_pow_spread[t];
    // The weights the first two deletions take, by run (see each_row()), in one pass. A
    // second deletion's weight at a is the first's times R^-1 (W_2[a] = W_1[a] R^-1): one
    // multiply instead of two.
    for (std::size_t j = 0; j < runs; ++j) {
      const std::size_t a = run_starts_[j];
      first_[j] = weight(0, a);
      if (max_depth_ < 2) continue;
      second_[j] = first_[j] * k.inv;
      if (run_end(j) - a >= 2) second_in_run_[j] = weight(0, a + 1) * k.inv;
    }
    for (std::uint32_t t = 0; t < max_depth_ && max_depth_ == 3; ++t) {
      for (std::size_t a = 0; a < n; ++a) w_[t][a] = weight(t, a);
    }
  }

  std::size_t size() const { return s_.size(); }

  // Calls row(base, weights, count) for the variants with exactly `depth` characters deleted
  // (depth <= the constructor's max_depth), whose keys are base + weights[i] for i < count.
  // A key is the polynomial hash plus the length, times KeyFilter::kSpread: it is its own
  // KeyFilter position (the multiply is in the weights, once per text, not once per
  // variant), well spread in its high bits, not in its low ones, so a table takes
  // spread(key). Up to depth 2 a row is all the variants sharing their first deletion, the
  // weights of the second contiguous in memory, so a caller's inner loop is one load and one
  // add per variant; rows hold fewer than kMaxText keys.
  template <typename Row>
  void each_row(std::uint32_t depth, Row&& row) const {
    const std::size_t n = s_.size();
    if (depth > n) return;
    const std::uint64_t tail = tail_[depth] + static_cast<std::uint64_t>(n - depth) * kLengthSpread;
    switch (depth) {
      case 0:
        row(tail, &kNoWeight, 1);
        return;
      case 1:
        row(tail, first_.data(), runs_);
        return;
      case 2:
        // The first deletion at a run start; the second right after it, if that is in the same
        // run (then it is not a run start), or at any later run start.
        for (std::size_t j = 0; j < runs_; ++j) {
          const std::uint64_t ha = first_[j] + tail;
          if (run_end(j) - run_starts_[j] >= 2) row(ha, &second_in_run_[j], 1);
          if (j + 1 < runs_) row(ha, &second_[j + 1], runs_ - j - 1);
        }
        return;
      default: {
        // g(position, next) for the positions a deletion may take after one at `pos`, in
        // order: pos + 1 whatever it is (the run it is in was cut), then the run starts from
        // run_starts_[next] on, `next` being the first run start after pos.
        const auto after = [&](std::size_t pos, std::size_t next, auto&& g) {
          if (pos + 1 < n && (next == runs_ || run_starts_[next] != pos + 1)) g(pos + 1, next);
          for (std::size_t j = next; j < runs_; ++j) g(std::size_t{run_starts_[j]}, j + 1);
        };
        for (std::size_t j = 0; j < runs_; ++j) {
          const std::uint64_t ha = w_[0][run_starts_[j]] + tail;
          after(run_starts_[j], j + 1, [&](std::size_t b, std::size_t next) {
            const std::uint64_t hb = ha + w_[1][b];
            after(b, next, [&](std::size_t c, std::size_t) { row(hb, &w_[2][c], 1); });
          });
        }
        return;
      }
    }
  }

  // Calls f(key) for the variants with exactly `depth` characters deleted.
  template <typename F>
  void each(std::uint32_t depth, F&& f) const {
    each_row(depth, [&](std::uint64_t base, const std::uint64_t* weights, std::size_t count) {
      for (std::size_t i = 0; i < count; ++i) f(base + weights[i]);
    });
  }

  static std::uint64_t spread(std::uint64_t key) { return mix64(key); }

  // Upper bound of the variants of depths 0..d of an n-character text.
  static std::size_t count_bound(std::size_t n, std::uint32_t d) {
    std::size_t total = 0;
    std::size_t c = 1;  // n choose k
    for (std::uint32_t k = 0; k <= d && k <= n; ++k) {
      total += c;
      c = c * (n - k) / (k + 1);
    }
    return total;
  }

 private:
  struct Constants {
    std::array<std::uint64_t, kMaxText> pow;
    std::array<std::uint64_t, kMaxDepth + 1> inv_pow_spread;  // R^-t KeyFilter::kSpread
    std::uint64_t inv;                                        // R^-1
  };
  static const Constants& constants() {
    static const Constants table = [] {
      constexpr std::uint64_t kR = 0x9E3779B97F4A7C15ULL;  // odd
      std::uint64_t inv = kR;  // Newton's iteration for the inverse modulo 2^64
      for (int i = 0; i < 6; ++i) inv *= 2 - kR * inv;
      Constants c{};
      c.pow[0] = 1;
      for (std::size_t i = 1; i < c.pow.size(); ++i) c.pow[i] = c.pow[i - 1] * kR;
      c.inv = inv;
      c.inv_pow_spread[0] = KeyFilter::kSpread;
      for (std::size_t i = 1; i < c.inv_pow_spread.size(); ++i) c.inv_pow_spread[i] = c.inv_pow_spread[i - 1] * inv;
      return c;
    }();
    return table;
  }
  static constexpr std::uint64_t kLengthSpread = 0xD6E8FEB86659FD93ULL * KeyFilter::kSpread;

  static constexpr std::uint64_t kNoWeight = 0;  // the one "row" of depth 0

  // Where run j ends (where the next starts).
  std::size_t run_end(std::size_t j) const { return run_starts_[j + 1]; }

  std::u32string_view s_;
  std::uint32_t max_depth_;
  std::array<std::uint64_t, kMaxDepth + 1> tail_;
  // Where each run of equal characters starts: only the first of a run is deleted. One more
  // entry, the text's length, ends the last run.
  std::array<std::uint8_t, kMaxText> run_starts_;
  std::size_t runs_ = 0;
  // By run j: W_1 at its start (first deletions), W_2 at its start (second deletions after
  // an earlier run), W_2 at its second character (second deletions within the run of the first).
  std::array<std::uint64_t, kMaxText - 1> first_;
  std::array<std::uint64_t, kMaxText - 1> second_;
  std::array<std::uint64_t, kMaxText - 1> second_in_run_;
  // All weights, for depth 3 only (rules of distance=3, rare): W_{t+1}[a] in w_[t][a].
  std::array<std::array<std::uint64_t, kMaxText>, kMaxDepth> w_;
  static_assert(kMaxText - 1 <= 255, "run_starts_ holds positions and the length in a byte");
};

// Open addressing over 64-byte buckets of sixteen 32-bit slots: a fingerprint of the hash in
// the high bits, an index (a rule's place in its DeletionIndex) in the low bits; 0 is empty.
// One probe reads one cache line (a full bucket spills into the next one, rarely at load 0.8).
class PackedBuckets {
 public:
  void reset(std::size_t entries, std::size_t indexes) {
    index_bits_ = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(std::bit_width(indexes == 0 ? 0 : indexes - 1)));
    if (index_bits_ > 26) throw std::length_error("detect: too many protected domains for the deletion index");
    index_mask_ = (std::uint32_t{1} << index_bits_) - 1;
    count_ = std::max<std::size_t>(1, (entries * 5 / 4 + kSlots - 1) / kSlots);
    buckets_ = PageArray<Bucket>(count_);
  }

  void insert(std::uint64_t hash, std::uint32_t index) {
    const std::uint32_t value = tag(hash) | index;
    for (std::size_t b = bucket_of(hash);; b = next(b)) {
      for (std::uint32_t& slot : buckets_.data()[b].slots) {
        if (slot == 0) {
          slot = value;
          return;
        }
        if (slot == value) return;  // the same variant of the same rule
      }
    }
  }

  // Where a hash goes, computed once per probe.
  struct Probe {
    std::size_t bucket;
    std::uint32_t tag;
  };
  Probe probe(std::uint64_t hash) const { return {bucket_of(hash), tag(hash)}; }
  void prefetch(const Probe& p) const { __builtin_prefetch(&buckets_.data()[p.bucket]); }

  // Calls f(index) for every slot whose fingerprint matches.
  template <typename F>
  void find(const Probe& p, F&& f) const {
    for (std::size_t b = p.bucket;; b = next(b)) {
      const Bucket& bucket = buckets_.data()[b];
#if defined(__SSE2__)
      const __m128i want = _mm_set1_epi32(static_cast<int>(p.tag));
      const __m128i high = _mm_set1_epi32(static_cast<int>(~index_mask_));
      const auto* v = reinterpret_cast<const __m128i*>(bucket.slots.data());
      const __m128i e0 = _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v), high), want);
      const __m128i e1 = _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 1), high), want);
      const __m128i e2 = _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 2), high), want);
      const __m128i e3 = _mm_cmpeq_epi32(_mm_and_si128(_mm_load_si128(v + 3), high), want);
      auto hits = static_cast<unsigned>(
          _mm_movemask_epi8(_mm_packs_epi16(_mm_packs_epi32(e0, e1), _mm_packs_epi32(e2, e3))));
      for (; hits != 0; hits &= hits - 1) f(bucket.slots[static_cast<std::size_t>(std::countr_zero(hits))] & index_mask_);
#else
      for (const std::uint32_t slot : bucket.slots) {
        if (slot != 0 && (slot & ~index_mask_) == p.tag) f(slot & index_mask_);
      }
#endif
      // Slots fill in order, so a bucket with room ends the chain.
      if (bucket.slots[kSlots - 1] == 0) return;
    }
  }

  std::size_t memory_bytes() const { return buckets_.size() * sizeof(Bucket); }

 private:
  static constexpr std::size_t kSlots = 16;
  struct alignas(64) Bucket {
    std::array<std::uint32_t, kSlots> slots;
  };
  std::size_t bucket_of(std::uint64_t hash) const { return static_cast<std::size_t>(((hash >> 32) * count_) >> 32); }
  std::size_t next(std::size_t b) const { return b + 1 == count_ ? 0 : b + 1; }
  std::uint32_t tag(std::uint64_t hash) const {
    const std::uint32_t fp = static_cast<std::uint32_t>(hash) >> index_bits_;
    return (fp == 0 ? 1 : fp) << index_bits_;
  }

  PageArray<Bucket> buckets_;
  std::size_t count_ = 0;
  std::uint32_t index_bits_ = 1;
  std::uint32_t index_mask_ = 1;
};

// Symmetric-deletion index for the protected texts of one label count: a text within distance
// d of a rule's text shares with it a string made by deleting at most d characters of each.
// A query deletes only as many characters as some rule allows, and only down to lengths some
// indexed variant has (about n probes against d=1 rules, n^2/2 against d=2). With a handful of
// rules there is no table: checking each by length and character set costs less than hashing.
class DeletionIndex {
 public:
  void add(std::u32string_view text, std::uint32_t max_d, std::uint32_t target) {
    // Distance 0 reports no edit (only homoglyph and structural tricks), so nothing to index.
    const std::uint32_t d = std::min(max_d, kMaxRuleDistance);
    if (d == 0) return;
    const std::size_t len = std::min(text.size(), kMaxText - 1);
    members_.push_back({target, static_cast<std::uint16_t>(len), static_cast<std::uint8_t>(d), char_set(text)});
    for (std::uint32_t k = 0; k <= d; ++k) {
      for (std::size_t j = 0; j <= d && j <= len; ++j) lengths_[k].set(len - j);
    }
    max_depth_ = std::max(max_depth_, d);
  }

  // `text_of(target)` gives the text again (the caller owns them).
  template <typename TextOf>
  void finish(TextOf&& text_of) {
    if (members_.size() <= kFew) return;
    std::size_t entries = 0;
    for (const Member& m : members_) entries += DeletionHashes::count_bound(m.len, m.d);
    table_.reset(entries, members_.size());
    filter_.reset(entries);
    for (std::size_t i = 0; i < members_.size(); ++i) {
      const DeletionHashes variants(text_of(members_[i].target), members_[i].d);
      for (std::uint32_t k = 0; k <= members_[i].d; ++k) {
        variants.each(k, [&](std::uint64_t h) {
          table_.insert(DeletionHashes::spread(h), static_cast<std::uint32_t>(i));
          filter_.add_at(h);
        });
      }
    }
  }

  // Targets that share a deletion variant with `text` within their rule's distance: a superset
  // of those within it. Unsorted, possibly repeated.
  void query(std::u32string_view text, TargetList& out) const {
    query(text, out, [](TargetList&) { return false; });
  }
  // The same, asking enough(out) once every variant of fewer than two deletions has been
  // looked up and before any deeper one is: a pair of texts one edit apart always shares a
  // variant of at most one deletion each, so once `out` holds a candidate at distance 1 the
  // deeper variants (most of them) can only add worse ones, and enough() returning true ends
  // the query there. enough() may reorder `out`.
  template <typename Enough>
  void query(std::u32string_view text, TargetList& out, Enough&& enough) const {
    if (members_.empty()) return;
    const std::size_t len = std::min(text.size(), kMaxText - 1);
    if (members_.size() <= kFew) {
      each_few_candidate(text, [&](std::uint32_t target) {
        out.push_back(target);
        return true;
      });
      return;
    }
    const DeletionHashes variants(text, max_depth_);
    // The variants' keys are gathered a batch at a time, their filter words prefetched as they
    // are made, then tested: with many rules the filter is larger than L2, and a test that
    // waited for its word would hold up the rest. A batch is flushed once it has kFilterBatch
    // keys, after a whole row, so it never holds more than kFilterBatch + kMaxText.
    // The loop making the keys keeps the filter's view in registers (taken by value).
    const KeyFilter::View filter = filter_.view();
    std::array<std::uint64_t, kFilterBatch + kMaxText> keys;  // KeyFilter positions
    std::size_t gathered = 0;
    // from[d]: where the keys of depth d start in the batch; not yet started: kNotStarted.
    // The depth of a key is only needed for the few that pass the filter.
    constexpr std::size_t kNotStarted = keys.size();
    std::array<std::size_t, DeletionHashes::kMaxDepth + 1> from;
    from.fill(kNotStarted);
    // Where the keys of two or more deletions start in the batch, and whether enough() was asked.
    std::size_t deep_from = kNotStarted;
    bool asked = false;
    // Tests the batch; true when enough() ended the query.
    auto test_batch = [&]() {
      // Indexes of the keys that pass, without a branch per key (about 3% pass, unpredictably).
      std::array<std::uint16_t, keys.size()> passed;
      std::size_t count = 0;
      const KeyFilter::View local_filter = filter;
#pragma GCC unroll 4
      for (std::size_t k = 0; k < gathered; ++k) {
        passed[count] = static_cast<std::uint16_t>(k);
        // "< 1", not "== 0": GCC adds the carry of a compare with 1 (cmp, adc) where it would
        // set a byte, widen it and add it.
        count += local_filter.missing_at(keys[k]) < 1 ? 1 : 0;
      }
      // Their table buckets too are fetched all before any is read.
      std::array<PackedBuckets::Probe, keys.size()> probes;
      for (std::size_t i = 0; i < count; ++i) {
        probes[i] = table_.probe(DeletionHashes::spread(keys[passed[i]]));
        table_.prefetch(probes[i]);
      }
      // enough() is asked before the first deeper key that passed is looked up, or after the
      // batch if none did.
      for (std::size_t i = 0; i < count; ++i) {
        if (passed[i] >= deep_from && !asked) {
          asked = true;
          if (enough(out)) return true;
        }
        std::uint32_t depth = 0;  // the deepest that started at or before the key
        for (std::uint32_t d = 1; d < from.size(); ++d) {
          if (from[d] <= passed[i]) depth = d;
        }
        table_.find(probes[i], [&](std::uint32_t local) {
          const Member& m = members_[local];
          if (depth <= m.d) out.push_back(m.target);
        });
      }
      if (deep_from != kNotStarted && !asked) {
        asked = true;
        return enough(out);
      }
      return false;
    };
    for (std::uint32_t depth = 0; depth <= max_depth_ && depth <= len; ++depth) {
      // A variant this deep has len - depth characters: is any rule allowing the depth that close?
      if (!lengths_[depth].test(len - depth)) continue;
      from[depth] = gathered;
      if (depth >= 2 && deep_from == kNotStarted) deep_from = gathered;
      bool stopped = false;
      variants.each_row(depth, [&](std::uint64_t base, const std::uint64_t* weights, std::size_t count)
                                   __attribute__((always_inline)) {
        if (stopped) return;
        std::uint64_t* const at = keys.data() + gathered;
#pragma GCC unroll 4
        for (std::size_t i = 0; i < count; ++i) {
          const std::uint64_t h = base + weights[i];
          filter.prefetch_at(h);
          at[i] = h;
        }
        gathered += count;
        if (gathered >= kFilterBatch) {
          stopped = test_batch();
          gathered = 0;
          from.fill(kNotStarted);
          from[depth] = 0;
          deep_from = depth >= 2 ? 0 : kNotStarted;
        }
      });
      if (stopped) return;
    }
    test_batch();
  }

  // Whether query() of this text (ASCII, so its bytes are its code points) can find anything:
  // answered from the bytes when there are few rules, without the text's conversion; with
  // many, true (the table decides).
  bool may_find(std::string_view ascii) const {
    if (members_.empty()) return false;
    if (members_.size() > kFew) return true;
    bool found = false;
    each_few_candidate(ascii, [&](std::uint32_t) {
      found = true;
      return false;
    });
    return found;
  }

  std::size_t memory_bytes() const {
    return table_.memory_bytes() + filter_.memory_bytes() + members_.capacity() * sizeof(Member);
  }

 private:
  static constexpr std::size_t kFilterBatch = 64;
  static constexpr std::size_t kFew = 16;  // up to this many rules: no table
  struct Member {
    std::uint32_t target;
    std::uint16_t len;
    std::uint8_t d;
    std::uint64_t chars;  // char_set() of the text
  };
  // std::popcount is a libgcc call on the baseline x86-64 target (no POPCNT instruction).
  static std::uint32_t bit_count(std::uint64_t x) {
    x -= (x >> 1) & 0x5555555555555555ULL;
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
    return static_cast<std::uint32_t>((x * 0x0101010101010101ULL) >> 56);
  }
  // One bit per character (hostname characters each have their own; others share).
  static constexpr unsigned char_bit(char32_t c) {
    if (c >= U'a' && c <= U'z') return static_cast<unsigned>(c - U'a');
    if (c >= U'0' && c <= U'9') return 26 + static_cast<unsigned>(c - U'0');
    if (c == U'-') return 36;
    if (c == U'.') return 37;
    return 38 + static_cast<unsigned>(c % 26);
  }
  // Text: std::u32string_view, or std::string_view of ASCII.
  template <typename Text>
  static std::uint64_t char_set(Text text) {
    // ASCII by table: this runs over the observed text on every lookup against few rules.
    static constexpr std::array<std::uint8_t, 128> kAsciiBit = [] {
      std::array<std::uint8_t, 128> t{};
      for (char32_t c = 0; c < 128; ++c) t[c] = static_cast<std::uint8_t>(char_bit(c));
      return t;
    }();
    std::uint64_t m = 0;
    for (const auto ch : text) {
      const auto c = static_cast<char32_t>(static_cast<std::make_unsigned_t<decltype(ch)>>(ch));
      m |= std::uint64_t{1} << (c < 128 ? kAsciiBit[c] : char_bit(c));
    }
    return m;
  }
  // With few rules: f(target) for each rule whose text could be within its distance of
  // `text` (Text as for char_set), while f returns true. Each character one text has and the
  // other lacks needs its own edit. The character set is made only once some rule's length
  // is close enough (most are not).
  template <typename Text, typename F>
  void each_few_candidate(Text text, F&& f) const {
    const std::size_t len = std::min(text.size(), kMaxText - 1);
    std::optional<std::uint64_t> chars;
    for (const Member& m : members_) {
      if (m.len + m.d < len || m.len > len + m.d) continue;
      if (!chars) chars = char_set(text);
      const std::uint64_t mine = *chars;
      const std::uint32_t missing = std::max(bit_count(mine & ~m.chars), bit_count(m.chars & ~mine));
      if (missing <= m.d && !f(m.target)) return;
    }
  }
  std::vector<Member> members_;
  PackedBuckets table_;
  KeyFilter filter_;
  // lengths_[k]: lengths of the variants of rules whose distance is at least k.
  std::array<std::bitset<kMaxText>, kMaxRuleDistance + 1> lengths_;
  std::uint32_t max_depth_ = 0;
};

// Combosquat keywords as a trie, read from a label's start or (backwards) from its end: finding
// every keyword a label starts or ends with costs one step per character matched, and most
// labels leave the root at their first character. Keywords are letters, digits and hyphens.
class KeywordTrie {
 public:
  explicit KeywordTrie(bool backwards) : backwards_(backwards) {}

  void add(std::string_view word) {
    std::uint32_t node = 0;
    for (std::size_t k = 0; k < word.size(); ++k) {
      const int s = slot(at(word, k));
      if (s < 0) return;  // the loader lets nothing else through
      if (nodes_[node].next[static_cast<std::size_t>(s)] == 0) {
        nodes_[node].next[static_cast<std::size_t>(s)] = static_cast<std::uint32_t>(nodes_.size());
        nodes_.emplace_back();
      }
      node = nodes_[node].next[static_cast<std::size_t>(s)];
    }
    nodes_[node].word = true;
  }
  bool empty() const { return nodes_.size() == 1; }
  bool contains(std::string_view word) const {
    std::uint32_t node = 0;
    for (std::size_t k = 0; k < word.size(); ++k) {
      const int s = slot(at(word, k));
      if (s < 0) return false;
      node = nodes_[node].next[static_cast<std::size_t>(s)];
      if (node == 0) return false;
    }
    return node != 0 && nodes_[node].word;
  }

  // Calls f(length) for every keyword `label` starts with (ends with, backwards) that leaves
  // some of the label over.
  template <typename F>
  void each(std::string_view label, F&& f) const {
    std::uint32_t node = 0;
    for (std::size_t k = 0; k + 1 < label.size(); ++k) {
      const int s = slot(at(label, k));
      if (s < 0) return;
      node = nodes_[node].next[static_cast<std::size_t>(s)];
      if (node == 0) return;
      if (nodes_[node].word) f(k + 1);
    }
  }

  std::size_t memory_bytes() const { return nodes_.capacity() * sizeof(Node); }

 private:
  struct Node {
    std::array<std::uint32_t, 37> next{};  // a-z, 0-9, '-'; 0: none (the root is no child)
    bool word = false;
  };
  static int slot(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= '0' && c <= '9') return 26 + (c - '0');
    return c == '-' ? 36 : -1;
  }
  char at(std::string_view s, std::size_t k) const { return backwards_ ? s[s.size() - 1 - k] : s[k]; }

  bool backwards_;
  std::vector<Node> nodes_ = std::vector<Node>(1);
};

// ---------------------------------------------------------------------------------------------
// Homoglyph skeleton

// The letter a Unicode name says a code point is a variant of: "LATIN SMALL LETTER D WITH
// HOOK", "LATIN LETTER SMALL CAPITAL G", "LATIN SMALL LETTER DOTLESS I" -> d, g, i.
char latin_base_letter(char32_t c) {
  // Where the name does not say it but the glyph reads as a letter or digit.
  static constexpr std::pair<char32_t, char> kExtra[] = {
      {U'\u0259', 'a'}, {U'\u0251', 'a'}, {U'\u01BB', '2'}, {U'\u01BD', '5'}, {U'\u0185', 'b'},
      {U'\u0138', 'k'}, {U'\u028D', 'm'}, {U'\u01BF', 'p'}, {U'\u00FE', 'p'}, {U'\u0269', 'i'}};
  for (const auto& [cp, ch] : kExtra) {
    if (cp == c) return ch;
  }
  char name[128];
  UErrorCode st = U_ZERO_ERROR;
  const int32_t len = u_charName(static_cast<UChar32>(c), U_UNICODE_CHAR_NAME, name, sizeof name, &st);
  if (U_FAILURE(st) || len <= 0) return 0;
  std::string_view n(name, static_cast<std::size_t>(len));
  for (const std::string_view prefix : {"LATIN SMALL LETTER ", "LATIN CAPITAL LETTER ", "LATIN LETTER SMALL CAPITAL ",
                                        "LATIN SMALL CAPITAL LETTER "}) {
    if (!n.starts_with(prefix)) continue;
    n.remove_prefix(prefix.size());
    for (const std::string_view adj : {"DOTLESS ", "SCRIPT "}) {
      if (n.starts_with(adj)) n.remove_prefix(adj.size());
    }
    if (!n.empty() && n[0] >= 'A' && n[0] <= 'Z' && (n.size() == 1 || n[1] == ' ')) {
      return static_cast<char>(n[0] - 'A' + 'a');
    }
    return 0;
  }
  return 0;
}

bool is_combining(char32_t c) {
  const auto cat = u_charType(static_cast<UChar32>(c));
  return cat == U_NON_SPACING_MARK || cat == U_ENCLOSING_MARK || cat == U_COMBINING_SPACING_MARK;
}

// Appends the ASCII class of one ASCII character: characters dnstwist and our own models treat
// as interchangeable share a class; i/l/1 vanish, since they also appear inside multi-character
// glyphs ("lh" for h, "ik" for k, "cl" for d) and deleting them makes those collapse too.
template <typename Out>
constexpr void fold_ascii_char(char c, Out& out) {
  if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  switch (c) {
    case 'i': case 'l': case '1': return;
    case '0': c = 'o'; break;
    case 'b': case 'c': case 'd': case 'e': case 'k': c = 'b'; break;
    case 'q': c = 'g'; break;
    case 'n': case 'r': c = 'm'; break;
    case '8': c = '3'; break;
    case '9': c = '6'; break;
    case 'w':
      out.push_back('v');
      out.push_back('v');
      return;
    default: break;
  }
  if (c == 'm' && !out.empty() && out.back() == 'm') return;  // rn, nn, rr read as m
  out.push_back(c);
}

// Appends to a caller's char buffer known to be large enough. Through this local cursor, not
// the buffer's owner: a store to the buffer could be the owner's size as far as the compiler knows.
struct CharCursor {
  char* data;
  std::size_t size;
  constexpr void push_back(char c) { data[size++] = c; }
  constexpr bool empty() const { return size == 0; }
  constexpr char back() const { return data[size - 1]; }
};

// fold_ascii_char of every byte, for folding whole ASCII texts by table (a lookup folds its
// domain on every call): kDropped for i/l/1, kDoubleV for w; the rn/nn/rr rule needs what
// came before, so fold_ascii() applies it.
constexpr char kDropped = '\x80';
constexpr char kDoubleV = '\x81';
constexpr std::array<char, 128> kAsciiFold = [] {
  std::array<char, 128> t{};
  for (std::size_t c = 0; c < t.size(); ++c) {
    std::array<char, 2> chars{};
    CharCursor f{chars.data(), 0};
    fold_ascii_char(static_cast<char>(c), f);
    t[c] = f.size == 0 ? kDropped : f.size == 2 ? kDoubleV : chars[0];
  }
  return t;
}();

// The skeleton of ASCII text: fold_ascii_char of each character, dots kept.
template <typename Out>
void fold_ascii(std::string_view ascii, Out& out) {
  for (const char c : ascii) {
    const char f = kAsciiFold[static_cast<unsigned char>(c) & 0x7f];
    if (f == kDropped) continue;
    if (f == kDoubleV) {
      out.push_back('v');
      out.push_back('v');
      continue;
    }
    if (f == 'm' && !out.empty() && out.back() == 'm') continue;  // rn, nn, rr read as m
    out.push_back(f);
  }
}

// The skeleton of a plain ASCII domain, on the stack (at most twice 253 characters: w is vv).
class SkeletonText {
 public:
  explicit SkeletonText(std::string_view ascii) {
    CharCursor out{buf_.data(), 0};
    fold_ascii(ascii.substr(0, kMaxDomainLength + 1), out);
    size_ = out.size;
  }
  std::string_view view() const { return {buf_.data(), size_}; }

 private:
  std::array<char, 2 * kMaxDomainLength + 2> buf_;
  std::size_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Technique naming. A technique is its place in technique_names(), which is also its rank in
// tie-breaks (most specific first); kNoTechnique stands for a name not in the list.

using TechId = std::uint8_t;
constexpr TechId kNoTechnique = 0xff;

TechId tech_id(std::string_view name) {
  const auto names = technique_names();
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? kNoTechnique : static_cast<TechId>(it - names.begin());
}

struct TechIds {
  TechId homoglyph_unicode = tech_id("homoglyph-unicode");
  TechId homoglyph = tech_id("homoglyph");
  TechId appended_tld = tech_id("appended-tld");
  TechId missing_dot = tech_id("missing-dot");
  TechId dot_to_hyphen = tech_id("dot-to-hyphen");
  TechId subdomain = tech_id("subdomain");
  TechId hyphenation = tech_id("hyphenation");
  TechId repetition = tech_id("repetition");
  TechId transposition = tech_id("transposition");
  TechId keyboard = tech_id("keyboard");
  TechId vowel_swap = tech_id("vowel-swap");
  TechId bitsquatting = tech_id("bitsquatting");
  TechId omission = tech_id("omission");
  TechId insertion = tech_id("insertion");
  TechId replacement = tech_id("replacement");
  TechId tld_label_omission = tech_id("tld-label-omission");
  TechId multi_edit = tech_id("multi-edit");
  TechId tld_swap = tech_id("tld-swap");
  TechId combosquat = tech_id("combosquat");
  std::array<TechId, 256> tld{};  // tld[t]: "tld-" + name of t
  TechIds() {
    tld.fill(kNoTechnique);
    const auto names = technique_names();
    for (std::size_t i = 0; i < names.size() && i < tld.size(); ++i) tld[i] = tech_id("tld-" + std::string(names[i]));
  }
};
const TechIds& techs() {
  static const TechIds ids;
  return ids;
}

std::string_view tech_name(TechId t) {
  const auto names = technique_names();
  return t < names.size() ? names[t] : std::string_view{};
}

// One protect rule as the indexes see it.
struct Target {
  const ProtectRule* rule = nullptr;
  std::string ascii;
  std::u32string text;           // Unicode form, in code points
  std::size_t suffix_start = 0;  // code point where the public suffix starts ("mil": 0)
  std::size_t labels = 0;
  std::string skeleton;
  std::uint64_t allowed = 0;  // bit t: the rule may report technique t
  bool allows_all = false;    // no techniques= or except= option

  bool allows(TechId t) const { return t < 64 ? ((allowed >> t) & 1) != 0 : allows_all; }
};

bool is_ascii_homoglyph(char32_t a, char32_t b) {
  static constexpr char32_t kPairs[][2] = {{U'0', U'o'}, {U'1', U'l'}, {U'1', U'i'}, {U'l', U'i'}};
  for (const auto& p : kPairs) {
    if ((a == p[0] && b == p[1]) || (a == p[1] && b == p[0])) return true;
  }
  return false;
}

// Rows of the three layouts typists most often use; a neighbour is left/right on the same row,
// or touching on the row above (shifted left by half a key) or below (shifted right).
constexpr std::array<std::array<std::string_view, 4>, 3> kLayouts = {{
    {"1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm"},   // QWERTY
    {"1234567890", "qwertzuiop", "asdfghjkl", "yxcvbnm"},   // QWERTZ
    {"1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn"},   // AZERTY
}};

bool is_neighbour_in(const std::array<std::string_view, 4>& rows, char a, char b) {
  for (int r = 0; r < 4; ++r) {
    const std::size_t i = rows[static_cast<std::size_t>(r)].find(a);
    if (i == std::string_view::npos) continue;
    auto in_row = [&](int row, std::size_t lo, std::size_t hi) {
      if (row < 0 || row > 3) return false;
      const std::size_t j = rows[static_cast<std::size_t>(row)].find(b);
      return j != std::string_view::npos && j >= lo && j <= hi;
    };
    return in_row(r, i == 0 ? 0 : i - 1, i + 1) || in_row(r + 1, i == 0 ? 0 : i - 1, i) || in_row(r - 1, i, i + 1);
  }
  return false;
}

bool is_keyboard_neighbour(char32_t a, char32_t b) {
  if (a > 0x7f || b > 0x7f || a == b) return false;
  for (const auto& rows : kLayouts) {
    if (is_neighbour_in(rows, static_cast<char>(a), static_cast<char>(b))) return true;
  }
  return false;
}

std::string keyboard_neighbours(char c) {
  std::string out;
  for (char b = '0'; b <= 'z'; ++b) {
    if (((b >= '0' && b <= '9') || (b >= 'a' && b <= 'z')) && is_keyboard_neighbour(static_cast<unsigned char>(c), static_cast<unsigned char>(b))) {
      out.push_back(b);
    }
  }
  return out;
}

bool is_vowel(char32_t c) { return c == U'a' || c == U'e' || c == U'i' || c == U'o' || c == U'u'; }

bool is_hostname_char(char32_t c) {
  return (c >= U'a' && c <= U'z') || (c >= U'0' && c <= U'9') || c == U'-';
}

bool is_bit_flip(char32_t a, char32_t b) {
  if (a > 0x7f || b > 0x7f || !is_hostname_char(b)) return false;
  const auto x = static_cast<unsigned>(a ^ b);
  return x != 0 && (x & (x - 1)) == 0;
}

bool has_non_ascii(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// Up to five technique ids, most specific first.
struct TechList {
  std::array<TechId, 6> ids{};
  std::size_t size = 0;
  void push_back(TechId t) { ids[size++] = t; }
  bool contains(TechId t) const { return std::find(ids.begin(), ids.begin() + size, t) != ids.begin() + size; }
  void keep_common(const TechList& other) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size; ++i) {
      if (other.contains(ids[i])) ids[kept++] = ids[i];
    }
    size = kept;
  }
};

// Techniques for one edit, most specific first, without the "tld-" prefix.
void op_names(const EditOp& op, std::u32string_view observed, bool in_suffix, TechList& names) {
  const TechIds& t = techs();
  names.size = 0;
  switch (op.kind) {
    case EditKind::Omission:
      names.push_back(t.omission);
      break;
    case EditKind::Transposition:
      names.push_back(t.transposition);
      break;
    case EditKind::Insertion: {
      const std::size_t j = op.observed_pos;
      const bool doubled = (j > 0 && observed[j - 1] == op.observed) ||
                           (j + 1 < observed.size() && observed[j + 1] == op.observed);
      if (op.observed == U'-' && !in_suffix) names.push_back(t.hyphenation);
      if (doubled) names.push_back(t.repetition);
      names.push_back(t.insertion);
      break;
    }
    case EditKind::Replacement:
      if (is_ascii_homoglyph(op.expected, op.observed)) names.push_back(t.homoglyph);
      if (is_keyboard_neighbour(op.expected, op.observed)) names.push_back(t.keyboard);
      if (is_vowel(op.expected) && is_vowel(op.observed)) names.push_back(t.vowel_swap);
      if (is_bit_flip(op.expected, op.observed)) names.push_back(t.bitsquatting);
      names.push_back(t.replacement);
      break;
  }
}

struct Candidate {
  const ProtectRule* rule = nullptr;
  std::string_view protected_domain;  // points into a Target
  std::string_view technique;         // points into technique_names()
  std::uint32_t distance = 0;
  std::size_t rank = 0;
};

// Lowest distance wins, then the lowest rule id, then the most specific technique.
bool better(std::uint32_t distance, std::uint32_t id, std::size_t rank, const std::optional<Candidate>& best) {
  return !best || std::make_tuple(distance, id, rank) < std::make_tuple(best->distance, best->rule->id, best->rank);
}

// True when nothing of this rule at this distance can win any more: the expensive naming of
// the technique can be skipped.
bool beaten(const std::optional<Candidate>& best, std::uint32_t distance, std::uint32_t id) {
  return best && std::make_pair(distance, id) > std::make_pair(best->distance, best->rule->id);
}

void offer(std::optional<Candidate>& best, const Target& t, TechId technique, std::uint32_t distance) {
  if (!t.allows(technique)) return;
  const std::size_t rank = technique == kNoTechnique ? technique_names().size() : technique;
  if (!better(distance, t.rule->id, rank, best)) return;
  best = Candidate{t.rule, t.ascii, tech_name(technique), distance, rank};
}

void merge(std::optional<Candidate>& best, const std::optional<Candidate>& other) {
  if (other && better(other->distance, other->rule->id, other->rank, best)) best = other;
}

// Whether a is strictly better than b (a tie is not).
bool better(const std::optional<Candidate>& a, const Candidate& b) {
  return a && std::make_tuple(a->distance, a->rule->id, a->rank) < std::make_tuple(b.distance, b.rule->id, b.rank);
}

// An edit-distance candidate against the last `labels` labels of a domain that has more: it
// counts only if those labels are not all public suffix (x.qc.ca is somebody's domain under
// the real suffix qc.ca, not a typo of gc.ca), which takes a libpsl lookup, the dearest step
// of a decision. So these are kept aside until every other technique has offered its
// candidates, and libpsl is asked only for those that would still change the verdict. The
// verdict is the first of the lowest (distance, rule id, rank) in the order of offers, so
// dropping a candidate something else beats strictly cannot change it.
struct TailCandidate {
  std::size_t labels = 0;
  Candidate candidate;
};
using TailCandidates = Lazy<SmallVector<TailCandidate, 4>>;

std::string remove_char(std::string_view s, char c) {
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    if (ch != c) out.push_back(ch);
  }
  return out;
}

std::string replace_char(std::string_view s, char from, char to) {
  std::string out(s);
  std::replace(out.begin(), out.end(), from, to);
  return out;
}

// RFC 3492 decoding without the IDNA2008 checks libidn2 applies: a label such as
// "xn---nchen-3ya" ("-ünchen", a bit flip of münchen) is invalid IDNA but still shows the
// reader a near copy of the protected name. Empty on bad punycode.
std::u32string punycode_decode(std::string_view in) {
  constexpr std::uint32_t base = 36, tmin = 1, tmax = 26, skew = 38, damp = 700;
  std::u32string out;
  const std::size_t delim = in.rfind('-');
  std::size_t pos = 0;
  if (delim != std::string_view::npos) {
    for (std::size_t i = 0; i < delim; ++i) {
      if (static_cast<unsigned char>(in[i]) >= 0x80) return {};
      out.push_back(static_cast<char32_t>(in[i]));
    }
    pos = delim + 1;
  }
  std::uint64_t n = 128, i = 0, bias = 72;
  while (pos < in.size()) {
    const std::uint64_t old_i = i;
    std::uint64_t w = 1;
    for (std::uint64_t k = base;; k += base) {
      if (pos >= in.size()) return {};
      const char c = in[pos++];
      std::uint64_t digit = 0;
      if (c >= 'a' && c <= 'z') {
        digit = static_cast<std::uint64_t>(c - 'a');
      } else if (c >= '0' && c <= '9') {
        digit = static_cast<std::uint64_t>(c - '0') + 26;
      } else {
        return {};
      }
      i += digit * w;
      if (i > 0x10FFFF * 64ULL) return {};
      const std::uint64_t t = k <= bias ? tmin : (k >= bias + tmax ? tmax : k - bias);
      if (digit < t) break;
      w *= base - t;
    }
    const std::uint64_t len = out.size() + 1;
    std::uint64_t delta = old_i == 0 ? (i - old_i) / damp : (i - old_i) / 2;
    delta += delta / len;
    std::uint64_t k = 0;
    while (delta > ((base - tmin) * tmax) / 2) {
      delta /= base - tmin;
      k += base;
    }
    bias = k + (base * delta) / (delta + skew);
    n += i / len;
    i %= len;
    if (n > 0x10FFFF || out.size() > 63) return {};
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(i), static_cast<char32_t>(n));
    ++i;
  }
  return out;
}

// The Unicode form with malformed xn-- labels decoded as far as punycode allows.
std::string lenient_unicode(std::string_view unicode) {
  std::string out;
  for (const std::string_view label : split_labels(unicode)) {
    if (!out.empty()) out.push_back('.');
    if (label.starts_with("xn--")) {
      const std::u32string u = punycode_decode(label.substr(4));
      if (!u.empty()) {
        out += utf32_to_utf8(u);
        continue;
      }
    }
    out.append(label);
  }
  return out;
}

}  // namespace

std::string_view to_string(Explanation::Verdict v) {
  switch (v) {
    case Explanation::Verdict::Match: return "match";
    case Explanation::Verdict::NoMatch: return "no match";
    case Explanation::Verdict::Invalid: return "invalid";
  }
  return "unknown";
}

std::string_view to_string(Explanation::Reason r) {
  switch (r) {
    case Explanation::Reason::Lookalike: return "lookalike";
    case Explanation::Reason::WatchList: return "watch-list";
    case Explanation::Reason::Allowed: return "allowed";
    case Explanation::Reason::AtOrUnderProtected: return "at-or-under-protected";
    case Explanation::Reason::NoCandidate: return "no-candidate";
    case Explanation::Reason::InvalidDomain: return "invalid-domain";
  }
  return "unknown";
}

std::span<const std::string_view> variant_techniques() {
  static constexpr std::array<std::string_view, 18> kNames = {
      "omission",     "insertion",   "repetition",   "replacement",  "transposition", "vowel-swap",
      "hyphenation",  "bitsquatting", "homoglyph",   "subdomain",    "missing-dot",   "dot-to-hyphen",
      "appended-tld", "tld-typo",    "tld-label-omission", "cyrillic", "tld-swap",     "combosquat"};
  return kNames;
}

// Everything one decision found, for match() and explain().
struct Evaluation {
  // The normalised domain: in `plain` when it is plain ASCII without xn-- labels (then ascii
  // and unicode are one), else in `owned`. Both are NUL-terminated for libpsl.
  DomainBuffer plain;
  NormalisedDomain owned;
  std::string_view ascii;
  std::string_view unicode;
  bool malformed_idn = false;
  std::optional<DomainError> error;
  const ProtectRule* watched = nullptr;
  const AllowRule* allow = nullptr;
  std::string_view owner;  // a protected domain it is at or under
  std::optional<Candidate> best;
  std::string registrable;
  std::string suffix;
};

// The observed domain's public suffix, asked of libpsl on first use only: most lookups never
// need it (see evaluate()), and one libpsl lookup costs more than the rest of the decision.
// suffix() ends where the domain does, so it is NUL-terminated too.
class SuffixInfo {
 public:
  SuffixInfo(const psl_ctx_t* psl, std::string_view ascii_z, std::size_t labels)
      : psl_(psl), ascii_(ascii_z), labels_(labels) {}
  std::string_view suffix() { return resolve().suffix_; }
  std::string_view left() { return resolve().left_; }  // the labels before the suffix
  std::size_t suffix_labels() { return resolve().suffix_labels_; }
  const char* registrable() { return resolve().registrable_; }

 private:
  SuffixInfo& resolve() {
    if (resolved_) return *this;
    resolved_ = true;
    registrable_ = psl_registrable_domain(psl_, ascii_.data());
    suffix_ = ascii_;
    suffix_labels_ = labels_;
    if (registrable_ != nullptr) {
      const std::string_view r(registrable_);
      suffix_ = r.substr(std::min(r.find('.') + 1, r.size()));
      left_ = ascii_.substr(0, ascii_.size() - suffix_.size() - 1);
      suffix_labels_ = count_labels(suffix_);
    }
    return *this;
  }

  const psl_ctx_t* psl_;
  std::string_view ascii_;  // NUL-terminated
  std::size_t labels_;
  bool resolved_ = false;
  const char* registrable_ = nullptr;
  std::string_view suffix_;
  std::string_view left_;
  std::size_t suffix_labels_ = 0;
};

// Exact domains (protected ones, for "at or under"), looked up by view without allocating.
class ExactIndex {
 public:
  // keys must outlive the index; the first of equal keys wins.
  void build(std::vector<std::string_view> keys) {
    keys_ = std::move(keys);
    for (const std::string_view k : keys_) lengths_.set(std::min(k.size(), lengths_.size() - 1));
    std::size_t n = 16;
    while (n < keys_.size() * 2) n <<= 1;
    slots_.assign(n, Slot{});
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const std::uint64_t h = hash(keys_[i]);
      for (std::size_t b = h & (n - 1);; b = (b + 1) & (n - 1)) {
        if (slots_[b].index_plus1 == 0) {
          slots_[b] = Slot{h, static_cast<std::uint32_t>(i + 1)};
          break;
        }
        if (slots_[b].hash == h && keys_[slots_[b].index_plus1 - 1] == keys_[i]) break;
      }
    }
    // Most domains looked up are no protected domain, nor is any of their parents.
    filtered_ = n * sizeof(Slot) > kFilterTablesFrom;
    if (filtered_) {
      filter_.reset(keys_.size());
      for (const std::string_view k : keys_) filter_.add(hash(k));
    }
  }
  // The stored key equal to `key`, or empty.
  std::string_view find(std::string_view key) const {
    // A parent like "com" is asked for on most lookups: by its length alone, no key has it.
    if (!lengths_.test(std::min(key.size(), lengths_.size() - 1))) return {};
    const std::uint64_t h = hash(key);
    if (filtered_ && !filter_.may_contain(h)) return {};
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t b = h & mask; slots_[b].index_plus1 != 0; b = (b + 1) & mask) {
      if (slots_[b].hash == h && keys_[slots_[b].index_plus1 - 1] == key) return keys_[slots_[b].index_plus1 - 1];
    }
    return {};
  }
  std::size_t memory_bytes() const {
    return slots_.capacity() * sizeof(Slot) + keys_.capacity() * sizeof(std::string_view) + filter_.memory_bytes();
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint32_t index_plus1 = 0;
  };
  static std::uint64_t hash(std::string_view s) { return key_hash(KeyKind::Ascii, s, 0); }
  std::vector<std::string_view> keys_;
  std::vector<Slot> slots_;
  KeyFilter filter_;
  bool filtered_ = false;
  std::bitset<kMaxDomainLength + 2> lengths_;  // lengths of the keys (the last: all longer ones)
};

// unordered_map keyed by std::string, found by string_view without building a string.
struct ViewHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using ViewMap = std::unordered_map<std::string, V, ViewHash, std::equal_to<>>;

// A bounded, set-associative verdict cache in shards, each behind its own lock, so threads
// rarely contend; an entry keeps the raw input so a hash collision is never a wrong answer.
// Slots are 16 bytes (hash and entry pointer) and a shard's array is allocated on its first
// verdict, so an idle or small cache costs next to nothing at start-up: the 16,384 full entries
// it replaced (about 200 bytes each, strings included) were constructed, page-faulted in and
// destroyed on every run, which cost more than the replay of a short capture.
class VerdictCache {
 public:
  explicit VerdictCache(std::size_t entries) {
    if (entries == 0) return;
    std::size_t per = kWays;
    while (per * kShards < entries) per <<= 1;
    per_shard_ = per;
  }
  bool enabled() const { return per_shard_ != 0; }

  bool get(std::uint64_t h, std::string_view input, std::optional<Match>& out) const {
    const Shard& s = shards_[h % kShards];
    std::lock_guard lock(s.mu);
    if (!s.slots) return false;
    const Slot* set = &s.slots[set_of(h)];
    for (std::size_t w = 0; w < kWays; ++w) {
      const Slot& slot = set[w];
      if (slot.entry && slot.hash == h && slot.entry->input == input) {
        out = slot.entry->result;
        return true;
      }
    }
    return false;
  }
  void put(std::uint64_t h, std::string_view input, const std::optional<Match>& result) const {
    Shard& s = shards_[h % kShards];
    std::lock_guard lock(s.mu);
    if (!s.slots) s.slots = std::make_unique<Slot[]>(per_shard_);
    Slot* set = &s.slots[set_of(h)];
    // An empty way if there is one, else round robin within the set.
    std::size_t way = s.next++ % kWays;
    for (std::size_t w = 0; w < kWays; ++w) {
      if (!set[w].entry) {
        way = w;
        break;
      }
    }
    Slot& slot = set[way];
    if (!slot.entry) slot.entry = std::make_unique<Entry>();  // an evicted entry is reused
    slot.hash = h;
    slot.entry->input.assign(input);
    slot.entry->result = result;
  }

 private:
  static constexpr std::size_t kShards = 64;
  static constexpr std::size_t kWays = 4;  // set-associative: fewer evictions by collision
  struct Entry {
    std::string input;
    std::optional<Match> result;
  };
  struct Slot {
    std::uint64_t hash = 0;
    std::unique_ptr<Entry> entry;  // null: the slot is free
  };
  struct Shard {
    mutable std::mutex mu;
    std::unique_ptr<Slot[]> slots;  // per_shard_ of them once the shard has a verdict
    std::size_t next = 0;
  };
  std::size_t set_of(std::uint64_t h) const { return ((h / kShards) & (per_shard_ / kWays - 1)) * kWays; }

  mutable std::array<Shard, kShards> shards_;
  std::size_t per_shard_ = 0;
};

namespace {
std::atomic<std::uint64_t> g_matchers_made{0};  // for Matcher::id()
}  // namespace

struct Matcher::Impl {
  explicit Impl(std::size_t cache_entries) : cache(cache_entries) {}
  const std::uint64_t id = g_matchers_made.fetch_add(1, std::memory_order_relaxed) + 1;
  VerdictCache cache;
  std::shared_ptr<const RuleSet> rules;
  std::unique_ptr<psl_ctx_t, PslFree> psl_owned;
  const psl_ctx_t* psl = nullptr;
  std::unique_ptr<USpoofChecker, SpoofClose> spoof;

  ExactIndex protected_exact;  // the protected domains (ascii)
  ViewMap<std::vector<const ProtectRule*>> watch_exact;
  ViewMap<std::vector<const ProtectRule*>> watch_below;
  ViewMap<const AllowRule*> allow_exact;
  ViewMap<const AllowRule*> allow_below;

  std::vector<Target> targets;
  std::vector<std::size_t> domain_label_counts;  // distinct label counts of domain rules
  std::array<DeletionIndex, 128> domain_index;   // by label count (a domain has < 128 labels)
  DeletionIndex tld_index;
  bool has_tld_targets = false;
  HashBuckets keys;  // KeyKind families
  // SwapName and PartStarred, probed only when nothing else matched: apart, they do not fill
  // the buckets every lookup probes (a probe reads a bucket up to its first empty slot).
  HashBuckets name_reuse_keys;
  std::uint32_t key_kinds = 0;  // bit k: some key of KeyKind k exists (skips probes that cannot hit)
  static constexpr std::size_t kKeyLengths = 512;  // the last one stands for all longer keys
  std::array<std::bitset<kKeyLengths>, 16> key_lengths{};  // by KeyKind: lengths of its keys

  std::vector<std::size_t> swap_label_counts;  // distinct label counts of SwapName keys, sorted
  KeywordTrie keyword_starts{false};           // combosquat keywords (builtin and `keywords`)
  KeywordTrie keyword_ends{true};

  // Appends the fold of one non-ASCII code point: its Latin base letter when its name says it
  // has one, else ICU's UTS #39 prototype (Cyrillic а -> a), marks dropped.
  void fold_code_point(char32_t c, std::string& out) const {
    if (c < 0x80) {
      fold_ascii_char(static_cast<char>(c), out);
      return;
    }
    if (is_combining(c)) return;
    if (const char b = latin_base_letter(c); b != 0) {
      fold_ascii_char(b, out);
      return;
    }
    UChar u[2];
    int32_t n = 0;
    UBool err = 0;
    U16_APPEND(u, n, 2, static_cast<UChar32>(c), err);
    (void)err;  // a code point always fits in two UTF-16 units
    UChar sk[32];
    UErrorCode st = U_ZERO_ERROR;
    const int32_t k = uspoof_getSkeleton(spoof.get(), 0, u, n, sk, 32, &st);
    if (U_FAILURE(st) || k <= 0) {
      out += utf32_to_utf8(std::u32string_view(&c, 1));
      return;
    }
    for (int32_t i = 0; i < k;) {
      UChar32 s = 0;
      U16_NEXT(sk, i, k, s);
      const auto sc = static_cast<char32_t>(s);
      if (sc < 0x80) {
        fold_ascii_char(static_cast<char>(sc), out);
      } else if (is_combining(sc)) {
        continue;
      } else if (const char b = latin_base_letter(sc); b != 0) {
        fold_ascii_char(b, out);
      } else {
        out += utf32_to_utf8(std::u32string_view(&sc, 1));
      }
    }
  }

  // The homoglyph skeleton: equal for strings a reader would take for one another.
  std::string skeleton(std::string_view utf8) const {
    std::string out;
    out.reserve(utf8.size() + 4);
    if (!has_non_ascii(utf8)) {
      fold_ascii(utf8, out);
      return out;
    }
    for (const char32_t c : utf8_to_utf32(utf8)) {
      if (c == U'.') {
        out.push_back('.');
      } else {
        fold_code_point(c, out);
      }
    }
    return out;
  }

  // Labels in the public suffix of a domain: the real list first, the last label otherwise.
  std::size_t suffix_labels(const std::string& ascii) const {
    const char* reg = psl_registrable_domain(psl, ascii.c_str());
    if (reg == nullptr) return 1;
    return count_labels(reg) - 1;
  }

  bool is_public_suffix(const char* s) const {
    return psl_is_public_suffix2(psl, s, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
  }
  bool is_public_suffix(const std::string& s) const { return is_public_suffix(s.c_str()); }

  void add_key(KeyKind kind, std::string_view key, std::size_t labels, std::uint32_t target) {
    (is_name_reuse(kind) ? name_reuse_keys : keys).add(key_hash(kind, key, labels), target);
    key_kinds |= std::uint32_t{1} << static_cast<unsigned>(kind);
    key_lengths[static_cast<unsigned>(kind)].set(std::min(key.size(), kKeyLengths - 1));
  }
  static bool is_name_reuse(KeyKind kind) { return kind == KeyKind::SwapName || kind == KeyKind::PartStarred; }
  bool has_keys(KeyKind kind) const { return (key_kinds >> static_cast<unsigned>(kind)) & 1; }
  // Whether some key of this family has this length: most keys a lookup could ask for are
  // ruled out by this alone, before they are gathered and hashed.
  bool may_have_key(KeyKind kind, std::size_t length) const {
    return key_lengths[static_cast<unsigned>(kind)].test(std::min(length, kKeyLengths - 1));
  }
  const HashBuckets& table_of(KeyKind kind) const { return is_name_reuse(kind) ? name_reuse_keys : keys; }
  template <typename F>
  void find_key(KeyKind kind, std::string_view key, std::size_t labels, F&& f) const {
    if (may_have_key(kind, key.size())) table_of(kind).find(key_hash(kind, key, labels), f);
  }
  template <typename F>
  void find_key(const KeyHasher& key, F&& f) const {
    table_of(key.kind()).find(key.finish(), f);
  }
  // Whether any target has this key (a pre-check before asking libpsl what the key is).
  bool any_key(KeyKind kind, std::string_view key, std::size_t labels) const {
    bool found = false;
    find_key(kind, key, labels, [&](std::uint32_t) { found = true; });
    return found;
  }

  void add_target(const ProtectRule& rule) {
    auto norm = normalise_domain(rule.domain);
    if (!norm) return;  // the loader validated it; a hand-built RuleSet may not have
    Target t;
    t.rule = &rule;
    t.allows_all = rule.techniques.empty() && rule.except_techniques.empty();
    const auto listed = [](const std::vector<std::string>& names, std::string_view name) {
      return std::find(names.begin(), names.end(), name) != names.end();
    };
    for (std::size_t i = 0; i < technique_names().size() && i < 64; ++i) {
      const std::string_view name = technique_names()[i];
      if ((rule.techniques.empty() || listed(rule.techniques, name)) && !listed(rule.except_techniques, name)) {
        t.allowed |= std::uint64_t{1} << i;
      }
    }
    t.ascii = norm->ascii;
    t.text = utf8_to_utf32(norm->unicode);
    t.labels = count_labels(t.ascii);
    if (t.labels >= domain_index.size()) return;
    const std::size_t k = t.labels == 1 ? 1 : std::min(suffix_labels(t.ascii), t.labels - 1);
    const std::string_view suffix_u = trailing_labels(norm->unicode, k);
    t.suffix_start = t.text.size() - utf8_to_utf32(suffix_u).size();
    const auto idx = static_cast<std::uint32_t>(targets.size());
    const std::string_view a = t.ascii;
    if (t.labels == 1) {
      has_tld_targets = true;
      tld_index.add(t.text, rule.max_distance, idx);
      add_key(KeyKind::TldName, a, 1, idx);
    } else {
      domain_index[t.labels].add(t.text, rule.max_distance, idx);
      if (std::find(domain_label_counts.begin(), domain_label_counts.end(), t.labels) == domain_label_counts.end()) {
        domain_label_counts.push_back(t.labels);
      }
      add_key(KeyKind::Ascii, a, t.labels, idx);
      // Structural keys in U-labels: a dot removed from an IDN changes its whole punycode.
      const std::string_view u = norm->unicode;
      add_key(KeyKind::Unicode, u, t.labels, idx);
      for (std::size_t i = 0; i < u.size(); ++i) {
        if (u[i] != '.') continue;
        std::string joined = std::string(u.substr(0, i)).append(u.substr(i + 1));
        add_key(KeyKind::OneDotRemoved, joined, t.labels, idx);
        joined.insert(i, 1, '-');
        add_key(KeyKind::OneDotHyphen, joined, t.labels, idx);
      }
      add_key(KeyKind::Dotless, remove_char(u, '.'), 0, idx);
      add_key(KeyKind::DotsHyphens, replace_char(u, '.', '-'), 0, idx);
      add_key(KeyKind::Dehyphenated, remove_char(a, '-'), t.labels, idx);
      // mod.uk for mod.gov.uk: a label of a multi-label suffix left out.
      if (k >= 2) {
        const std::vector<std::string_view> ls = split_labels(a);
        for (std::size_t drop = ls.size() - k; drop + 1 < ls.size(); ++drop) {
          std::string s;
          for (std::size_t i = 0; i < ls.size(); ++i) {
            if (i == drop) continue;
            if (!s.empty()) s.push_back('.');
            s.append(ls[i]);
          }
          add_key(KeyKind::LabelOmitted, s, t.labels - 1, idx);
        }
      }
      t.skeleton = skeleton(norm->unicode);
      add_key(KeyKind::Skeleton, t.skeleton, t.labels, idx);
      // combosquat with a word of a hyphenated name replaced (rolls-login.com, login-royce.com).
      const std::vector<std::string_view> ul = split_labels(u);
      for (std::size_t i = 0; i + 1 < ul.size(); ++i) {
        for (std::size_t ps = 0; ul[i].find('-') != std::string_view::npos && ps <= ul[i].size();) {
          const std::size_t pe = std::min(ul[i].find('-', ps), ul[i].size());
          const std::size_t at = static_cast<std::size_t>(ul[i].data() - u.data());
          add_key(KeyKind::PartStarred, std::string(u.substr(0, at + ps)).append("*").append(u.substr(at + pe)), t.labels, idx);
          ps = pe + 1;
        }
      }
      // tld-swap: what is left without the suffix (army, se.ibm), or without its last labels
      // (canada.gc for canada.gc.ca, bbc.co for bbc.co.uk), goes before another suffix.
      for (std::size_t r = 1; r <= k; ++r) {
        const std::size_t kept = t.labels - r;
        add_key(KeyKind::SwapName, a.substr(0, a.size() - trailing_labels(a, r).size() - 1), kept, idx);
        if (std::find(swap_label_counts.begin(), swap_label_counts.end(), kept) == swap_label_counts.end()) {
          swap_label_counts.push_back(kept);
        }
      }
    }
    targets.push_back(std::move(t));
  }

  void build() {
    for (const AllowRule& a : rules->allows()) (a.wildcard ? allow_below : allow_exact).emplace(a.domain, &a);
    for (const ProtectRule& r : rules->rules()) {
      if (r.kind == RuleKind::Watch) {
        (r.wildcard ? watch_below : watch_exact)[r.domain].push_back(&r);
      } else {
        add_target(r);
      }
    }
    std::vector<std::string_view> exact;
    exact.reserve(targets.size());
    for (const Target& t : targets) exact.push_back(t.ascii);
    protected_exact.build(std::move(exact));
    std::sort(domain_label_counts.begin(), domain_label_counts.end());
    std::sort(swap_label_counts.begin(), swap_label_counts.end());
    for (const std::string_view w : builtin_keywords()) {
      keyword_starts.add(w);
      keyword_ends.add(w);
    }
    for (const std::string& w : rules->keywords()) {
      keyword_starts.add(w);
      keyword_ends.add(w);
    }
    const auto text_of = [&](std::uint32_t idx) { return std::u32string_view(targets[idx].text); };
    for (DeletionIndex& i : domain_index) i.finish(text_of);
    tld_index.finish(text_of);
    keys.finish();
    name_reuse_keys.finish();
  }

  void evaluate(std::string_view input, Evaluation& e, bool look_behind_allow) const;
  void match_edits(std::string_view unicode, const LabelStarts& unicode_labels, const LabelStarts& ascii_labels,
                   std::optional<Candidate>& best, TailCandidates& tails) const;
  void match_edits_at(std::size_t n, std::string_view obs_utf8, bool plain, std::string_view obs_ascii, std::string_view skel,
                      std::optional<Candidate>& best) const;
  void match_structure(const Evaluation& e, const LabelStarts& ascii_labels, const LabelStarts& u_labels, SuffixInfo& sfx,
                       std::optional<Candidate>& best) const;
  void match_tld(const LabelStarts& ascii_labels, SuffixInfo& sfx, std::optional<Candidate>& best) const;
  void match_name_reuse(const LabelStarts& ascii_labels, std::string_view u, const LabelStarts& u_labels,
                        SuffixInfo& sfx, std::optional<Candidate>& best) const;
  bool tld_candidates(std::u32string_view obs, TargetList& out) const;
  void offer_script(const Target& t, std::u32string_view observed, std::uint32_t distance, bool all_in_suffix,
                    bool same_skeleton, std::optional<Candidate>& best) const;
  Match to_match(const Evaluation& e, const Candidate& c) const;
};

// `distance`: the edit distance of the two texts, already known to be within the rule's.
void Matcher::Impl::offer_script(const Target& t, std::u32string_view observed, std::uint32_t distance,
                                 bool all_in_suffix, bool same_skeleton, std::optional<Candidate>& best) const {
  BoundedEditScript bounded;
  EditScript full;
  std::span<const EditOp> ops;
  if (osa_script_bounded(t.text, observed, distance, bounded)) {
    ops = std::span<const EditOp>(bounded.ops.data(), bounded.distance);
  } else {
    full = osa_script(t.text, observed);
    ops = full.ops;
  }
  if (distance == 0 || distance > t.rule->max_distance) return;
  const TechIds& tech = techs();
  TechList common;
  TechList names;
  bool first = true;
  bool suffix_state = false;
  bool mixed = false;
  for (const EditOp& op : ops) {
    const bool in_suffix = all_in_suffix || op.protected_pos >= t.suffix_start;
    op_names(op, observed, in_suffix, names);
    if (first) {
      common = names;
      suffix_state = in_suffix;
      first = false;
      continue;
    }
    if (in_suffix != suffix_state) mixed = true;
    common.keep_common(names);
  }
  const TechId fallback = same_skeleton ? tech.homoglyph : tech.multi_edit;
  if (mixed) {
    offer(best, t, fallback, distance);
    return;
  }
  if (common.size == 0) common.push_back(fallback);
  for (std::size_t i = 0; i < common.size; ++i) {
    const TechId name = suffix_state ? tech.tld[common.ids[i]] : common.ids[i];
    if (t.allows(name)) {
      offer(best, t, name, distance);
      return;
    }
  }
}

// Edit-distance typos and homoglyphs of the protected domains with n labels, against the
// observed domain's last n labels.
// `plain`: obs_utf8 is all ASCII, so its code points are its bytes.
void Matcher::Impl::match_edits_at(std::size_t n, std::string_view obs_utf8, bool plain, std::string_view obs_ascii,
                                   std::string_view skel, std::optional<Candidate>& best) const {
  std::array<char32_t, kMaxText> obs_buf;
  std::size_t obs_size = 0;
  if (plain) {
    obs_size = std::min(obs_utf8.size(), obs_buf.size());
    for (std::size_t i = 0; i < obs_size; ++i) obs_buf[i] = static_cast<unsigned char>(obs_utf8[i]);
  } else {
    obs_size = utf8_to_utf32(obs_utf8, obs_buf);
  }
  const std::u32string_view obs(obs_buf.data(), obs_size);
  // The observed text is compared with every candidate: bit-parallel when it fits a word.
  Lazy<OsaPattern> pattern;
  auto distance_to = [&](const Target& t, std::uint32_t cap) {
    if (obs.size() > OsaPattern::kMaxLength) return osa_distance(t.text, obs, cap);
    return pattern.get(obs).distance(t.text);
  };
  // Offers the candidates in index order.
  auto offer_candidates = [&](TargetList& candidates, std::optional<Candidate>& into) {
    if (candidates.empty()) return;
    candidates.sort_unique();
    // With many rules each candidate's target, rule and text are cache misses, three in a
    // chain: fetched a level at a time for all candidates, they overlap instead.
    for (const std::uint32_t idx : candidates) __builtin_prefetch(&targets[idx]);
    for (const std::uint32_t idx : candidates) {
      __builtin_prefetch(targets[idx].rule);
      __builtin_prefetch(targets[idx].text.data());
    }
    for (const std::uint32_t idx : candidates) {
      const Target& t = targets[idx];
      if (t.labels != n) continue;
      const std::uint32_t cap = t.rule->max_distance;
      const std::uint32_t dist = distance_to(t, cap);
      if (dist < 1 || dist > cap || beaten(into, dist, t.rule->id)) continue;
      offer_script(t, obs, dist, false, t.skeleton == skel, into);
    }
  };
  // Every candidate one edit away is found by the variants of at most one deletion, which the
  // query tests first. If the best after those is within one edit, the deeper variants can only
  // find candidates two or more away, which cannot beat it: the query stops there, and that
  // best is the verdict offering all of them in index order would give (the lowest come first
  // among these as among all). Otherwise every candidate is offered afresh, in index order.
  TargetList candidates;
  std::optional<Candidate> trial;
  bool settled = false;
  domain_index[n].query(obs, candidates, [&](TargetList& found) {
    trial = best;
    offer_candidates(found, trial);
    settled = trial && trial->distance <= 1;
    return settled;
  });
  if (settled) {
    best = trial;
  } else {
    offer_candidates(candidates, best);
  }
  // Homoglyphs: same skeleton, whatever the edit distance ("rn" for "m" is two edits).
  find_key(KeyKind::Skeleton, skel, n, [&](std::uint32_t idx) {
    const Target& t = targets[idx];
    if (t.labels != n || t.ascii == obs_ascii || t.skeleton != skel) return;
    const bool non_ascii = has_non_ascii(obs_utf8);
    const std::uint32_t dist = distance_to(t, 253);
    // Within distance, the edit script already named it (keyboard beats homoglyph for n/m).
    if (!non_ascii && dist <= t.rule->max_distance) return;
    offer(best, t, non_ascii ? techs().homoglyph_unicode : techs().homoglyph, dist);
  });
}

void Matcher::Impl::match_edits(std::string_view unicode, const LabelStarts& unicode_labels, const LabelStarts& ascii_labels,
                                std::optional<Candidate>& best, TailCandidates& tails) const {
  const std::size_t labels = ascii_labels.count();
  // A plain ASCII domain's skeleton is computed once: its last n labels fold to the skeleton's
  // last n labels (dots are kept, and no fold reaches across one).
  // The same LabelStarts for both: evaluate() found the domain to be its own A-labels.
  const bool plain = &unicode_labels == &ascii_labels || !has_non_ascii(unicode);
  const std::optional<SkeletonText> whole = plain ? std::optional<SkeletonText>(std::in_place, unicode) : std::nullopt;
  const std::optional<LabelStarts> skel_labels =
      plain ? std::optional<LabelStarts>(std::in_place, whole->view()) : std::nullopt;
  for (const std::size_t n : domain_label_counts) {
    if (n > labels) break;
    const std::string_view obs_utf8 = unicode_labels.tail(n);
    const std::string_view obs_ascii = ascii_labels.tail(n);
    std::string skel_owned;
    if (!plain) skel_owned = skeleton(obs_utf8);
    const std::string_view skel = plain ? skel_labels->tail(n) : std::string_view(skel_owned);
    if (labels == n) {
      match_edits_at(n, obs_utf8, plain, obs_ascii, skel, best);
      continue;
    }
    // Fewer labels than the domain has: see TailCandidates.
    std::optional<Candidate> local;
    match_edits_at(n, obs_utf8, plain, obs_ascii, skel, local);
    if (local) tails.get().push_back({n, *local});
  }
}

void Matcher::Impl::match_structure(const Evaluation& e, const LabelStarts& ascii_labels, const LabelStarts& u_labels,
                                    SuffixInfo& sfx, std::optional<Candidate>& best) const {
  const std::string_view ascii = e.ascii;
  const std::string_view u = e.unicode;
  const std::size_t labels = ascii_labels.count();
  const bool has_hyphen = ascii.find('-') != std::string_view::npos;
  for (const std::size_t n : domain_label_counts) {
    // hyphenation: boe-ing.com for boeing.com, any number of added hyphens.
    if (has_hyphen && n <= labels && has_keys(KeyKind::Dehyphenated)) {
      const std::string_view obs = ascii_labels.tail(n);
      const auto hyphens = static_cast<std::size_t>(std::count(obs.begin(), obs.end(), '-'));
      if (may_have_key(KeyKind::Dehyphenated, obs.size() - hyphens)) {
        find_key(KeyHasher(KeyKind::Dehyphenated, n).add_without(obs, '-'), [&](std::uint32_t idx) {
          const Target& t = targets[idx];
          const auto added = std::count(obs.begin(), obs.end(), '-') - std::count(t.ascii.begin(), t.ascii.end(), '-');
          if (t.labels == n && added > 0) offer(best, t, techs().hyphenation, static_cast<std::uint32_t>(added));
        });
      }
    }
    // tld-label-omission: mod.uk for mod.gov.uk.
    if (n >= 2 && n - 1 <= labels) {
      find_key(KeyKind::LabelOmitted, ascii_labels.tail(n - 1), n - 1, [&](std::uint32_t idx) {
        if (targets[idx].labels == n) offer(best, targets[idx], techs().tld_label_omission, 1);
      });
    }
    // subdomain: na.to.int for nato.int (a dot inserted), compared in U-labels since a dot
    // inside an IDN label splits its punycode too (bü.cher.de for bücher.de).
    if (n + 1 <= labels) {
      const std::string_view obs = u_labels.tail(n + 1);
      for (std::size_t i = 0; i < obs.size() && may_have_key(KeyKind::Unicode, obs.size() - 1); ++i) {
        if (obs[i] != '.') continue;
        find_key(KeyHasher(KeyKind::Unicode, n).add(obs.substr(0, i)).add(obs.substr(i + 1)), [&](std::uint32_t idx) {
          offer(best, targets[idx], techs().subdomain, 1);
        });
      }
    }
  }
  // Every label boundary of the observed domain, and its end: the protected domain followed by
  // more labels is appended-tld (army.mil.com, nato.int.ru, army.mil.evil.com; "uk.com" is
  // itself a public suffix, so not just the public suffix counts); with a dot removed or
  // turned into a hyphen it is missing-dot (seibm.com, canada.gcca.ca, se.ibmcom.com) or
  // dot-to-hyphen (se-ibm.com, interieur.gouv-fr.com), whatever follows.
  const bool u_hyphen = u.find('-') != std::string_view::npos;
  const std::size_t u_count = u_labels.count();
  for (std::size_t prefix_labels = 1; prefix_labels <= u_count; ++prefix_labels) {
    const bool before_end = prefix_labels < u_count;
    for (const std::size_t n : domain_label_counts) {
      if (n - 1 > prefix_labels) break;
      const std::string_view shorter = u_labels.tail_of_prefix(prefix_labels, n - 1);
      find_key(KeyKind::OneDotRemoved, shorter, n, [&](std::uint32_t idx) {
        offer(best, targets[idx], techs().missing_dot, 1);
      });
      if (u_hyphen) {
        find_key(KeyKind::OneDotHyphen, shorter, n, [&](std::uint32_t idx) {
          offer(best, targets[idx], techs().dot_to_hyphen, 1);
        });
      }
      if (before_end && n <= prefix_labels) {
        find_key(KeyKind::Unicode, u_labels.tail_of_prefix(prefix_labels, n), n, [&](std::uint32_t idx) {
          offer(best, targets[idx], techs().appended_tld, 1);
        });
      }
    }
  }
  // With a new suffix, the name left of the public suffix: missing-dot (armymil.com for
  // army.mil) or dot-to-hyphen (army-mil.com, nato-int.com). libpsl says which label that is,
  // asked only when some label other than the last could be one.
  const bool dotless = has_keys(KeyKind::Dotless);
  const bool dots_hyphens = has_keys(KeyKind::DotsHyphens) && u_hyphen;
  bool name_may_match = false;
  std::size_t start = 0;
  for (std::size_t j = 0; j + 1 < labels && (dotless || dots_hyphens) && !name_may_match; ++j) {
    const std::size_t dot = u.find('.', start);
    const std::string_view label = u.substr(start, dot - start);
    start = dot + 1;
    name_may_match = (dotless && any_key(KeyKind::Dotless, label, 0)) ||
                     (dots_hyphens && label.find('-') != std::string_view::npos && any_key(KeyKind::DotsHyphens, label, 0));
  }
  if (name_may_match && !sfx.left().empty()) {
    const std::string_view name = split_labels(u)[count_labels(sfx.left()) - 1];
    find_key(KeyKind::Dotless, name, 0, [&](std::uint32_t idx) {
      const Target& t = targets[idx];
      offer(best, t, techs().missing_dot, static_cast<std::uint32_t>(t.labels - 1));
    });
    if (name.find('-') != std::string_view::npos) {
      find_key(KeyKind::DotsHyphens, name, 0, [&](std::uint32_t idx) {
        const Target& t = targets[idx];
        offer(best, t, techs().dot_to_hyphen, static_cast<std::uint32_t>(t.labels - 1));
      });
    }
  }
  // appended-tld for protected TLDs: the TLD as a label inside the subdomain part, after a
  // name (army.mil.evil.com for mil). Not in the registrable name itself: mil.ru, mil.com are
  // somebody's own domains, and x.mil.ml is already a TLD typo. The subdomain part has at
  // most labels - 1 labels, so the labels looked at are among 1 .. labels - 3.
  if (labels >= 4 && has_keys(KeyKind::TldName)) {
    bool any = false;
    for (std::size_t i = 1; i + 3 <= labels && !any; ++i) {
      const std::size_t from = ascii_labels.start_of(i);  // label i, without a vector of them
      any = any_key(KeyKind::TldName, ascii.substr(from, ascii_labels.end_of(i + 1) - from), 1);
    }
    if (any && count_labels(sfx.left()) >= 3) {
      const std::vector<std::string_view> sub = split_labels(sfx.left());
      for (std::size_t i = 1; i + 1 < sub.size(); ++i) {
        find_key(KeyKind::TldName, sub[i], 1, [&](std::uint32_t idx) {
          offer(best, targets[idx], techs().appended_tld, 1);
        });
      }
    }
  }
}

// Protected TLDs within their rule's distance of `obs`.
bool Matcher::Impl::tld_candidates(std::u32string_view obs, TargetList& out) const {
  out.clear();
  tld_index.query(obs, out);
  out.sort_unique();
  std::size_t kept = 0;
  for (const std::uint32_t idx : out) {
    const Target& t = targets[idx];
    if (t.labels != 1) continue;
    const std::uint32_t dist = osa_distance(t.text, obs, t.rule->max_distance);
    if (dist >= 1 && dist <= t.rule->max_distance) out.begin()[kept++] = idx;
  }
  out.truncate(kept);
  return kept != 0;
}

void Matcher::Impl::match_tld(const LabelStarts& ascii_labels, SuffixInfo& sfx, std::optional<Candidate>& best) const {
  const std::size_t labels = ascii_labels.count();
  if (!has_tld_targets) return;
  // Every name under the observed suffix would match, so only suffixes that really exist, and
  // only with a name before them. Which labels are the suffix is asked of libpsl only when
  // some protected TLD is close to one of the possible suffixes (a proper tail of the domain).
  std::array<char32_t, kMaxText> buf;
  TargetList candidates;
  bool close = false;
  for (std::size_t k = 1; k < labels && !close; ++k) {
    const std::string_view tail = ascii_labels.tail(k);
    if (!tld_index.may_find(tail)) continue;  // A-labels: ASCII
    close = tld_candidates(std::u32string_view(buf.data(), utf8_to_utf32(tail, buf)), candidates);
  }
  if (!close || sfx.left().empty()) return;
  const std::string_view suffix = sfx.suffix();
  const std::u32string_view obs(buf.data(), utf8_to_utf32(suffix, buf));
  if (!tld_candidates(obs, candidates) || !is_public_suffix(std::string(suffix))) return;
  for (const std::uint32_t idx : candidates) {
    const Target& t = targets[idx];
    offer_script(t, obs, osa_distance(t.text, obs, t.rule->max_distance), true, false, best);
  }
}

// tld-swap (army.com, se.ibm.net, mail.army.com for army.mil ...) and combosquat (nato-login.int,
// securenato.int, canada.gclogin.ca): the protected name itself, unedited, in a domain somebody
// else registered. Tried only when nothing else matched, so they never change a verdict another
// technique gives. Both say which label of the observed domain is its registrable one (the one
// left of its public suffix), which needs libpsl: keys are probed for every label that could
// be it, and libpsl is asked only when one hits.
void Matcher::Impl::match_name_reuse(const LabelStarts& ascii_labels, std::string_view u, const LabelStarts& u_labels,
                                     SuffixInfo& sfx, std::optional<Candidate>& best) const {
  const std::size_t labels = ascii_labels.count();
  struct Hit {
    std::uint32_t target;
    std::uint32_t label;  // the observed label that must be the registrable one
    bool swap;
  };
  SmallVector<Hit, 8> hits;
  // tld-swap: a SwapName key, then a suffix, which starts at label j.
  for (std::size_t j = 1; j < labels && has_keys(KeyKind::SwapName); ++j) {
    for (const std::size_t m : swap_label_counts) {
      if (m > j) break;
      find_key(KeyKind::SwapName, ascii_labels.tail_of_prefix(j, m), m, [&](std::uint32_t idx) {
        hits.push_back(Hit{idx, static_cast<std::uint32_t>(j - 1), true});
      });
    }
  }
  // combosquat: label i without a keyword at its start or end (and a hyphen next to it) makes
  // the last n labels a protected domain (in U-labels: loginbücher.de).
  const bool combos = has_keys(KeyKind::Unicode) && !keyword_starts.empty();
  for (std::size_t i = 0; i + 1 < labels && combos; ++i) {
    const std::size_t start = u_labels.start_of(i);
    const std::size_t end = u_labels.end_of(i + 1);
    const std::string_view label = u.substr(start, end - start);
    const std::string_view after = u.substr(end);
    const auto hit = [&](std::uint32_t idx) { hits.push_back(Hit{idx, static_cast<std::uint32_t>(i), false}); };
    // f(n, from) for every protected label count n whose last n labels include label i, `from`
    // being where those labels start.
    const auto each_tail_with_label = [&](auto&& f) {
      for (const std::size_t n : domain_label_counts) {
        if (n > labels) break;
        if (labels - n <= i) f(n, u_labels.start_of(labels - n));
      }
    };
    auto probe = [&](std::string_view name) {
      if (name.empty()) return;
      each_tail_with_label([&](std::size_t n, std::size_t from) {
        const std::string_view before = u.substr(from, start - from);
        if (!may_have_key(KeyKind::Unicode, before.size() + name.size() + after.size())) return;
        find_key(KeyHasher(KeyKind::Unicode, n).add(before).add(name).add(after), hit);
      });
    };
    // A word of a hyphenated label that is a keyword stands for any word of the protected label.
    const bool parts = has_keys(KeyKind::PartStarred) && label.find('-') != std::string_view::npos;
    for (std::size_t ps = 0; parts && ps <= label.size();) {
      const std::size_t pe = std::min(label.find('-', ps), label.size());
      if (keyword_starts.contains(label.substr(ps, pe - ps))) {
        each_tail_with_label([&](std::size_t n, std::size_t from) {
          find_key(KeyHasher(KeyKind::PartStarred, n).add(u.substr(from, start + ps - from)).add("*").add(u.substr(start + pe)),
                   hit);
        });
      }
      ps = pe + 1;
    }
    keyword_starts.each(label, [&](std::size_t len) {
      std::string_view rest = label.substr(len);
      if (rest.starts_with('-')) rest.remove_prefix(1);
      probe(rest);
    });
    keyword_ends.each(label, [&](std::size_t len) {
      std::string_view rest = label.substr(0, label.size() - len);
      if (rest.ends_with('-')) rest.remove_suffix(1);
      probe(rest);
    });
  }
  if (hits.empty() || sfx.left().empty()) return;
  const std::size_t registrable = labels - 1 - sfx.suffix_labels();
  // army.notasuffix has a suffix only by libpsl's default rule: not a swap to a real one.
  std::optional<bool> real_suffix;
  for (const Hit& h : hits) {
    if (h.label != registrable) continue;
    if (h.swap) {
      if (!real_suffix) real_suffix = is_public_suffix(sfx.suffix().data());
      if (!*real_suffix) continue;
    }
    offer(best, targets[h.target], h.swap ? techs().tld_swap : techs().combosquat, 1);
  }
}

void Matcher::Impl::evaluate(std::string_view input, Evaluation& e, bool look_behind_allow) const {
  if (auto plain = normalise_plain_ascii(input, e.plain)) {
    if (!*plain) {
      e.error = plain->error();
      return;
    }
    e.ascii = e.unicode = **plain;
  } else {
    auto norm = normalise_domain(input);
    if (!norm) {
      e.error = norm.error();
      return;
    }
    e.owned = std::move(*norm);
    e.ascii = e.owned.ascii;
    e.unicode = e.owned.unicode;
    e.malformed_idn = e.owned.malformed_idn;
  }
  const std::string_view ascii = e.ascii;

  // Deny list first: "watch" is an explicit decision to always alert.
  auto consider_watch = [&](const std::vector<const ProtectRule*>& rs) {
    for (const ProtectRule* r : rs) {
      if (e.watched == nullptr || r->id < e.watched->id) e.watched = r;
    }
  };
  if (!watch_exact.empty() || !watch_below.empty()) {
    if (auto it = watch_exact.find(ascii); it != watch_exact.end()) consider_watch(it->second);
    for (std::size_t i = 0; i < ascii.size() && !watch_below.empty(); ++i) {
      if (ascii[i] != '.') continue;
      if (auto it = watch_below.find(ascii.substr(i + 1)); it != watch_below.end()) consider_watch(it->second);
    }
  }
  if (e.watched != nullptr && !look_behind_allow) return;

  // Allowed, or owned by whoever owns a protected domain: never an alert.
  if (!allow_exact.empty()) {
    if (auto it = allow_exact.find(ascii); it != allow_exact.end()) e.allow = it->second;
  }
  e.owner = protected_exact.find(ascii);
  const LabelStarts ascii_labels(ascii);
  // The parents, nearest first: by the label starts already found, not another scan for dots.
  for (std::size_t k = 1; k < ascii_labels.count() && e.allow == nullptr && e.owner.empty(); ++k) {
    const std::string_view parent = ascii.substr(ascii_labels.start_of(k));
    if (!allow_below.empty()) {
      if (auto it = allow_below.find(parent); it != allow_below.end()) e.allow = it->second;
    }
    e.owner = protected_exact.find(parent);
  }
  if (!e.owner.empty()) return;
  if (e.allow != nullptr && !look_behind_allow) return;

  const std::optional<LabelStarts> unicode_owned =
      e.unicode.data() == ascii.data() ? std::nullopt : std::optional<LabelStarts>(std::in_place, e.unicode);
  const LabelStarts& unicode_labels = unicode_owned ? *unicode_owned : ascii_labels;
  SuffixInfo sfx(psl, ascii, ascii_labels.count());
  if (look_behind_allow) {
    if (const char* reg = sfx.registrable(); reg != nullptr) e.registrable = reg;
    e.suffix = sfx.suffix();
  }
  TailCandidates tails;
  if (e.malformed_idn) {
    const std::string lenient = lenient_unicode(e.unicode);
    match_edits(lenient, LabelStarts(lenient), ascii_labels, e.best, tails);
  } else {
    match_edits(e.unicode, unicode_labels, ascii_labels, e.best, tails);
  }
  match_structure(e, ascii_labels, unicode_labels, sfx, e.best);
  match_tld(ascii_labels, sfx, e.best);
  // The tail candidates come first in the order of offers, so where one is kept it wins ties
  // (between different rules of one id) as it did when it was merged on the spot.
  if (tails) {
    std::optional<Candidate> first;
    for (const TailCandidate& c : tails.get()) {
      if (better(e.best, c.candidate)) continue;  // strictly beaten by a later offer: never the verdict
      if (c.labels <= sfx.suffix_labels()) continue;
      merge(first, c.candidate);
    }
    merge(first, e.best);
    e.best = first;
  }
  if (!e.best) match_name_reuse(ascii_labels, e.unicode, unicode_labels, sfx, e.best);
}

Match Matcher::Impl::to_match(const Evaluation& e, const Candidate& c) const {
  // A broken xn-- label close to a protected name is a deliberate trick, or a broken client.
  const std::string_view technique = e.malformed_idn ? std::string_view("malformed-idn") : c.technique;
  return Match{c.rule, std::string(e.ascii), std::string(e.unicode), std::string(c.protected_domain), std::string(technique), c.distance};
}

Matcher::Matcher(std::shared_ptr<const RuleSet> rules, std::size_t cache_entries)
    : impl_(std::make_unique<Impl>(cache_entries)) {
  impl_->rules = std::move(rules);
  impl_->psl_owned.reset(psl_latest(nullptr));
  impl_->psl = impl_->psl_owned ? impl_->psl_owned.get() : psl_builtin();
  UErrorCode st = U_ZERO_ERROR;
  impl_->spoof.reset(uspoof_open(&st));
  if (U_FAILURE(st) || !impl_->spoof || impl_->psl == nullptr) {
    throw std::runtime_error("detect: cannot initialise ICU spoof checker or public suffix list");
  }
  impl_->build();
}

Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

std::optional<Match> Matcher::match(std::string_view domain) const {
  if (!impl_->cache.enabled()) return match_uncached(domain);
  const std::uint64_t h = key_hash(KeyKind::Ascii, domain, 0);
  std::optional<Match> result;
  if (impl_->cache.get(h, domain, result)) return result;
  result = match_uncached(domain);
  impl_->cache.put(h, domain, result);
  return result;
}

std::optional<Match> Matcher::match_uncached(std::string_view domain) const {
  Evaluation e;
  impl_->evaluate(domain, e, false);
  if (e.error) return std::nullopt;
  if (e.watched != nullptr) {
    const ProtectRule* w = e.watched;
    return Match{w, std::string(e.ascii), std::string(e.unicode), w->wildcard ? "*." + w->domain : w->domain, "watch-list", 0};
  }
  if (e.allow != nullptr || !e.owner.empty() || !e.best) return std::nullopt;
  return impl_->to_match(e, *e.best);
}

const RuleSet& Matcher::rules() const { return *impl_->rules; }

std::uint64_t Matcher::id() const { return impl_->id; }

std::size_t Matcher::index_memory_bytes() const {
  std::size_t total = impl_->tld_index.memory_bytes() + impl_->keys.memory_bytes() + impl_->name_reuse_keys.memory_bytes() +
                      impl_->keyword_starts.memory_bytes() + impl_->keyword_ends.memory_bytes();
  for (const DeletionIndex& i : impl_->domain_index) total += i.memory_bytes();
  for (const Target& t : impl_->targets) {
    total += sizeof(Target) + t.ascii.capacity() + t.text.capacity() * sizeof(char32_t) + t.skeleton.capacity();
  }
  total += impl_->protected_exact.memory_bytes();
  return total;
}

Explanation Matcher::explain(std::string_view domain) const {
  Explanation x;
  x.input = std::string(domain);
  Evaluation e;
  impl_->evaluate(domain, e, true);
  if (e.error) {
    x.verdict = Explanation::Verdict::Invalid;
    x.reason = Explanation::Reason::InvalidDomain;
    x.error = std::string(to_string(*e.error));
    return x;
  }
  x.ascii = e.ascii;
  x.unicode = e.unicode;
  x.malformed_idn = e.malformed_idn;
  x.registrable_domain = e.registrable;
  x.public_suffix = e.suffix;
  if (e.watched != nullptr) {
    x.verdict = Explanation::Verdict::Match;
    x.reason = Explanation::Reason::WatchList;
    x.match = match(domain);
    return x;
  }
  if (!e.owner.empty()) {
    x.verdict = Explanation::Verdict::NoMatch;
    x.reason = Explanation::Reason::AtOrUnderProtected;
    x.owner = std::string(e.owner);
    return x;
  }
  if (e.allow != nullptr) {
    x.verdict = Explanation::Verdict::NoMatch;
    x.reason = Explanation::Reason::Allowed;
    x.allow_rule = (e.allow->wildcard ? "*." : "") + e.allow->domain;
    x.allow_source = e.allow->source;
    if (e.best) x.suppressed = impl_->to_match(e, *e.best);
    return x;
  }
  if (e.best) {
    x.verdict = Explanation::Verdict::Match;
    x.reason = Explanation::Reason::Lookalike;
    x.match = impl_->to_match(e, *e.best);
    return x;
  }
  x.verdict = Explanation::Verdict::NoMatch;
  x.reason = Explanation::Reason::NoCandidate;
  return x;
}

std::string Explanation::summary() const {
  auto describe = [](const Match& m) {
    std::string s = "technique " + m.technique + ", imitates " + m.protected_domain + " at distance " +
                    std::to_string(m.distance);
    if (m.rule != nullptr) {
      s += ", rule id " + std::to_string(m.rule->id) + " (" + m.rule->source + ")";
      if (!m.rule->msg.empty()) s += ": " + m.rule->msg;
    }
    return s;
  };
  switch (reason) {
    case Reason::InvalidDomain: return "not a valid domain: " + error;
    case Reason::WatchList: return match ? "on the watch list: " + describe(*match) : "on the watch list";
    case Reason::Lookalike: return match ? "lookalike: " + describe(*match) : "lookalike";
    case Reason::AtOrUnderProtected: return "at or under protected domain " + owner + ": its owner controls it";
    case Reason::Allowed: {
      std::string s = "allowed by 'allow " + allow_rule + "' (" + allow_source + ")";
      if (suppressed) s += "; it would otherwise match: " + describe(*suppressed);
      return s;
    }
    case Reason::NoCandidate: return "no protected domain within distance by any technique";
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Variants

std::vector<Variant> Matcher::variants(std::string_view protected_domain, std::string_view technique) const {
  std::vector<Variant> out;
  auto norm = normalise_domain(protected_domain);
  if (!norm) return out;
  const std::string& base_ascii = norm->ascii;
  const std::u32string text = utf8_to_utf32(norm->unicode);
  const std::size_t labels = count_labels(base_ascii);
  auto wanted = [&](std::string_view t) { return technique.empty() || technique == t; };
  std::set<std::pair<std::size_t, std::string>> seen;  // (technique order, domain)

  const auto techniques = variant_techniques();
  auto add = [&](std::string_view tech, const std::string& candidate_utf8) {
    auto n = normalise_domain(candidate_utf8);
    if (!n || n->malformed_idn) return;
    const std::string& a = n->ascii;
    if (a == base_ascii || (a.size() > base_ascii.size() && a.ends_with(base_ascii) &&
                            a[a.size() - base_ascii.size() - 1] == '.')) {
      return;  // at or under the protected domain: its owner's
    }
    if (count_labels(a) < 2 || impl_->is_public_suffix(a)) return;  // nobody can register it
    const auto rank = static_cast<std::size_t>(std::find(techniques.begin(), techniques.end(), tech) - techniques.begin());
    seen.emplace(rank, a);
  };
  auto emit = [&](std::string_view tech, const std::u32string& v) { add(tech, utf32_to_utf8(v)); };

  if (labels == 1) {
    // A protected TLD: a name under every real suffix one edit away, and the TLD appended.
    if (wanted("tld-typo")) {
      const std::u32string alphabet = U"abcdefghijklmnopqrstuvwxyz0123456789-";
      std::set<std::u32string> edits;
      for (std::size_t i = 0; i < text.size(); ++i) {
        edits.insert(text.substr(0, i) + text.substr(i + 1));
        if (i + 1 < text.size()) {
          std::u32string s = text;
          std::swap(s[i], s[i + 1]);
          edits.insert(s);
        }
        for (const char32_t c : alphabet) {
          std::u32string s = text;
          s[i] = c;
          edits.insert(s);
        }
      }
      for (std::size_t i = 0; i <= text.size(); ++i) {
        for (const char32_t c : alphabet) edits.insert(text.substr(0, i) + c + text.substr(i));
      }
      for (const std::u32string& s : edits) {
        const std::string suffix = utf32_to_utf8(s);
        if (s != text && !s.empty() && impl_->is_public_suffix(suffix)) add("tld-typo", "example." + suffix);
      }
    }
    if (wanted("appended-tld")) add("appended-tld", "example." + base_ascii + ".evil.com");
  } else {
    const std::size_t n = text.size();
    auto is_dot = [&](std::size_t i) { return text[i] == U'.'; };
    for (std::size_t i = 0; i < n; ++i) {
      if (is_dot(i)) continue;
      const char32_t c = text[i];
      const std::u32string pre = text.substr(0, i);
      const std::u32string post = text.substr(i + 1);
      if (wanted("omission")) emit("omission", pre + post);
      if (wanted("repetition")) emit("repetition", pre + c + c + post);
      if (c < 0x80) {
        const std::string nb = keyboard_neighbours(static_cast<char>(c));
        for (const char k : nb) {
          const auto kc = static_cast<char32_t>(k);
          if (wanted("replacement")) emit("replacement", pre + kc + post);
          if (wanted("insertion")) {
            emit("insertion", pre + kc + c + post);
            emit("insertion", pre + c + kc + post);
          }
        }
        if (wanted("bitsquatting")) {
          for (unsigned bit = 0; bit < 7; ++bit) {
            const char32_t f = c ^ (1u << bit);
            if (is_hostname_char(f)) emit("bitsquatting", pre + f + post);
          }
        }
        if (wanted("homoglyph")) {
          static constexpr std::pair<char32_t, std::u32string_view> kGlyphs[] = {
              {U'o', U"0"}, {U'0', U"o"}, {U'l', U"1"}, {U'l', U"i"}, {U'i', U"1"}, {U'i', U"l"}, {U'1', U"l"},
              {U'm', U"rn"}, {U'w', U"vv"}, {U'd', U"cl"}};
          for (const auto& [from, to] : kGlyphs) {
            if (c == from) emit("homoglyph", pre + std::u32string(to) + post);
          }
        }
      }
      if (wanted("vowel-swap") && is_vowel(c)) {
        for (const char32_t v : std::u32string_view(U"aeiou")) {
          if (v != c) emit("vowel-swap", pre + v + post);
        }
      }
      if (wanted("transposition") && i + 1 < n && !is_dot(i + 1) && text[i + 1] != c) {
        emit("transposition", pre + text[i + 1] + c + text.substr(i + 2));
      }
      // Inside a label only, not next to a dot or hyphen.
      const bool inner = i > 0 && !is_dot(i - 1) && text[i - 1] != U'-' && c != U'-';
      if (inner && wanted("hyphenation")) emit("hyphenation", pre + U'-' + text.substr(i));
      if (inner && wanted("subdomain")) emit("subdomain", pre + U'.' + text.substr(i));
    }
    // Cyrillic: every letter replaced by its Cyrillic twin, when all have one.
    if (wanted("cyrillic")) {
      static constexpr std::pair<char32_t, char32_t> kCyr[] = {
          {U'a', U'\u0430'}, {U'c', U'\u0441'}, {U'e', U'\u0435'}, {U'i', U'\u0456'}, {U'j', U'\u0458'},
          {U'o', U'\u043E'}, {U'p', U'\u0440'}, {U's', U'\u0455'}, {U'x', U'\u0445'}, {U'y', U'\u0443'}};
      const std::size_t first_suffix_label = labels - impl_->suffix_labels(base_ascii);
      std::u32string s = text;
      std::size_t label = 0;
      bool all = true;
      for (char32_t& c : s) {
        if (c == U'.') {
          ++label;
          continue;
        }
        if (label >= first_suffix_label) continue;
        const auto it = std::find_if(std::begin(kCyr), std::end(kCyr), [&](const auto& p) { return p.first == c; });
        if (it == std::end(kCyr)) {
          all = false;
          break;
        }
        c = it->second;
      }
      if (all) emit("cyrillic", s);
    }
    const std::vector<std::string_view> ls = split_labels(base_ascii);
    for (std::size_t i = 0; i < base_ascii.size(); ++i) {
      if (base_ascii[i] != '.') continue;
      const std::string l = base_ascii.substr(0, i);
      const std::string r = base_ascii.substr(i + 1);
      if (wanted("missing-dot")) add("missing-dot", l + r);
      if (wanted("dot-to-hyphen")) add("dot-to-hyphen", l + "-" + r);
    }
    if (wanted("missing-dot")) add("missing-dot", remove_char(base_ascii, '.') + ".com");
    if (wanted("dot-to-hyphen")) add("dot-to-hyphen", replace_char(base_ascii, '.', '-') + ".com");
    if (wanted("appended-tld")) {
      for (const char* tld : {"com", "net", "org", "ru", "co.uk"}) add("appended-tld", base_ascii + "." + tld);
    }
    const std::size_t k = std::min(impl_->suffix_labels(base_ascii), labels - 1);
    const std::string name(base_ascii.substr(0, base_ascii.size() - trailing_labels(base_ascii, k).size() - 1));
    const std::string suffix(trailing_labels(base_ascii, k));
    if (wanted("tld-label-omission") && k >= 2) {
      for (std::size_t drop = ls.size() - k; drop + 1 < ls.size(); ++drop) {
        std::string s;
        for (std::size_t i = 0; i < ls.size(); ++i) {
          if (i == drop) continue;
          if (!s.empty()) s.push_back('.');
          s.append(ls[i]);
        }
        add("tld-label-omission", s);
      }
    }
    if (wanted("tld-typo")) {
      // The suffix replaced by a real suffix one edit away (nato.in, nato.it for nato.int).
      const std::string alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
      std::set<std::string> edits;
      for (std::size_t i = 0; i < suffix.size(); ++i) {
        if (suffix[i] == '.') continue;
        edits.insert(suffix.substr(0, i) + suffix.substr(i + 1));
        if (i + 1 < suffix.size() && suffix[i + 1] != '.') {
          std::string s = suffix;
          std::swap(s[i], s[i + 1]);
          edits.insert(s);
        }
        for (const char c : alphabet) {
          std::string s = suffix;
          s[i] = c;
          edits.insert(s);
        }
      }
      for (std::size_t i = 0; i <= suffix.size(); ++i) {
        for (const char c : alphabet) edits.insert(suffix.substr(0, i) + c + suffix.substr(i));
      }
      for (const std::string& s : edits) {
        if (s != suffix && !s.empty() && s.front() != '.' && s.back() != '.' && impl_->is_public_suffix(s)) {
          add("tld-typo", name + "." + s);
        }
      }
    }
    if (wanted("tld-swap")) {
      // What is left without the suffix, or without its last labels (canada.gc.com for
      // canada.gc.ca), under common real suffixes; the matcher takes any real suffix.
      static constexpr const char* kSwapSuffixes[] = {"com", "net",   "org", "info", "biz", "co", "io", "me", "us",
                                                      "eu",  "uk",    "co.uk", "de", "fr",  "nl", "ru", "cn", "ca",
                                                      "au",  "com.au", "in", "il",  "ml",  "int", "mil", "gov"};
      for (std::size_t r = 1; r <= k; ++r) {
        const std::string kept(base_ascii.substr(0, base_ascii.size() - trailing_labels(base_ascii, r).size() - 1));
        for (const char* s : kSwapSuffixes) {
          if (impl_->is_public_suffix(s)) add("tld-swap", kept + "." + s);
        }
      }
    }
    if (wanted("combosquat")) {
      // Every keyword before and after the name label, with and without a hyphen.
      const std::vector<std::string_view> us = split_labels(norm->unicode);
      const std::size_t at = labels - 1 - k;
      auto with_label = [&](const std::string& label) {
        std::string d;
        for (std::size_t i = 0; i < us.size(); ++i) {
          if (i > 0) d.push_back('.');
          d += i == at ? label : std::string(us[i]);
        }
        add("combosquat", d);
      };
      auto each_keyword = [&](std::string_view w) {
        const std::string label(us[at]);
        const std::string word(w);
        for (const std::string& l : {word + label, word + "-" + label, label + word, label + "-" + word}) with_label(l);
      };
      for (const std::string_view w : builtin_keywords()) each_keyword(w);
      for (const std::string& w : impl_->rules->keywords()) each_keyword(w);
    }
  }
  out.reserve(seen.size());
  for (const auto& [rank, d] : seen) out.push_back(Variant{d, std::string(techniques[rank])});
  return out;
}

}  // namespace rcptwatch::detect
