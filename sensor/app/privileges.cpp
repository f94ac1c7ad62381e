// Privilege drop (setgroups/setgid/setuid, capabilities cleared and verified) and the pid file.
#include "app/privileges.h"

#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string_view>

namespace rcptwatch::app {
namespace {

std::string errno_text() { return std::strerror(errno); }

// capset(2) leaving only `keep` (a mask of the low 32 capabilities) effective and permitted;
// nothing inheritable.
bool set_capabilities(std::uint32_t keep) {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  data[0].effective = keep;
  data[0].permitted = keep;
  if (syscall(SYS_capset, &header, data) != 0) return false;
  // The ambient set is cleared by capset's permitted set already; say so explicitly anyway.
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  return true;
}

}  // namespace

std::string default_run_user() { return getpwnam("rcptwatch") != nullptr ? "rcptwatch" : "nobody"; }

tl::expected<unsigned long long, std::string> effective_capabilities() {
  std::ifstream status("/proc/self/status");
  if (!status) return tl::unexpected(std::string("/proc/self/status: cannot open"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) return std::stoull(line.substr(7), nullptr, 16);
  }
  return tl::unexpected(std::string("/proc/self/status: no CapEff line"));
}

tl::expected<DroppedTo, std::string> drop_privileges(const std::string& user, bool keep_net_admin) {
  const std::uint32_t keep = keep_net_admin ? 1u << CAP_NET_ADMIN : 0u;
  DroppedTo to;
  if (geteuid() == 0 || getuid() == 0) {
    errno = 0;
    const passwd* pw = getpwnam(user.c_str());
    if (pw == nullptr) return tl::unexpected("--user " + user + ": no such user");
    if (pw->pw_uid == 0) {
      return tl::unexpected("--user " + user + ": is root; refusing to keep root while reading traffic");
    }
    to.uid = pw->pw_uid;
    to.gid = pw->pw_gid;
    if (prctl(PR_SET_KEEPCAPS, keep != 0 ? 1 : 0, 0, 0, 0) != 0) return tl::unexpected("prctl(PR_SET_KEEPCAPS): " + errno_text());
    if (setgroups(0, nullptr) != 0) return tl::unexpected("setgroups: " + errno_text());
    if (setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0) return tl::unexpected("setgid: " + errno_text());
    if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0) return tl::unexpected("setuid: " + errno_text());
    if (keep == 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
      return tl::unexpected(std::string("root could be regained after setuid"));
    }
    prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  } else {
    to.uid = getuid();
    to.gid = getgid();
  }
  if (!set_capabilities(keep)) return tl::unexpected("capset: " + errno_text());
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);  // no setuid binary or file capability can add any back
  auto caps = effective_capabilities();
  if (!caps) return tl::unexpected(caps.error());
  if (*caps != keep) return tl::unexpected("capabilities left after the drop: CapEff " + std::to_string(*caps));
  return to;
}

tl::expected<PidFile, std::string> PidFile::create(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return tl::unexpected("--pidfile " + path + ": " + errno_text());
  std::fprintf(f, "%d\n", static_cast<int>(getpid()));
  if (std::fclose(f) != 0) return tl::unexpected("--pidfile " + path + ": " + errno_text());
  return PidFile(path);
}

PidFile::~PidFile() {
  if (path_.empty()) return;
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) {
    spdlog::info("--pidfile {}: not removed ({}); the directory belongs to root", path_, errno_text());
  }
}

}  // namespace rcptwatch::app
