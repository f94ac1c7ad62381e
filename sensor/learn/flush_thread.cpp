#include "learn/flush_thread.h"

#include <utility>

namespace rcptwatch::learn {

FlushThread::FlushThread(Learner& learner) : learner_(learner), counters_(learner.counters()) {
  thread_ = std::thread([this] { run(); });
}

FlushThread::~FlushThread() { stop(); }

void FlushThread::submit(ObservationBatch batch, Timestamp now) {
  {
    std::lock_guard lock(mutex_);
    if (pending_) {
      pending_->merge(batch);
    } else {
      pending_.emplace(std::move(batch));
    }
    pending_now_ = now;
  }
  wake_.notify_one();
}

std::optional<FlushThread::Outcome> FlushThread::take() {
  if (!has_outcome_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(mutex_);
  std::optional<Outcome> out = std::move(outcome_);
  outcome_.reset();
  has_outcome_.store(false, std::memory_order_release);
  return out;
}

LearnCounters FlushThread::counters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

void FlushThread::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void FlushThread::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || pending_.has_value(); });
    if (!pending_) return;  // stopping, and everything is written
    ObservationBatch batch = std::move(*pending_);
    pending_.reset();
    const Timestamp now = pending_now_;
    lock.unlock();
    std::unique_lock learner_lock(learner_mutex_);
    const auto changed = learner_.flush(batch, now);
    const std::shared_ptr<const detect::Matcher> matcher = learner_.matcher();
    const LearnCounters counters = learner_.counters();
    learner_lock.unlock();
    lock.lock();
    counters_ = counters;
    Outcome& o = outcome_ ? *outcome_ : outcome_.emplace();
    if (!changed) {
      ++o.failures;
      o.last_error = changed.error();
    } else if (*changed) {
      o.matcher_changed = true;
      o.matcher = matcher;
    }
    o.established = counters.established;
    has_outcome_.store(true, std::memory_order_release);
  }
}

}  // namespace rcptwatch::learn
