// Helpers shared by the learn tests: a scratch directory and observation batches built by hand.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

#include <unistd.h>

#include "learn/observations.h"

namespace rcptwatch::learn::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "rw-learn-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// `messages` messages to `domain`, sent by the senders given in turn, one second apart from `t0_s`.
inline void add_messages(ObservationBatch& batch, std::string_view domain, int messages,
                         std::initializer_list<std::string_view> senders, std::int64_t t0_s = 1'700'000'000) {
  int i = 0;
  for (int m = 0; m < messages; ++m, ++i) {
    const std::string_view sender = *(senders.begin() + (m % static_cast<int>(senders.size())));
    batch.add_domain(domain, sender_hash(sender), true, Timestamp::from_seconds(t0_s + i));
  }
}

}  // namespace rcptwatch::learn::testing
