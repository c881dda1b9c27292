#include "vmm/boot.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace nest::vmm {
namespace {

// Hands out `prefix` before delegating, so the byte WaitReady consumed is
// not lost to whoever speaks the protocol next.
class ReplayStream : public ByteStream {
 public:
  ReplayStream(std::string prefix, std::unique_ptr<ByteStream> inner)
      : prefix_(std::move(prefix)), inner_(std::move(inner)) {}
  absl::StatusOr<size_t> Read(void* buf, size_t size,
                              absl::Time deadline) override {
    if (!prefix_.empty()) {
      size_t n = std::min(size, prefix_.size());
      prefix_.copy(static_cast<char*>(buf), n);
      prefix_.erase(0, n);
      return n;
    }
    return inner_->Read(buf, size, deadline);
  }
  absl::Status Write(const void* buf, size_t size) override {
    return inner_->Write(buf, size);
  }
  void Close() override { inner_->Close(); }

 private:
  std::string prefix_;  // touched only by the single reader
  std::unique_ptr<ByteStream> inner_;
};

}  // namespace

BootCounters& GlobalBootCounters() {
  static auto* c = new BootCounters();
  return *c;
}

absl::StatusOr<std::unique_ptr<ByteStream>> WaitReady(VmDriver& driver,
                                                      const VmId& id,
                                                      absl::Time deadline) {
  NEST_ASSIGN_OR_RETURN(auto ch, driver.OpenChannel(id, kAgentChannel));
  char buf[256];
  NEST_ASSIGN_OR_RETURN(size_t n, ch->Read(buf, sizeof(buf), deadline));
  if (n == 0) {
    return absl::UnavailableError(absl::StrCat(
        "vm ", id.str(), ": channel closed before the guest said hello"));
  }
  return std::unique_ptr<ByteStream>(
      new ReplayStream(std::string(buf, n), std::move(ch)));
}

absl::StatusOr<BootResult> BootVm(VmDriver& driver, const VmSpec& spec,
                                  const BootOptions& options) {
  Clock& clock = options.clock ? *options.clock : RealClock();
  BootCounters& counters = GlobalBootCounters();
  absl::Status last;
  for (int attempt = 1; attempt <= 1 + options.max_retries; ++attempt) {
    absl::Time start = clock.MonotonicNow();
    NEST_RETURN_IF_ERROR(driver.Create(spec));
    auto ready =
        WaitReady(driver, spec.id, clock.Now() + options.ready_timeout);
    if (ready.ok()) {
      counters.boots++;
      return BootResult{std::move(*ready), attempt,
                        clock.MonotonicNow() - start};
    }
    last = ready.status();
    spdlog::warn("vm {}: boot attempt {} not ready: {}", spec.id.str(), attempt,
                 last.ToString());
    // Destroyed and recreated: a half-booted guest is never trusted.
    (void)driver.Undefine(spec.id);
    if (attempt <= options.max_retries) counters.retries++;
  }
  counters.failures++;
  return absl::DeadlineExceededError(
      absl::StrCat("vm ", spec.id.str(), " not ready after ",
                   1 + options.max_retries, " attempts: ", last.message()));
}

}  // namespace nest::vmm
