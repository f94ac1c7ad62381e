// Least privilege for a long-running sensor: once the capture handles (and eBPF programs)
// are open, become an unprivileged user with no capabilities, and keep a pid file.
#pragma once

#include <string>

#include <tl/expected.hpp>

namespace rcptwatch::app {

// `rcptwatch` when that user exists, else `nobody`.
std::string default_run_user();

struct DroppedTo {
  unsigned uid = 0;
  unsigned gid = 0;
};

// As root: setgroups(0 groups), setgid, setuid to `user` (refused when it is uid 0), with
// PR_SET_KEEPCAPS off; then checks that root cannot be regained and that /proc/self/status
// shows CapEff 0. As another user: only clears every capability (file capabilities or an
// ambient set could have granted some). Errors name the step that failed.
// keep_net_admin keeps CAP_NET_ADMIN alone (--capture tc: removing the TC filters at exit
// goes through netlink).
tl::expected<DroppedTo, std::string> drop_privileges(const std::string& user, bool keep_net_admin = false);

// The effective capability mask from /proc/self/status (CapEff), or an error.
tl::expected<unsigned long long, std::string> effective_capabilities();

// A pid file, written at once and removed by the destructor. After a privilege drop the
// removal can fail for a root-owned directory: that is logged, not fatal (systemd's
// RuntimeDirectory, or the next start, which overwrites it, cleans up).
class PidFile {
 public:
  static tl::expected<PidFile, std::string> create(const std::string& path);
  PidFile(PidFile&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  PidFile& operator=(PidFile&&) = delete;
  PidFile(const PidFile&) = delete;
  ~PidFile();

 private:
  explicit PidFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace rcptwatch::app
