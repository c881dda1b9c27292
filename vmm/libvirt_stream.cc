// A ByteStream over a libvirt stream (virDomainOpenChannel). The stream is
// non-blocking and driven by the libvirt event loop so a Read can honour its
// deadline and Close can wake it; a blocking virStreamRecv could do neither.
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "vmm/libvirt_util.h"

namespace nest::vmm::internal {
namespace {

struct StreamState {
  absl::Mutex mu;
  std::string buf ABSL_GUARDED_BY(mu);
  bool eof ABSL_GUARDED_BY(mu) = false;
  bool closed ABSL_GUARDED_BY(mu) = false;
  bool writable ABSL_GUARDED_BY(mu) = false;
  absl::Status error ABSL_GUARDED_BY(mu);
};

constexpr int kReadEvents = VIR_STREAM_EVENT_READABLE |
                            VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR;

void OnEvent(virStreamPtr st, int events, void* opaque) {
  auto& state = **static_cast<std::shared_ptr<StreamState>*>(opaque);
  bool finished = false;
  if (events & VIR_STREAM_EVENT_READABLE) {
    char tmp[16384];
    for (;;) {
      int n = virStreamRecv(st, tmp, sizeof(tmp));
      if (n > 0) {
        absl::MutexLock l(&state.mu);
        state.buf.append(tmp, n);
        continue;
      }
      if (n == -2) break;
      absl::MutexLock l(&state.mu);
      if (n == 0) {
        state.eof = true;
      } else {
        state.error = LibvirtError("channel read");
      }
      finished = true;
      break;
    }
  }
  if (!finished &&
      (events & (VIR_STREAM_EVENT_HANGUP | VIR_STREAM_EVENT_ERROR))) {
    absl::MutexLock l(&state.mu);
    state.eof = true;
    finished = true;
  }
  if (events & VIR_STREAM_EVENT_WRITABLE) {
    absl::MutexLock l(&state.mu);
    state.writable = true;
  }
  // HANGUP stays asserted: stop listening or the loop spins on it. Writable
  // interest is dropped once seen; a blocked writer asks again.
  virStreamEventUpdateCallback(st, finished ? 0 : kReadEvents);
}

class StreamByteStream : public ByteStream {
 public:
  StreamByteStream(StreamPtr stream, virConnectPtr conn)
      : stream_(std::move(stream)),
        conn_(conn),
        state_(std::make_shared<StreamState>()) {
    if (conn_) virConnectRef(conn_);
    auto* ref = new std::shared_ptr<StreamState>(state_);
    if (virStreamEventAddCallback(
            stream_.get(), kReadEvents, &OnEvent, ref, [](void* p) {
              delete static_cast<std::shared_ptr<StreamState>*>(p);
            }) < 0) {
      delete ref;
      absl::MutexLock l(&state_->mu);
      state_->error = LibvirtError("channel: register stream callback");
    } else {
      registered_ = true;
    }
  }

  ~StreamByteStream() override {
    Close();
    stream_.reset();
    if (conn_) virConnectClose(conn_);
  }

  absl::StatusOr<size_t> Read(void* buf, size_t size,
                              absl::Time deadline) override {
    StreamState& s = *state_;
    absl::MutexLock l(&s.mu);
    auto ready = [&s]() ABSL_SHARED_LOCKS_REQUIRED(s.mu) {
      return !s.buf.empty() || s.eof || s.closed || !s.error.ok();
    };
    s.mu.AwaitWithDeadline(absl::Condition(&ready), deadline);
    if (!s.buf.empty()) {
      size_t n = std::min(size, s.buf.size());
      s.buf.copy(static_cast<char*>(buf), n);
      s.buf.erase(0, n);
      return n;
    }
    if (s.closed) return absl::CancelledError("stream closed");
    if (!s.error.ok()) return s.error;
    if (s.eof) return size_t{0};
    return absl::DeadlineExceededError("channel read deadline passed");
  }

  absl::Status Write(const void* buf, size_t size) override {
    const char* p = static_cast<const char*>(buf);
    while (size > 0) {
      {
        absl::MutexLock l(&state_->mu);
        if (state_->closed) return absl::CancelledError("stream closed");
      }
      int n = virStreamSend(stream_.get(), p, size);
      if (n > 0) {
        p += n;
        size -= n;
        continue;
      }
      if (n != -2) return LibvirtError("channel write");
      // Would block: ask the loop to tell us when the peer drains.
      {
        absl::MutexLock l(&state_->mu);
        state_->writable = false;
      }
      virStreamEventUpdateCallback(stream_.get(),
                                   kReadEvents | VIR_STREAM_EVENT_WRITABLE);
      StreamState& s = *state_;
      absl::MutexLock l(&s.mu);
      auto ready = [&s]() ABSL_SHARED_LOCKS_REQUIRED(s.mu) {
        return s.writable || s.closed || s.eof || !s.error.ok();
      };
      if (!s.mu.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(30))) {
        return absl::DeadlineExceededError("channel write stalled for 30s");
      }
      if (s.eof) return absl::UnavailableError("channel closed by peer");
      if (!s.error.ok()) return s.error;
    }
    return absl::OkStatus();
  }

  void Close() override {
    {
      absl::MutexLock l(&state_->mu);
      if (state_->closed) return;
      state_->closed = true;
    }
    // Outside our lock: the event thread may be in OnEvent waiting for it.
    if (registered_) virStreamEventRemoveCallback(stream_.get());
    // Aborting sends a packet and waits on the connection. On one that is
    // closed there is nothing to tell the peer; libvirt 9.0 crashed
    // (g_main_loop_quit) when the connection closed under such a wait.
    if (!conn_ || virConnectIsAlive(conn_) == 1) virStreamAbort(stream_.get());
    virResetLastError();
  }

 private:
  StreamPtr stream_;
  virConnectPtr conn_;  // counted reference, or null
  std::shared_ptr<StreamState> state_;
  bool registered_ = false;
};

}  // namespace

std::unique_ptr<ByteStream> MakeStreamByteStream(StreamPtr stream,
                                                 virConnectPtr conn) {
  return std::make_unique<StreamByteStream>(std::move(stream), conn);
}

}  // namespace nest::vmm::internal
