// Channels over real sockets, pipes and files; every wait is bounded.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "statewire/channel.hpp"

namespace statewire {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

fs::path temp_path(std::string_view name) {
  return fs::temp_directory_path() / fmt::format("sw-chan-{}-{}", ::getpid(), name);
}

TEST(Endpoint, ParsesEveryForm) {
  auto t = parse_endpoint("tcp:127.0.0.1:4444");
  ASSERT_TRUE(t) << t.error().to_string();
  EXPECT_EQ(t->kind, Endpoint::Kind::tcp);
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 4444);
  EXPECT_EQ(t->to_string(), "tcp:127.0.0.1:4444");

  auto v6 = parse_endpoint("tcp:[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->to_string(), "tcp:[::1]:0");

  auto any = parse_endpoint("tcp::5555");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->host, "");

  auto u = parse_endpoint("unix:/tmp/x.sock");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->kind, Endpoint::Kind::unix_socket);
  EXPECT_EQ(u->path, "/tmp/x.sock");

  auto f = parse_endpoint("fd:7");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->fd, 7);
  EXPECT_EQ(parse_endpoint("file:out.mig")->kind, Endpoint::Kind::file);
  EXPECT_EQ(parse_endpoint("-")->kind, Endpoint::Kind::stdio);
}

TEST(Endpoint, RefusesWithTheFormExpected) {
  for (const char* text : {"tcp:host", "tcp:host:99999", "tcp:host:-1", "tcp:::1:80",
                           "unix:", "fd:x", "fd:-3", "bogus:1", "nothing", "tcp:[::1:80"}) {
    auto e = parse_endpoint(text);
    ASSERT_FALSE(e) << text;
    EXPECT_NE(e.error().message.find(text), std::string::npos) << e.error().message;
    EXPECT_NE(e.error().message.find("expected tcp:HOST:PORT"), std::string::npos);
  }
}

// Sends `payload` from a connecting thread to an accepting one; returns what arrived.
Bytes round_trip(const Endpoint& listen_at, const Bytes& payload) {
  auto listener = Listener::open(listen_at);
  EXPECT_TRUE(listener) << listener.error().to_string();
  const Endpoint target = listener->local();
  std::thread sender([&] {
    auto c = connect(target, 5s);
    ASSERT_TRUE(c) << c.error().to_string();
    ASSERT_TRUE(c->write(payload));
    ASSERT_TRUE(c->shutdown_write());
    std::uint8_t ack = 0;
    ASSERT_TRUE(c->read_exact({&ack, 1}));  // the answer comes back on the same channel
    EXPECT_EQ(ack, 0x5a);
  });
  auto in = listener->accept(5s);
  EXPECT_TRUE(in) << in.error().to_string();
  Bytes got;
  std::uint8_t buf[4096];
  while (true) {
    auto n = in->read(buf);
    EXPECT_TRUE(n);
    if (!n || *n == 0) break;
    got.insert(got.end(), buf, buf + *n);
  }
  const std::uint8_t ack = 0x5a;
  EXPECT_TRUE(in->write({&ack, 1}));
  sender.join();
  EXPECT_EQ(in->bytes_read(), payload.size());
  return got;
}

Bytes two_bytes() { return Bytes{0xab, 0xcd}; }

Bytes pattern(std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * 131 + (i >> 9));
  return b;
}

TEST(Channel, TcpLoopbackCarriesBytesBothWays) {
  const Bytes payload = pattern(3 << 20);
  EXPECT_EQ(round_trip(*parse_endpoint("tcp:127.0.0.1:0"), payload), payload);
}

TEST(Channel, UnixSocketCarriesBytesAndRemovesItsFile) {
  const fs::path path = temp_path("u.sock");
  const Bytes payload = pattern(1 << 20);
  EXPECT_EQ(round_trip(*parse_endpoint("unix:" + path.string()), payload), payload);
  EXPECT_FALSE(fs::exists(path));
}

TEST(Channel, AcceptAndReadWaitsAreBounded) {
  auto listener = Listener::open(*parse_endpoint("tcp:127.0.0.1:0"));
  ASSERT_TRUE(listener);
  auto none = listener->accept(50ms);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no peer connected within 50 ms"), std::string::npos);

  auto out = connect(listener->local(), 2s);
  ASSERT_TRUE(out);
  auto in = listener->accept(2s);
  ASSERT_TRUE(in);
  in->set_timeout(50ms);
  std::uint8_t b[8];
  auto silent = in->read(b);
  ASSERT_FALSE(silent);
  EXPECT_NE(silent.error().message.find("nothing arrived within 50 ms"), std::string::npos);
}

TEST(Channel, RefusedConnectionNamesTheAddress) {
  // A port that was just free: bind, learn it, close, then connect.
  Endpoint where;
  {
    auto l = Listener::open(*parse_endpoint("tcp:127.0.0.1:0"));
    ASSERT_TRUE(l);
    where = l->local();
  }
  auto c = connect(where, 2s);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find(where.to_string()), std::string::npos);
  EXPECT_NE(c.error().message.find("refused"), std::string::npos) << c.error().message;
}

TEST(Channel, PeerClosingEarlyIsTruncatedAndWritingToItIsAnError) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Channel a = Channel::adopt(sv[0], "a");
  Channel b = Channel::adopt(sv[1], "b");
  a.set_timeout(2s);
  b.set_timeout(2s);
  const std::uint8_t two[2] = {1, 2};
  ASSERT_TRUE(b.write(two));
  b.close();
  std::uint8_t four[4];
  auto r = a.read_exact(four);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::truncated);
  EXPECT_NE(r.error().message.find("2 of 4"), std::string::npos) << r.error().message;
  // No SIGPIPE: the process is still here to see the error.
  Bytes big(1 << 20, 7);
  auto w = a.write(big);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::io_error);
}

TEST(Channel, AbortWakesABlockedReaderFromAnotherThread) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Channel a = Channel::adopt(sv[0], "a");
  Channel b = Channel::adopt(sv[1], "b");
  a.set_timeout(10s);  // far longer than the test waits
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    a.abort();
  });
  const auto start = std::chrono::steady_clock::now();
  std::uint8_t buf[4];
  auto r = a.read(buf);  // returns 0 (shut down) instead of waiting 10 s
  canceller.join();
  EXPECT_TRUE(!r || *r == 0);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(Channel, FilesAndDescriptorsByAddress) {
  const fs::path path = temp_path("f.bin");
  const Bytes payload = pattern(100000);
  {
    auto out = open_channel(*parse_endpoint("file:" + path.string()), Direction::send, 1s);
    ASSERT_TRUE(out) << out.error().to_string();
    ASSERT_TRUE(out->write(payload));
  }
  auto in = open_channel(*parse_endpoint("file:" + path.string()), Direction::receive, 1s);
  ASSERT_TRUE(in);
  Bytes got(payload.size());
  ASSERT_TRUE(in->read_exact(got));
  EXPECT_EQ(got, payload);
  fs::remove(path);

  auto missing = open_channel(*parse_endpoint("file:/nonexistent/dir/x"), Direction::receive, 1s);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("file:/nonexistent/dir/x"), std::string::npos);

  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  {
    auto w = open_channel(*parse_endpoint(fmt::format("fd:{}", p[1])), Direction::send, 1s);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(two_bytes()));
  }
  // fd: channels do not own the descriptor: it is still open here.
  EXPECT_EQ(::close(p[1]), 0);
  auto r = open_channel(*parse_endpoint(fmt::format("fd:{}", p[0])), Direction::receive, 1s);
  ASSERT_TRUE(r);
  std::uint8_t buf[2];
  ASSERT_TRUE(r->read_exact(buf));
  EXPECT_EQ(buf[1], 0xcd);
  ::close(p[0]);
  EXPECT_FALSE(open_channel(*parse_endpoint("fd:987"), Direction::send, 1s));
}

}  // namespace
}  // namespace statewire
