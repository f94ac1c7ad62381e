// FIFO queue over a ring of reusable slots, for the session's pipelined commands and open
// transactions. A slot popped and pushed again is the same object, with the capacity its
// strings and vectors grew to: once a session's queues have grown, commands and transactions
// cost no allocation, and neither do those of the next connection when the session is recycled.
// The caller resets what it uses in a pushed slot; the caller enforces any cap.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace rcptwatch::smtp {

template <class T>
class SlotQueue {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  // Slots ever made: what the queue holds on to.
  std::size_t capacity() const { return slots_.size(); }

  // 0 is the oldest.
  T& operator[](std::size_t i) { return slots_[(head_ + i) % slots_.size()]; }
  T& front() { return slots_[head_]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return slots_[(head_ + size_ - 1) % slots_.size()]; }

  void pop_front() {
    head_ = (head_ + 1) % slots_.size();
    --size_;
  }

  // The next slot, as its last user left it.
  T& push_back() {
    if (size_ == slots_.size()) grow();
    T& slot = slots_[(head_ + size_) % slots_.size()];
    ++size_;
    return slot;
  }

  // Every slot ever made, in use or not (to size what the queue holds).
  template <class F>
  void for_each_slot(F&& f) const {
    for (const T& slot : slots_) f(slot);
  }

  // Empty, keeping every slot for reuse.
  void clear() {
    head_ = 0;
    size_ = 0;
  }

  // Empty, and gives the slots back.
  void release() {
    std::vector<T>().swap(slots_);
    clear();
  }

 private:
  void grow() {
    std::rotate(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(head_),
                slots_.end());
    head_ = 0;
    slots_.resize(std::max<std::size_t>(kFirstSlots, slots_.size() * 2));
  }

  static constexpr std::size_t kFirstSlots = 8;
  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace rcptwatch::smtp
