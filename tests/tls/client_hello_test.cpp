// SNI extraction: table-driven crafted ClientHellos, every truncation, split records and
// split calls.
#include "tls/client_hello.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rcptwatch::tls {
namespace {

using Buf = std::vector<std::uint8_t>;

void put16(Buf& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}

Buf sni_extension(const std::string& name, std::uint8_t name_type = 0) {
  Buf e;
  put16(e, 0);
  put16(e, name.size() + 5);
  put16(e, name.size() + 3);
  e.push_back(name_type);
  put16(e, name.size());
  e.insert(e.end(), name.begin(), name.end());
  return e;
}

Buf hello_body(const Buf& extensions, bool with_extensions = true) {
  Buf b{0x03, 0x03};
  for (int i = 0; i < 32; ++i) b.push_back(static_cast<std::uint8_t>(i));
  b.push_back(0);  // session id
  put16(b, 2);
  b.insert(b.end(), {0x13, 0x01});
  b.insert(b.end(), {1, 0});  // compression: null
  if (with_extensions) {
    put16(b, extensions.size());
    b.insert(b.end(), extensions.begin(), extensions.end());
  }
  return b;
}

Buf handshake(const Buf& body) {
  Buf h{1, static_cast<std::uint8_t>(body.size() >> 16), static_cast<std::uint8_t>(body.size() >> 8),
        static_cast<std::uint8_t>(body.size())};
  h.insert(h.end(), body.begin(), body.end());
  return h;
}

Buf records(const Buf& hs, std::size_t max_fragment = 16384) {
  Buf out;
  for (std::size_t i = 0; i < hs.size(); i += max_fragment) {
    const std::size_t n = std::min(max_fragment, hs.size() - i);
    out.insert(out.end(), {22, 3, 1});
    put16(out, n);
    out.insert(out.end(), hs.begin() + static_cast<long>(i), hs.begin() + static_cast<long>(i + n));
  }
  return out;
}

Buf other_extension() {
  Buf e;
  put16(e, 10);
  put16(e, 4);
  put16(e, 2);
  put16(e, 0x1d);
  return e;
}

Buf concat(Buf a, const Buf& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Case {
  const char* what;
  Buf stream;
  SniStatus status;
  std::string name;
};

TEST(ClientHello, Table) {
  const Case cases[] = {
      {"sni only", records(handshake(hello_body(sni_extension("mx.army.ml")))), SniStatus::Found,
       "mx.army.ml"},
      {"sni after another extension",
       records(handshake(hello_body(concat(other_extension(), sni_extension("mx.army.ml"))))),
       SniStatus::Found, "mx.army.ml"},
      {"no extensions", records(handshake(hello_body({}, false))), SniStatus::NoSni, ""},
      {"extensions without sni", records(handshake(hello_body(other_extension()))),
       SniStatus::NoSni, ""},
      {"non-host name type", records(handshake(hello_body(sni_extension("x.example", 1)))),
       SniStatus::NoSni, ""},
      {"bad character in name", records(handshake(hello_body(sni_extension("a b.example")))),
       SniStatus::Malformed, ""},
      {"empty name", records(handshake(hello_body(sni_extension("")))), SniStatus::Malformed, ""},
      {"not tls", Buf{'E', 'H', 'L', 'O', ' ', 'x', '\r', '\n'}, SniStatus::NotTls, ""},
      {"application data first", Buf{23, 3, 3, 0, 1, 0}, SniStatus::NotTls, ""},
      {"server hello", records(Buf{2, 0, 0, 0}), SniStatus::Malformed, ""},
      {"split over records", records(handshake(hello_body(sni_extension("mx.army.ml"))), 7),
       SniStatus::Found, "mx.army.ml"},
  };
  for (const Case& c : cases) {
    std::vector<std::uint8_t> scratch;
    const SniResult r = parse_client_hello(c.stream, scratch);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << to_string(r.status);
    if (c.status == SniStatus::Found) {
      EXPECT_EQ(r.server_name, c.name) << c.what;
    }
  }
}

TEST(ClientHello, EveryTruncationNeedsMore) {
  const Buf full = records(handshake(hello_body(concat(other_extension(), sni_extension("mx.army.ml")))), 50);
  std::vector<std::uint8_t> scratch;
  for (std::size_t len = 0; len < full.size(); ++len) {
    const SniResult r = parse_client_hello(Bytes(full.data(), len), scratch);
    EXPECT_EQ(r.status, SniStatus::NeedMore) << "length " << len;
  }
}

TEST(ClientHello, InconsistentInnerLengthIsMalformed) {
  Buf body = hello_body(sni_extension("mx.army.ml"));
  body[body.size() - 11] = 0xFF;  // the host name length, now past the extension
  std::vector<std::uint8_t> scratch;
  EXPECT_EQ(parse_client_hello(records(handshake(body)), scratch).status, SniStatus::Malformed);
}

TEST(SniExtractor, AcrossCallsByteByByteAndLowerCased) {
  const Buf full = records(handshake(hello_body(sni_extension("MX.Army.ML"))), 30);
  SniExtractor x;
  SniResult r;
  for (std::size_t i = 0; i < full.size(); ++i) {
    r = x.feed(Bytes(full.data() + i, 1));
    if (i + 1 < full.size()) {
      ASSERT_EQ(r.status, SniStatus::NeedMore) << i;
    }
  }
  EXPECT_EQ(r.status, SniStatus::Found);
  EXPECT_EQ(r.server_name, "mx.army.ml");
  EXPECT_TRUE(x.done());
  EXPECT_EQ(x.feed(full).status, SniStatus::NeedMore);  // done: later bytes are ignored
}

TEST(SniExtractor, OversizedHelloIsRefusedWithinTheCap) {
  Buf hs{1, 0x01, 0x00, 0x00};  // claims 64 KiB
  SniExtractor x;
  EXPECT_EQ(x.feed(records(hs)).status, SniStatus::Malformed);
  SniExtractor y;
  const Buf junk(SniExtractor::kMaxBytes + 1, 22);
  EXPECT_NE(y.feed(junk).status, SniStatus::Found);
}

}  // namespace
}  // namespace rcptwatch::tls
