// The tracker's storage: a slab that keeps connection objects at fixed addresses and reuses
// freed ones, and an open-addressing index over them. Together they make a segment of a live
// connection cost one probe into a flat array (plus the object itself) and no allocation: the
// std::unordered_map they replace chased a bucket and a node per lookup and allocated a node and
// a flow per connection.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace rcptwatch::flow {

// Objects of one type in chunks of kChunk, addressed by a 32-bit index. An object never moves
// (the tracker's LRU lists link them by pointer); a destroyed one's place is reused first, so
// the memory held follows the high-water mark of live objects, which max_flows bounds.
template <class T>
class Slab {
 public:
  static constexpr std::uint32_t kChunk = 256;

  Slab() = default;
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;
  ~Slab() { clear(); }

  template <class... Args>
  std::uint32_t create(Args&&... args) {
    std::uint32_t i = 0;
    if (!free_.empty()) {
      i = free_.back();
      free_.pop_back();
    } else {
      if (next_ % kChunk == 0) chunks_.push_back(std::make_unique<Chunk>());
      if (next_ % 64 == 0) live_.push_back(0);
      i = next_++;
    }
    new (slot(i)) T(std::forward<Args>(args)...);
    live_[i / 64] |= std::uint64_t{1} << (i % 64);
    ++size_;
    return i;
  }

  void destroy(std::uint32_t i) {
    std::launder(reinterpret_cast<T*>(slot(i)))->~T();
    live_[i / 64] &= ~(std::uint64_t{1} << (i % 64));
    free_.push_back(i);
    --size_;
  }

  T& operator[](std::uint32_t i) { return *std::launder(reinterpret_cast<T*>(slot(i))); }
  const T& operator[](std::uint32_t i) const { return *std::launder(reinterpret_cast<const T*>(slot(i))); }

  std::size_t size() const { return size_; }

  // Destroys every live object and gives the memory back.
  void clear() {
    for (std::uint32_t w = 0; w < live_.size(); ++w) {
      for (std::uint64_t bits = live_[w]; bits != 0; bits &= bits - 1) {
        const std::uint32_t i = w * 64 + static_cast<std::uint32_t>(std::countr_zero(bits));
        std::launder(reinterpret_cast<T*>(slot(i)))->~T();
      }
    }
    chunks_.clear();
    free_.clear();
    live_.clear();
    next_ = 0;
    size_ = 0;
  }

 private:
  struct Chunk {
    alignas(T) std::byte bytes[kChunk * sizeof(T)];
  };
  std::byte* slot(std::uint32_t i) const {
    return chunks_[i / kChunk]->bytes + static_cast<std::size_t>(i % kChunk) * sizeof(T);
  }

  std::vector<std::unique_ptr<Chunk>> chunks_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint64_t> live_;  // one bit per index ever handed out
  std::uint32_t next_ = 0;
  std::size_t size_ = 0;
};

// Linear probing over 8-byte slots (a 32-bit tag from the key's hash, never 0, and a 32-bit
// reference the caller gives meaning to). The key itself lives in the referenced object and is
// compared only when the tag matches. The home slot comes from the tag alone, so growing needs
// no key. The load stays at or below 1/2: a lookup reads about one cache line of slots. Erase
// shifts the following run back instead of leaving deleted markers, so a table that churns
// through millions of connections never slows down.
class FlowIndex {
 public:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};

  FlowIndex() : slots_(kMinSlots) {}

  static std::uint32_t tag_of(std::uint64_t hash) {
    const auto t = static_cast<std::uint32_t>(hash >> 32);
    return t == 0 ? 1 : t;
  }

  // The reference whose object `matches`, among those filed under `tag`; kNone if none.
  template <class Matches>
  std::uint32_t find(std::uint32_t tag, Matches&& matches) const {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(tag);; i = (i + 1) & mask) {
      const Slot s = slots_[i];
      if (s.tag == 0) return kNone;
      if (s.tag == tag && matches(s.ref)) return s.ref;
    }
  }

  // Files a reference not in the index yet.
  void insert(std::uint32_t tag, std::uint32_t ref) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    place(tag, ref);
    ++size_;
  }

  // Removes the reference filed under `tag` (which must be there).
  void erase(std::uint32_t tag, std::uint32_t ref) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = home(tag);
    while (slots_[i].tag != tag || slots_[i].ref != ref) i = (i + 1) & mask;
    // Backward shift: move later members of the run into the hole when their home allows it.
    for (std::size_t j = (i + 1) & mask; slots_[j].tag != 0; j = (j + 1) & mask) {
      const std::size_t k = home(slots_[j].tag);
      // Movable unless its home lies cyclically in (i, j].
      const bool stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
      if (stays) continue;
      slots_[i] = slots_[j];
      i = j;
    }
    slots_[i] = Slot{};
    --size_;
  }

  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.tag != 0) f(s.ref);
    }
  }

  void clear() {
    slots_.assign(kMinSlots, Slot{});
    size_ = 0;
  }

  std::size_t size() const { return size_; }
  std::size_t slot_count() const { return slots_.size(); }
  static constexpr std::size_t kSlotBytes = 8;

 private:
  static constexpr std::size_t kMinSlots = 64;
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t ref = 0;
  };
  std::size_t home(std::uint32_t tag) const {
    return static_cast<std::size_t>((std::uint64_t{tag} * slots_.size()) >> 32);
  }
  void place(std::uint32_t tag, std::uint32_t ref) {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = home(tag);
    while (slots_[i].tag != 0) i = (i + 1) & mask;
    slots_[i] = Slot{tag, ref};
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.tag != 0) place(s.tag, s.ref);
    }
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
};

}  // namespace rcptwatch::flow
