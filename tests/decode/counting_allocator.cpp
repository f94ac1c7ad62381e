// Replaces global operator new/delete for decode_test with counting versions so the test can
// prove the decoder's hot path allocates nothing. Kept in its own file: when g++ sees these
// bodies next to their callers it reports mismatched-new-delete false positives at -O2/-O3.
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace rcptwatch::decode::testing {
namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

std::size_t allocation_count() { return g_allocations.load(std::memory_order_relaxed); }

void count_allocation() { g_allocations.fetch_add(1, std::memory_order_relaxed); }
}  // namespace rcptwatch::decode::testing

void* operator new(std::size_t n) {
  rcptwatch::decode::testing::count_allocation();
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
