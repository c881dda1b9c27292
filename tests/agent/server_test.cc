// The agent over a socketpair: AgentClient <-> AgentServer with the
// FakeRuntime underneath.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "agent/convert.h"
#include "agent/fake_runtime.h"
#include "agent/framing.h"
#include "agent/subprocess.h"
#include "doctest/doctest.h"
#include "nest/agent/v1/agent.pb.h"
#include "test_util.h"

namespace nest::agent {
namespace {

using testing::AgentHarness;
using testing::EventRecorder;
using testing::kDigestA;
using testing::kDigestB;
using testing::Spec;

ContainerInfo MustStart(AgentHarness& h, const ContainerSpec& spec) {
  absl::StatusOr<ContainerInfo> c = h.client().CreateContainer(spec);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  CHECK(c->state == ContainerState::kCreated);
  absl::StatusOr<ContainerInfo> s = h.client().StartContainer(spec.id);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return *s;
}

std::string AllLogs(AgentHarness& h, const std::string& id) {
  std::string out;
  absl::Status s = h.client().Logs(
      id, false, 0,
      [&](absl::string_view d) {
        out.append(d.data(), d.size());
        return true;
      },
      absl::Now() + absl::Seconds(5));
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  return out;
}

TEST_CASE("hello reports the guest and the protocol; a hello event is pushed") {
  FakeRuntime rt;
  EventRecorder events;  // outlives the client, which reports to it
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  absl::StatusOr<AgentHello> hello =
      h.client().Connect(absl::Now() + absl::Seconds(5));
  REQUIRE_MESSAGE(hello.ok(), hello.status().ToString());
  CHECK(hello->protocol_version == 1);
  CHECK(hello->agent_version == "test");
  CHECK(hello->kernel_release == "6.1.0-test");
  CHECK(hello->cpus == 3);
  CHECK(hello->memory_bytes == (uint64_t{256} << 20));
  CHECK(!hello->boot_id.empty());
  auto e = events.WaitFor(AgentEventKind::kHello, "", absl::Seconds(5));
  REQUIRE(e.has_value());
  REQUIRE(e->hello.has_value());
  CHECK(e->hello->boot_id == hello->boot_id);
}

TEST_CASE("container lifecycle: create, start, state, list, kill, delete") {
  FakeRuntime rt;
  EventRecorder events;  // outlives the client, which reports to it
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);
  ContainerInfo started = MustStart(h, Spec("web", {"sleep"}));
  CHECK(started.state == ContainerState::kRunning);
  CHECK(started.pid > 0);
  CHECK(events.WaitFor(AgentEventKind::kContainerStarted, "web",
                       absl::Seconds(5)));

  auto st = h.client().ContainerStatus("web");
  REQUIRE(st.ok());
  CHECK(st->state == ContainerState::kRunning);
  CHECK(st->image_digest == kDigestA);
  auto list = h.client().ListContainers();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].id == "web");

  REQUIRE(h.client().KillContainer("web", SIGTERM).ok());
  auto exited =
      events.WaitFor(AgentEventKind::kContainerExited, "web", absl::Seconds(5));
  REQUIRE(exited.has_value());
  CHECK(exited->exit_code == 128 + SIGTERM);
  st = h.client().ContainerStatus("web");
  REQUIRE(st.ok());
  CHECK(st->state == ContainerState::kExited);
  CHECK(st->exit_code == 143);
  CHECK(!st->oom_killed);

  REQUIRE(h.client().DeleteContainer("web").ok());
  CHECK(absl::IsNotFound(h.client().ContainerStatus("web").status()));
  CHECK(rt.size() == 0);
}

TEST_CASE("exit codes, output and OOM kills are reported") {
  FakeRuntime rt;
  EventRecorder events;  // outlives the client, which reports to it
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);

  MustStart(h, Spec("hello", {"echo", "hello", "world"}));
  auto e = events.WaitFor(AgentEventKind::kContainerExited, "hello",
                          absl::Seconds(5));
  REQUIRE(e.has_value());
  CHECK(e->exit_code == 0);
  CHECK(AllLogs(h, "hello") == "hello world\n");

  MustStart(h, Spec("three", {"exit", "3"}));
  e = events.WaitFor(AgentEventKind::kContainerExited, "three",
                     absl::Seconds(5));
  REQUIRE(e.has_value());
  CHECK(e->exit_code == 3);

  MustStart(h, Spec("hog", {"oom"}));
  auto oom = events.WaitFor(AgentEventKind::kContainerOomKilled, "hog",
                            absl::Seconds(5));
  REQUIRE(oom.has_value());
  auto st = h.client().ContainerStatus("hog");
  REQUIRE(st.ok());
  CHECK(st->oom_killed);
  CHECK(st->exit_code == 137);
}

TEST_CASE("limits reach the runtime unchanged") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  ContainerSpec spec = Spec("lim", {"sleep"});
  spec.limits.memory_max_bytes = 64 << 20;
  spec.limits.cpu_quota_us = 50000;
  spec.limits.cpu_period_us = 100000;
  spec.limits.pids_max = 32;
  REQUIRE(h.client().CreateContainer(spec).ok());
  auto l = rt.LimitsOf("lim");
  REQUIRE(l.ok());
  CHECK(l->memory_max_bytes == (64 << 20));
  CHECK(l->cpu_quota_us == 50000);
  CHECK(l->cpu_period_us == 100000);
  CHECK(l->pids_max == 32);
}

TEST_CASE("files reach the runtime unchanged; bad ones are refused") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  ContainerSpec spec = Spec("f", {"sleep"});
  std::string binary("\0\xff\x01pw", 5);
  spec.files = {{"/etc/app.conf", "a=1\n", 0444},
                {"/run/secrets/db", binary, 0400}};
  REQUIRE(h.client().CreateContainer(spec).ok());
  auto got = rt.SpecOf("f");
  REQUIRE(got.ok());
  CHECK(got->files == spec.files);

  // The agent checks again whatever the host sends.
  struct Bad {
    ContainerFile file;
    const char* field;
  };
  for (const Bad& bad : {
           Bad{{"/proc/self/x", "x", 0444}, "files[0].path"},
           Bad{{"../../etc/shadow", "x", 0444}, "files[0].path"},
           Bad{{"/etc/a/../../b", "x", 0444}, "files[0].path"},
           Bad{{"/etc/x", "x", 01777}, "files[0].mode"},
           Bad{{"/etc/x", std::string((1 << 20) + 1, 'x'), 0444},
               "files[0].content"},
       }) {
    ContainerSpec b = Spec("bad", {"sleep"});
    b.files = {bad.file};
    auto s = h.client().CreateContainer(b);
    CHECK(absl::IsInvalidArgument(s.status()));
    CHECK_MESSAGE(absl::StartsWith(s.status().message(), bad.field),
                  s.status().ToString());
  }
  ContainerSpec dup = Spec("dup", {"sleep"});
  dup.files = {{"/a", "1", 0444}, {"/a", "2", 0444}};
  CHECK(absl::IsInvalidArgument(h.client().CreateContainer(dup).status()));
  CHECK(rt.SpecOf("bad").status().code() == absl::StatusCode::kNotFound);
}

TEST_CASE("every call's error path keeps its code and the connection") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  AgentClient& c = h.client();

  CHECK(absl::IsNotFound(
      c.CreateContainer(Spec("x", {"sleep"}, kDigestB)).status()));
  CHECK(absl::IsInvalidArgument(
      c.CreateContainer(Spec("bad/id", {"sleep"})).status()));
  CHECK(absl::IsInvalidArgument(
      c.CreateContainer(Spec("x", {"sleep"}, "sha256:nothex")).status()));
  CHECK(absl::IsInvalidArgument(c.CreateContainer(Spec("x", {})).status()));
  ContainerSpec bad_mem = Spec("x", {"sleep"});
  bad_mem.limits.memory_max_bytes = 1024;
  absl::Status s = c.CreateContainer(bad_mem).status();
  CHECK(absl::IsInvalidArgument(s));
  CHECK(std::string(s.message()).find("memory_max_bytes") != std::string::npos);
  ContainerSpec bad_env = Spec("x", {"sleep"});
  bad_env.env = {"NOEQUALS"};
  CHECK(absl::IsInvalidArgument(c.CreateContainer(bad_env).status()));

  absl::Status fail = c.CreateContainer(Spec("f", {"fail-create"})).status();
  CHECK(absl::IsInternal(fail));
  CHECK(absl::IsNotFound(c.ContainerStatus("f").status()));

  MustStart(h, Spec("run", {"sleep"}));
  CHECK(absl::IsAlreadyExists(
      c.CreateContainer(Spec("run", {"sleep"})).status()));
  CHECK(absl::IsFailedPrecondition(c.StartContainer("run").status()));
  CHECK(absl::IsFailedPrecondition(c.DeleteContainer("run")));
  CHECK(absl::IsInvalidArgument(c.KillContainer("run", 0)));
  CHECK(absl::IsInvalidArgument(c.KillContainer("run", 99)));

  CHECK(absl::IsNotFound(c.StartContainer("nope").status()));
  CHECK(absl::IsNotFound(c.KillContainer("nope", SIGKILL)));
  CHECK(absl::IsNotFound(c.DeleteContainer("nope")));
  CHECK(absl::IsNotFound(c.ContainerStatus("nope").status()));
  CHECK(absl::IsNotFound(c.Exec("nope", {"echo"}, {}).status()));
  CHECK(absl::IsNotFound(c.Stats("nope").status()));
  CHECK(absl::IsNotFound(c.Logs(
      "nope", false, 0, [](absl::string_view) { return true; },
      absl::Now() + absl::Seconds(5))));
  CHECK(absl::IsInvalidArgument(c.Exec("run", {}, {}).status()));
  CHECK(absl::IsInvalidArgument(c.GuestExec({}, {}).status()));

  REQUIRE(c.CreateContainer(Spec("idle", {"sleep"})).ok());
  CHECK(absl::IsFailedPrecondition(c.Exec("idle", {"echo"}, {}).status()));
  REQUIRE(c.KillContainer("run", SIGKILL).ok());
  CHECK(absl::IsFailedPrecondition(c.KillContainer("run", SIGKILL)));
  CHECK(absl::IsFailedPrecondition(c.Exec("run", {"echo"}, {}).status()));
  // A created container that never ran can be deleted.
  CHECK(c.DeleteContainer("idle").ok());

  // After all those errors the same connection still works.
  CHECK(c.Hello().ok());
  CHECK(h.connections() == 1);
}

TEST_CASE("exec, guest exec and stats") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  MustStart(h, Spec("app", {"sleep"}));
  auto r = h.client().Exec("app", {"echo", "hi", "there"}, {});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 0);
  CHECK(r->output == "hi there\n");
  r = h.client().Exec("app", {"exit", "7"}, {});
  REQUIRE(r.ok());
  CHECK(r->exit_code == 7);

  auto g = h.client().GuestExec({"uname", "-r"}, {});
  REQUIRE(g.ok());
  CHECK(g->output == "guest ran uname");

  auto stats = h.client().Stats("");
  REQUIRE(stats.ok());
  CHECK(stats->guest.cpu_usage_us == 42);
  CHECK(stats->guest.memory_total_bytes == (uint64_t{256} << 20));
  REQUIRE(stats->containers.size() == 1);
  CHECK(stats->containers[0].id == "app");
  CHECK(stats->containers[0].cpu_usage_us > 0);
  CHECK(stats->containers[0].memory_bytes > 0);
  auto one = h.client().Stats("app");
  REQUIRE(one.ok());
  CHECK(one->containers.size() == 1);
}

TEST_CASE("image upload: unpack, cache by digest, reject bad input") {
  FakeRuntime rt;
  AgentHarness h(rt);
  // A real tar of a tiny rootfs.
  std::string src = h.dir() + "/src";
  std::filesystem::create_directories(src + "/etc");
  std::ofstream(src + "/etc/motd") << "from the image\n";
  std::string tar = testing::TarOf(src);
  REQUIRE(!tar.empty());
  std::string digest = testing::Sha256Digest(tar);
  REQUIRE(!digest.empty());

  auto put = h.client().PutImage(digest, tar);
  REQUIRE_MESSAGE(put.ok(), put.status().ToString());
  CHECK(!put->already_present);
  CHECK(put->bytes_received == tar.size());
  auto root = h.images().RootfsPath(digest);
  REQUIRE(root.ok());
  std::ifstream motd(*root + "/etc/motd");
  std::string line;
  std::getline(motd, line);
  CHECK(line == "from the image");

  put = h.client().PutImage(digest, tar);
  REQUIRE(put.ok());
  CHECK(put->already_present);

  CHECK(
      absl::IsInvalidArgument(h.client().PutImage("sha256:xyz", tar).status()));
  // Bytes that do not hash to the digest are refused, nothing published.
  absl::Status wrong = h.client().PutImage(kDigestB, tar).status();
  CHECK(absl::IsInvalidArgument(wrong));
  CHECK(std::string(wrong.message()).find("must match") != std::string::npos);
  CHECK(!h.images().Has(kDigestB));
  // Not a tar (but honestly labelled): the unpack fails.
  std::string junk(3000, 'z');
  std::string junk_digest = testing::Sha256Digest(junk);
  CHECK(
      absl::IsInvalidArgument(h.client().PutImage(junk_digest, junk).status()));
  CHECK(!h.images().Has(junk_digest));
  h.AddImage(kDigestA);
  // The image is usable.
  CHECK(h.client().CreateContainer(Spec("c", {"sleep"})).ok());
}

TEST_CASE("a large image is streamed in several frames") {
  FakeRuntime rt;
  AgentHarness h(rt);
  std::string src = h.dir() + "/big";
  std::filesystem::create_directories(src);
  {
    std::ofstream f(src + "/blob", std::ios::binary);
    std::string chunk(1 << 20, 'q');
    for (int i = 0; i < 3; ++i) f << chunk;
  }
  std::string tar = testing::TarOf(src);
  std::string digest = testing::Sha256Digest(tar);
  REQUIRE(tar.size() > 3 * kMaxChunkBytes);
  auto put = h.client().PutImage(digest, tar);
  REQUIRE_MESSAGE(put.ok(), put.status().ToString());
  CHECK(put->bytes_received == tar.size());
  CHECK(std::filesystem::file_size(h.images().root() + "/" + digest.substr(7) +
                                   "/blob") == 3u << 20);
}

TEST_CASE("a followed log stream runs while other calls complete") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  MustStart(h, Spec("talker", {"print", "first\n"}));

  absl::Mutex mu;
  std::string got;
  absl::Status stream_status = absl::UnknownError("not finished");
  bool finished = false;
  std::thread follower([&] {
    absl::Status s = h.client().Logs(
        "talker", true, 0,
        [&](absl::string_view d) {
          absl::MutexLock lock(&mu);
          got.append(d.data(), d.size());
          return true;
        },
        absl::Now() + absl::Seconds(30));
    absl::MutexLock lock(&mu);
    stream_status = s;
    finished = true;
  });
  auto has = [&](const std::string& what) {
    absl::MutexLock lock(&mu);
    auto cond = [&] { return got.find(what) != std::string::npos; };
    return mu.AwaitWithTimeout(absl::Condition(&cond), absl::Seconds(10));
  };
  REQUIRE(has("first\n"));
  // The stream is open; unary calls still go through meanwhile.
  for (int i = 0; i < 20; ++i) {
    REQUIRE(h.client().Hello().ok());
    REQUIRE(h.client().ListContainers().ok());
    auto r = h.client().Exec("talker", {"echo", "x"}, {});
    REQUIRE(r.ok());
  }
  REQUIRE(rt.Emit("talker", "second\n").ok());
  REQUIRE(has("second\n"));
  {
    absl::MutexLock lock(&mu);
    CHECK(!finished);
  }
  // The stream ends by itself when the container exits.
  REQUIRE(h.client().KillContainer("talker", SIGKILL).ok());
  {
    absl::MutexLock lock(&mu);
    CHECK(mu.AwaitWithTimeout(absl::Condition(&finished), absl::Seconds(10)));
  }
  follower.join();
  CHECK(stream_status.ok());
  CHECK(got == "first\nsecond\n");
}

TEST_CASE("a log sink returning false cancels the stream") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  MustStart(h, Spec("t", {"print", "abc"}));
  int calls = 0;
  absl::Status s = h.client().Logs(
      "t", true, 0,
      [&](absl::string_view) {
        ++calls;
        return false;
      },
      absl::Now() + absl::Seconds(30));
  CHECK(s.ok());
  CHECK(calls == 1);
  CHECK(h.client().Hello().ok());
}

TEST_CASE("tail_bytes returns only the end of the log") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  MustStart(h, Spec("t", {"print", "0123456789"}));
  std::string out;
  REQUIRE(h.client()
              .Logs(
                  "t", false, 4,
                  [&](absl::string_view d) {
                    out.append(d.data(), d.size());
                    return true;
                  },
                  absl::Now() + absl::Seconds(5))
              .ok());
  CHECK(out == "6789");
}

TEST_CASE(
    "disconnect and reconnect: containers keep running, missed events "
    "arrive") {
  FakeRuntime rt;
  EventRecorder events;  // outlives the client, which reports to it
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);
  auto hello = h.client().Connect(absl::Now() + absl::Seconds(5));
  REQUIRE(hello.ok());
  MustStart(h, Spec("a", {"sleep"}));
  MustStart(h, Spec("b", {"sleep"}));

  h.client().Disconnect();
  REQUIRE(events.WaitFor(AgentEventKind::kDisconnected, "", absl::Seconds(5)));
  REQUIRE(h.server().AwaitIdle(absl::Now() + absl::Seconds(5)));
  // While no host listens, container b dies inside the guest.
  REQUIRE(rt.Kill("b", SIGKILL).ok());

  auto again = h.client().Hello();  // reconnects through the factory
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(h.connections() == 2);
  CHECK(again->boot_id == hello->boot_id);
  CHECK(again->containers == 2);
  auto a = h.client().ContainerStatus("a");
  REQUIRE(a.ok());
  CHECK(a->state == ContainerState::kRunning);
  auto b = h.client().ContainerStatus("b");
  REQUIRE(b.ok());
  CHECK(b->state == ContainerState::kExited);
  CHECK(b->exit_code == 137);
  auto missed =
      events.WaitFor(AgentEventKind::kContainerExited, "b", absl::Seconds(5));
  REQUIRE(missed.has_value());
  CHECK(missed->exit_code == 137);
}

TEST_CASE(
    "a follow stream cut by a disconnect fails, and the next call "
    "reconnects") {
  FakeRuntime rt;
  AgentHarness h(rt);
  h.AddImage(kDigestA);
  MustStart(h, Spec("t", {"print", "x"}));
  absl::Notification got_data;
  absl::Status result;
  std::thread follower([&] {
    result = h.client().Logs(
        "t", true, 0,
        [&](absl::string_view) {
          if (!got_data.HasBeenNotified()) got_data.Notify();
          return true;
        },
        absl::Now() + absl::Seconds(30));
  });
  REQUIRE(got_data.WaitForNotificationWithTimeout(absl::Seconds(10)));
  h.client().Disconnect();
  follower.join();
  CHECK(absl::IsUnavailable(result));
  auto st = h.client().ContainerStatus("t");
  REQUIRE(st.ok());
  CHECK(st->state == ContainerState::kRunning);
}

TEST_CASE("shutdown: SIGTERM, SIGKILL after the grace, sync, power off") {
  FakeRuntime rt;
  EventRecorder events;  // outlives the client, which reports to it
  AgentHarness h(rt);
  h.client().SetEventHandler(events.Handler());
  h.AddImage(kDigestA);
  MustStart(h, Spec("polite", {"sleep"}));
  ContainerSpec stubborn = Spec("stubborn", {"stubborn"});
  stubborn.stop_grace_s = 0;
  MustStart(h, stubborn);
  REQUIRE(h.client().Shutdown(/*power_off=*/true).ok());
  auto polite = h.containers().Get("polite");
  REQUIRE(polite.ok());
  CHECK(polite->exit_code == 128 + SIGTERM);
  auto killed = h.containers().Get("stubborn");
  REQUIRE(killed.ok());
  CHECK(killed->exit_code == 128 + SIGKILL);
  CHECK(h.guest().synced());
  CHECK(h.server().shutdown_requested());
  // The reply goes out first, then the power-off.
  CHECK(h.guest().AwaitPowerOff(absl::Seconds(10)));
}

TEST_CASE(
    "raw protocol: garbage, oversized frames and bad requests get "
    "error replies on a connection that keeps working") {
  testing::IgnoreSigpipe();
  FakeRuntime rt;
  testing::TempDir tmp;
  ImageStore images(tmp.path());
  ContainerManager mgr({tmp.path() + "/run"}, rt, images, RealClock());
  testing::FakeGuest guest;
  AgentServer server({"raw"}, mgr, images, guest, RealClock());
  auto [host, agent] = testing::StreamPair();
  std::thread serving([&, s = std::move(agent)]() mutable {
    (void)server.Serve(std::move(s));
  });
  FrameReader reader(*host);
  auto next = [&]() {
    v1::Frame f;
    auto r = reader.Next(&f, absl::Now() + absl::Seconds(10));
    REQUIRE(r.ok());
    REQUIRE(*r == FrameReader::Result::kFrame);
    return f;
  };
  // Skip events (hello) until a response for `rid`.
  auto response_for = [&](uint64_t rid) {
    for (;;) {
      v1::Frame f = next();
      if (f.has_response() && f.request_id() == rid) return f;
    }
  };
  auto next_error_event = [&]() {
    for (;;) {
      v1::Frame f = next();
      if (f.has_event() && f.event().kind() == v1::EVENT_KIND_PROTOCOL_ERROR) {
        return f;
      }
    }
  };
  v1::Frame first = next();
  CHECK(first.event().kind() == v1::EVENT_KIND_HELLO);

  const std::string garbage = "this is not a frame at all";
  REQUIRE(host->Write(garbage.data(), garbage.size()).ok());
  CHECK(!next_error_event().event().message().empty());

  std::string oversized = "NEST\xff\xff\xff\xff";
  REQUIRE(host->Write(oversized.data(), oversized.size()).ok());
  CHECK(next_error_event().event().message().find("at most") !=
        std::string::npos);

  v1::Frame empty;
  empty.set_request_id(11);
  empty.mutable_request();
  REQUIRE(WriteFrame(*host, empty).ok());
  v1::Frame r = response_for(11);
  CHECK(r.response().status().code() ==
        static_cast<int>(absl::StatusCode::kInvalidArgument));

  v1::Frame no_id;
  no_id.mutable_request()->mutable_hello()->set_protocol_version(
      v1::PROTOCOL_VERSION_1);
  REQUIRE(WriteFrame(*host, no_id).ok());
  r = response_for(0);
  CHECK(r.response().status().code() ==
        static_cast<int>(absl::StatusCode::kInvalidArgument));

  v1::Frame old;
  old.set_request_id(12);
  old.mutable_request()->mutable_hello()->set_protocol_version(
      v1::PROTOCOL_VERSION_UNSPECIFIED);
  REQUIRE(WriteFrame(*host, old).ok());
  r = response_for(12);
  CHECK(r.response().status().code() ==
        static_cast<int>(absl::StatusCode::kFailedPrecondition));

  v1::Frame hello;
  hello.set_request_id(13);
  hello.mutable_request()->mutable_hello()->set_protocol_version(
      v1::PROTOCOL_VERSION_1);
  REQUIRE(WriteFrame(*host, hello).ok());
  r = response_for(13);
  CHECK(r.response().status().code() == 0);
  CHECK(r.response().hello().protocol_version() == v1::PROTOCOL_VERSION_1);

  host->Close();
  host.reset();
  serving.join();
}

TEST_CASE("calls time out when the agent does not answer") {
  testing::IgnoreSigpipe();
  // The guest end exists but nobody serves it.
  std::shared_ptr<ByteStream> silent_guest;
  AgentClient::Options o;
  o.call_timeout = absl::Milliseconds(100);
  AgentClient client(
      [&]() -> absl::StatusOr<std::unique_ptr<ByteStream>> {
        auto [host, guest] = testing::StreamPair();
        silent_guest = std::move(guest);
        return std::move(host);
      },
      o);
  absl::Time start = absl::Now();
  CHECK(absl::IsDeadlineExceeded(client.ListContainers().status()));
  CHECK(absl::Now() - start < absl::Seconds(5));
  CHECK(absl::IsDeadlineExceeded(
      client.Connect(absl::Now() + absl::Milliseconds(300)).status()));
}

TEST_CASE("a pending call fails with UNAVAILABLE when the agent goes away") {
  testing::IgnoreSigpipe();
  std::shared_ptr<ByteStream> guest_end;
  absl::Notification opened;
  AgentClient client([&]() -> absl::StatusOr<std::unique_ptr<ByteStream>> {
    auto [host, guest] = testing::StreamPair();
    guest_end = std::move(guest);
    opened.Notify();
    return std::move(host);
  });
  std::thread killer([&] {
    opened.WaitForNotification();
    // Read the request, then vanish without answering.
    FrameReader r(*guest_end);
    v1::Frame f;
    (void)r.Next(&f, absl::Now() + absl::Seconds(10));
    guest_end.reset();
  });
  absl::Status s = client.ListContainers().status();
  killer.join();
  CHECK(absl::IsUnavailable(s));
}

TEST_CASE("a factory that cannot open the stream gives UNAVAILABLE") {
  AgentClient client([]() -> absl::StatusOr<std::unique_ptr<ByteStream>> {
    return absl::NotFoundError("no such domain");
  });
  absl::Status s = client.Hello().status();
  CHECK(absl::IsUnavailable(s));
  CHECK(std::string(s.message()).find("no such domain") != std::string::npos);
}

}  // namespace
}  // namespace nest::agent
