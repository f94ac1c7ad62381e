// Transports for stdout, files, and syslog over UDP (RFC 5426), TCP (RFC 6587 octet counting,
// at-least-once through kernel acknowledgement tracking) and unix sockets (/dev/log).
#include "alert/transport.h"

#include "alert/kafka_transport.h"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <utility>

namespace rcptwatch::alert {
namespace {

using std::chrono::milliseconds;

// Owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

int remaining_ms(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

// Writes all of [data, data+size) to a possibly non-blocking fd, waiting for POLLOUT until the
// deadline. Returns false on error or timeout (errno says which; ETIMEDOUT for the latter).
bool write_all(int fd, const char* data, std::size_t size, SteadyClock::time_point deadline,
               bool is_socket) {
  std::size_t off = 0;
  while (off < size) {
    const ssize_t n = is_socket ? ::send(fd, data + off, size - off, MSG_NOSIGNAL)
                                : ::write(fd, data + off, size - off);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      const int r = ::poll(&p, 1, remaining_ms(deadline));
      if (r == 0) {
        errno = ETIMEDOUT;
        return false;
      }
      if (r < 0 && errno != EINTR) return false;
      continue;
    }
    return false;
  }
  return true;
}

struct AddrInfoDeleter {
  void operator()(addrinfo* p) const { freeaddrinfo(p); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

AddrInfoPtr resolve(const std::string& host, std::uint16_t port, int socktype) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.c_str(), service.c_str(), &hints, &res) != 0) return nullptr;
  return AddrInfoPtr(res);
}

// stdout (borrowed fd 1) or a file opened for append; one message per line.
class LineTransport final : public Transport {
 public:
  // An empty path means stdout.
  LineTransport(std::string path, BackoffPolicy backoff) : path_(std::move(path)), backoff_(backoff) {
    if (!path_.empty()) open_file();
  }

  SendStatus send(std::string_view message) override {
    if (reopen_wanted_) {
      reopen_wanted_ = false;
      fd_.reset();
      open_file();
    }
    const int fd = path_.empty() ? STDOUT_FILENO : fd_.get();
    if (fd < 0) {
      if (!backoff_.ready() || !open_file()) return SendStatus::Retry;
    }
    line_.assign(message);
    line_ += '\n';
    const int out = path_.empty() ? STDOUT_FILENO : fd_.get();
    if (!write_all(out, line_.data(), line_.size(), SteadyClock::time_point::max(), false)) {
      ++counters_.errors;
      ++counters_.lost;
      return SendStatus::Failed;
    }
    ++counters_.delivered;
    return SendStatus::Done;
  }

  // Deferred to the next send so that it happens on the sender thread, between two lines.
  void reopen() override { reopen_wanted_ = !path_.empty(); }
  SteadyClock::time_point retry_at() const override { return backoff_.next(); }

 private:
  bool open_file() {
    fd_.reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
    if (!fd_) {
      ++counters_.errors;
      backoff_.fail();
      return false;
    }
    backoff_.reset();
    return true;
  }

  std::string path_;
  UniqueFd fd_;
  Backoff backoff_;
  std::string line_;
  bool reopen_wanted_ = false;
};

// RFC 5426: one message per datagram, no framing. Fire and forget by nature.
class UdpTransport final : public Transport {
 public:
  UdpTransport(std::string host, std::uint16_t port, BackoffPolicy backoff)
      : host_(std::move(host)), port_(port), backoff_(backoff) {}

  SendStatus send(std::string_view message) override {
    if (!fd_ && (!backoff_.ready() || !open_socket())) return SendStatus::Retry;
    for (;;) {
      const ssize_t n = ::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL,
                                 reinterpret_cast<const sockaddr*>(&addr_), addr_len_);
      if (n >= 0) break;
      if (errno == EINTR) continue;
      ++counters_.errors;
      ++counters_.lost;
      return SendStatus::Failed;
    }
    ++counters_.delivered;
    return SendStatus::Done;
  }
  SteadyClock::time_point retry_at() const override { return backoff_.next(); }

 private:
  bool open_socket() {
    const AddrInfoPtr ai = resolve(host_, port_, SOCK_DGRAM);
    if (ai) {
      UniqueFd s(::socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      if (s && ai->ai_addrlen <= sizeof addr_) {
        std::memcpy(&addr_, ai->ai_addr, ai->ai_addrlen);
        addr_len_ = ai->ai_addrlen;
        fd_ = std::move(s);
        backoff_.reset();
        return true;
      }
    }
    ++counters_.errors;
    backoff_.fail();
    return false;
  }

  std::string host_;
  std::uint16_t port_;
  Backoff backoff_;
  UniqueFd fd_;
  sockaddr_storage addr_{};
  socklen_t addr_len_ = 0;
};

// A local syslog socket: datagram like /dev/log, or stream (NUL-terminated, as glibc's
// syslog(3) does) when the socket refuses datagrams with EPROTOTYPE.
class UnixTransport final : public Transport {
 public:
  UnixTransport(std::string path, const TransportOptions& o)
      : path_(std::move(path)), options_(o), backoff_(o.backoff) {}

  SendStatus send(std::string_view message) override {
    // Two tries: a syslog daemon restart leaves our connected socket pointing at nothing.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!fd_ && (!backoff_.ready() || !connect_socket())) return SendStatus::Retry;
      bool ok;
      if (stream_) {
        buffer_.assign(message);
        buffer_ += '\0';
        ok = write_all(fd_.get(), buffer_.data(), buffer_.size(),
                       SteadyClock::now() + options_.write_timeout, true);
      } else {
        ssize_t n;
        do {
          n = ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        ok = n >= 0;
        if (!ok && errno == EMSGSIZE) {
          ++counters_.errors;
          ++counters_.lost;
          return SendStatus::Failed;
        }
      }
      if (ok) {
        ++counters_.delivered;
        return SendStatus::Done;
      }
      ++counters_.errors;
      fd_.reset();
    }
    backoff_.fail();
    return SendStatus::Retry;
  }
  SteadyClock::time_point retry_at() const override { return backoff_.next(); }

 private:
  bool try_connect(int type) {
    UniqueFd s(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    if (!s) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path_.c_str(), std::min(path_.size(), sizeof addr.sun_path - 1));
    // A bounded send: a wedged syslog daemon must not hold the sender thread forever.
    timeval tv{};
    tv.tv_sec = options_.write_timeout.count() / 1000;
    tv.tv_usec = static_cast<suseconds_t>((options_.write_timeout.count() % 1000) * 1000);
    ::setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return false;
    fd_ = std::move(s);
    stream_ = type == SOCK_STREAM;
    return true;
  }

  bool connect_socket() {
    if (try_connect(SOCK_DGRAM) || (errno == EPROTOTYPE && try_connect(SOCK_STREAM))) {
      backoff_.reset();
      return true;
    }
    ++counters_.errors;
    backoff_.fail();
    return false;
  }

  std::string path_;
  TransportOptions options_;
  Backoff backoff_;
  UniqueFd fd_;
  bool stream_ = false;
  std::string buffer_;
};

// RFC 6587 octet-counted syslog over TCP with at-least-once delivery: every framed message
// stays in `pending_` until the kernel reports (SIOCOUTQ) that the peer acknowledged its last
// byte; after a reconnect everything still pending is written again.
class TcpTransport final : public Transport {
 public:
  TcpTransport(std::string host, std::uint16_t port, const TransportOptions& o)
      : host_(std::move(host)), port_(port), options_(o), backoff_(o.backoff) {}

  SendStatus send(std::string_view message) override {
    service();
    if (!fd_) return SendStatus::Retry;
    if (unacked_bytes_ >= options_.max_unacked_bytes) {
      // The peer is slow: let acknowledgements catch up before taking more.
      retry_at_ = SteadyClock::now() + milliseconds(10);
      return SendStatus::Retry;
    }
    Pending p;
    append_octet_counted(p.frame, message);
    unacked_bytes_ += p.frame.size();
    pending_.push_back(std::move(p));
    write_frame(pending_.back());  // on failure the frame stays pending for the next connection
    return SendStatus::Done;
  }

  void service() override {
    if (fd_) check_peer();
    if (fd_) update_acks();
    if (!fd_ && backoff_.ready() && connect_socket()) resend_pending();
  }

  std::size_t unacknowledged() const override { return pending_.size(); }

  void abandon() override {
    counters_.lost += pending_.size();
    pending_.clear();
    unacked_bytes_ = 0;
  }

  SteadyClock::time_point retry_at() const override { return fd_ ? retry_at_ : backoff_.next(); }

 private:
  struct Pending {
    std::string frame;
    std::uint64_t end = 0;  // stream offset just past this frame on the current connection
    bool written = false;
  };

  // Kernel acknowledgement counts are meaningful only while the connection is alive, or
  // after the peer's orderly FIN (it read everything before closing). After a reset the
  // send queue is purged and SIOCOUTQ reads 0, which must not be taken for "all acked".
  bool connection_trustworthy() const {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (::getsockopt(fd_.get(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
    return info.tcpi_state == TCP_ESTABLISHED || info.tcpi_state == TCP_CLOSE_WAIT;
  }

  void update_acks() {
    if (!connection_trustworthy()) return;
    int outq = 0;
    if (::ioctl(fd_.get(), SIOCOUTQ, &outq) != 0 || outq < 0) return;
    if (!connection_trustworthy()) return;
    const std::uint64_t acked = stream_bytes_ - static_cast<std::uint64_t>(outq);
    while (!pending_.empty() && pending_.front().written && pending_.front().end <= acked) {
      unacked_bytes_ -= pending_.front().frame.size();
      pending_.pop_front();
      ++counters_.delivered;
    }
  }

  // A collector that went away shows up as POLLHUP/POLLERR or a readable EOF; syslog
  // collectors never send data, so anything readable is drained and ignored.
  void check_peer() {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
      drop_connection();
      return;
    }
    if (p.revents & POLLIN) {
      char buf[512];
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n == 0) {
        update_acks();  // orderly close: what was acknowledged before the FIN was read
        drop_connection();
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        drop_connection();
      }
    }
  }

  void drop_connection() {
    fd_.reset();
    backoff_.fail();
  }

  bool connect_socket() {
    const AddrInfoPtr ai = resolve(host_, port_, SOCK_STREAM);
    if (ai) {
      for (const addrinfo* a = ai.get(); a != nullptr; a = a->ai_next) {
        UniqueFd s(::socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!s) continue;
        if (::connect(s.get(), a->ai_addr, a->ai_addrlen) != 0) {
          if (errno != EINPROGRESS) continue;
          pollfd p{s.get(), POLLOUT, 0};
          if (::poll(&p, 1, static_cast<int>(options_.connect_timeout.count())) <= 0) continue;
          int err = 0;
          socklen_t len = sizeof err;
          if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) continue;
        }
        const int on = 1;
        ::setsockopt(s.get(), SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
        fd_ = std::move(s);
        stream_bytes_ = 0;
        if (ever_connected_) ++counters_.reconnects;
        ever_connected_ = true;
        backoff_.reset();
        return true;
      }
    }
    ++counters_.errors;
    backoff_.fail();
    return false;
  }

  void resend_pending() {
    for (Pending& p : pending_) p.written = false;
    for (Pending& p : pending_) {
      if (!write_frame(p)) return;
      ++counters_.resent;
    }
  }

  bool write_frame(Pending& p) {
    if (!write_all(fd_.get(), p.frame.data(), p.frame.size(),
                   SteadyClock::now() + options_.write_timeout, true)) {
      ++counters_.errors;
      drop_connection();
      return false;
    }
    stream_bytes_ += p.frame.size();
    p.end = stream_bytes_;
    p.written = true;
    return true;
  }

  std::string host_;
  std::uint16_t port_;
  TransportOptions options_;
  Backoff backoff_;
  UniqueFd fd_;
  bool ever_connected_ = false;
  std::uint64_t stream_bytes_ = 0;  // written on the current connection
  std::deque<Pending> pending_;
  std::size_t unacked_bytes_ = 0;
  SteadyClock::time_point retry_at_{};
};

}  // namespace

SteadyClock::time_point Backoff::fail() {
  next_ = SteadyClock::now() + current_;
  current_ = std::min(current_ * 2, policy_.max);
  return next_;
}

void append_octet_counted(std::string& out, std::string_view message) {
  out += std::to_string(message.size());
  out += ' ';
  out += message;
}

std::unique_ptr<Transport> make_transport(const OutputSpec& spec, const TransportOptions& options) {
  switch (spec.kind) {
    case OutputKind::Stdout: return std::make_unique<LineTransport>(std::string(), options.backoff);
    case OutputKind::File: return std::make_unique<LineTransport>(spec.path, options.backoff);
    case OutputKind::SyslogUdp:
      return std::make_unique<UdpTransport>(spec.host, spec.port, options.backoff);
    case OutputKind::SyslogTcp: return std::make_unique<TcpTransport>(spec.host, spec.port, options);
    case OutputKind::SyslogUnix: return std::make_unique<UnixTransport>(spec.path, options);
    case OutputKind::Kafka: {
      KafkaOptions k;
      k.brokers = spec.host;
      k.topic = spec.path;
      k.max_queued_messages = options.max_queued_messages;
      auto t = make_kafka_transport(k);
      if (!t) throw std::runtime_error(spec.uri + ": " + t.error());
      return std::move(*t);
    }
  }
  return nullptr;
}

}  // namespace rcptwatch::alert
