// Community ID v1; SHA-1 and base64 come from OpenSSL (libcrypto), not from hand-written code.
#include "fleet/community_id.h"

#include <openssl/evp.h>

#include <array>
#include <cstring>

namespace rcptwatch::fleet {

std::string community_id_v1(std::uint8_t proto, const IpAddress& src, const IpAddress& dst,
                            std::uint16_t src_port, std::uint16_t dst_port, std::uint16_t seed) {
  const std::size_t len = src.family == IpAddress::Family::V4 ? 4 : 16;
  const IpAddress* a = &src;
  const IpAddress* b = &dst;
  std::uint16_t pa = src_port;
  std::uint16_t pb = dst_port;
  const int cmp = std::memcmp(a->bytes.data(), b->bytes.data(), len);
  if (cmp > 0 || (cmp == 0 && pa > pb)) {
    std::swap(a, b);
    std::swap(pa, pb);
  }
  // seed(2) addr addr proto(1) pad(1) port port, all in network byte order.
  std::array<unsigned char, 2 + 16 + 16 + 2 + 4> buf{};
  std::size_t n = 0;
  buf[n++] = static_cast<unsigned char>(seed >> 8);
  buf[n++] = static_cast<unsigned char>(seed & 0xFF);
  std::memcpy(buf.data() + n, a->bytes.data(), len);
  n += len;
  std::memcpy(buf.data() + n, b->bytes.data(), len);
  n += len;
  buf[n++] = proto;
  buf[n++] = 0;
  buf[n++] = static_cast<unsigned char>(pa >> 8);
  buf[n++] = static_cast<unsigned char>(pa & 0xFF);
  buf[n++] = static_cast<unsigned char>(pb >> 8);
  buf[n++] = static_cast<unsigned char>(pb & 0xFF);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(buf.data(), n, digest, &digest_len, EVP_sha1(), nullptr) != 1) return {};
  unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int b64_len = EVP_EncodeBlock(b64, digest, static_cast<int>(digest_len));
  std::string out = "1:";
  out.append(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(b64_len));
  return out;
}

}  // namespace rcptwatch::fleet
