// Local listeners for the transport tests: a TCP server on 127.0.0.1 (ephemeral port, can be
// closed and reopened on the same port), a UDP receiver, and an RFC 6587 frame reader.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rcptwatch::alert::testutil {

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline std::uint16_t bound_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// Splits octet-counted frames ("LEN SP MSG") out of a byte stream.
class FrameReader {
 public:
  void feed(const char* p, std::size_t n) { buf_.append(p, n); }
  // Returns complete frames; a malformed length makes the reader fail (error() true).
  std::vector<std::string> take() {
    std::vector<std::string> out;
    for (;;) {
      const auto sp = buf_.find(' ');
      if (sp == std::string::npos) break;
      std::size_t len = 0;
      for (std::size_t i = 0; i < sp; ++i) {
        if (buf_[i] < '0' || buf_[i] > '9') {
          error_ = true;
          return out;
        }
        len = len * 10 + static_cast<std::size_t>(buf_[i] - '0');
      }
      if (sp == 0) {
        error_ = true;
        return out;
      }
      if (buf_.size() < sp + 1 + len) break;
      out.push_back(buf_.substr(sp + 1, len));
      buf_.erase(0, sp + 1 + len);
    }
    return out;
  }
  bool error() const { return error_; }
  std::size_t leftover() const { return buf_.size(); }

 private:
  std::string buf_;
  bool error_ = false;
};

class TcpListener {
 public:
  explicit TcpListener(std::uint16_t port = 0, int rcvbuf = 0) { open(port, rcvbuf); }
  ~TcpListener() {
    close_connection();
    close_listener();
  }
  // rcvbuf > 0 shrinks the receive buffer (inherited by accepted connections) so that a
  // client's data stays unacknowledged while nobody reads.
  bool open(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    const sockaddr_in a = loopback(port);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return false;
    if (::listen(fd_, 16) != 0) return false;
    port_ = bound_port(fd_);
    return true;
  }
  std::uint16_t port() const { return port_; }
  void close_listener() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void close_connection() {
    if (conn_ >= 0) ::close(conn_);
    conn_ = -1;
    reader_ = FrameReader();
  }
  // Reads frames until `count` have arrived on the current connection (accepting one if
  // needed) or the timeout passes. Returns the frames read by this call.
  std::vector<std::string> read_frames(std::size_t count, std::chrono::milliseconds timeout) {
    std::vector<std::string> got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < count && std::chrono::steady_clock::now() < deadline) {
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      pollfd p{conn_ >= 0 ? conn_ : fd_, POLLIN, 0};
      if (::poll(&p, 1, left < 1 ? 1 : left) <= 0) continue;
      if (conn_ < 0) {
        conn_ = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
        continue;
      }
      char buf[65536];
      const ssize_t n = ::read(conn_, buf, sizeof buf);
      if (n <= 0) {
        close_connection();
        continue;
      }
      reader_.feed(buf, static_cast<std::size_t>(n));
      for (auto& f : reader_.take()) got.push_back(std::move(f));
      if (reader_.error()) break;
    }
    return got;
  }
  bool framing_error() const { return reader_.error(); }

 private:
  int fd_ = -1;
  int conn_ = -1;
  std::uint16_t port_ = 0;
  FrameReader reader_;
};

class UdpReceiver {
 public:
  UdpReceiver() {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const sockaddr_in a = loopback(0);
    ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a);
    port_ = bound_port(fd_);
  }
  ~UdpReceiver() { ::close(fd_); }
  std::uint16_t port() const { return port_; }
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<std::size_t>(n));
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace rcptwatch::alert::testutil
