#include "agent/fake_runtime.h"

#include <csignal>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace nest::agent {
namespace {

absl::Status NotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
}

}  // namespace

void FakeRuntime::SetExitCallback(ExitCallback cb) { on_exit_ = std::move(cb); }

void FakeRuntime::ExitLocked(Fake& f) {
  f.running = false;
  f.exited = true;
}

absl::StatusOr<int> FakeRuntime::Create(const ContainerSpec& spec,
                                        const std::string& /*rootfs*/,
                                        const std::string& log_path,
                                        const NetworkAttachment& /*network*/) {
  if (!spec.args.empty() && spec.args[0] == "fail-create") {
    return absl::InternalError("fake runtime: create failed as asked");
  }
  absl::MutexLock lock(&mu_);
  if (containers_.count(spec.id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("container ", spec.id, " already exists"));
  }
  Fake& f = containers_[spec.id];
  f.spec = spec;
  f.log = std::make_unique<RotatingLog>(log_path, kDefaultLogFileBytes);
  f.pid = next_pid_++;
  return f.pid;
}

absl::Status FakeRuntime::Start(const std::string& id) {
  int code = -1;
  bool oom = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound(id);
    Fake& f = it->second;
    if (f.running || f.exited) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " was already started"));
    }
    f.running = true;
    const auto& args = f.spec.args;
    std::string cmd = args.empty() ? "" : args[0];
    if (cmd == "echo") {
      std::vector<std::string> words(args.begin() + 1, args.end());
      NEST_RETURN_IF_ERROR(f.log->Append(absl::StrJoin(words, " ") + "\n"));
      code = 0;
    } else if (cmd == "exit") {
      code = 1;
      if (args.size() > 1 && !absl::SimpleAtoi(args[1], &code)) code = 1;
    } else if (cmd == "oom") {
      code = 128 + SIGKILL;
      oom = true;
    } else if (cmd == "print" && args.size() > 1) {
      NEST_RETURN_IF_ERROR(f.log->Append(args[1]));
    }
    if (code >= 0) ExitLocked(f);
  }
  if (code >= 0 && on_exit_) on_exit_(id, code, oom);
  return absl::OkStatus();
}

absl::Status FakeRuntime::Kill(const std::string& id, int signal) {
  bool died = false;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound(id);
    Fake& f = it->second;
    if (f.exited) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " is not running"));
    }
    bool stubborn = !f.spec.args.empty() && f.spec.args[0] == "stubborn";
    if (signal == SIGKILL || (!stubborn && signal == SIGTERM)) {
      ExitLocked(f);
      died = true;
    }
  }
  if (died && on_exit_) on_exit_(id, 128 + signal, false);
  return absl::OkStatus();
}

absl::Status FakeRuntime::Delete(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound(id);
  if (it->second.running) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", id, " is still running"));
  }
  containers_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<ExecResult> FakeRuntime::Exec(
    const std::string& id, const std::vector<std::string>& args,
    const ExecOptions& options) {
  ExecResult r;
  int sleep_ms = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound(id);
    if (!it->second.running) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " is not running"));
    }
    ++execs_;
    const std::string program = args.empty() ? "" : args[0];
    auto set = exec_results_.find(program);
    if (set != exec_results_.end()) return set->second;
    if (program == "echo") {
      std::vector<std::string> words(args.begin() + 1, args.end());
      r.output = absl::StrJoin(words, " ") + "\n";
    } else if (args.size() > 1 && program == "exit") {
      if (!absl::SimpleAtoi(args[1], &r.exit_code)) r.exit_code = 1;
    } else if (args.size() > 1 && program == "sleep-ms") {
      if (!absl::SimpleAtoi(args[1], &sleep_ms)) sleep_ms = 0;
    }
  }
  // Like a real process: it takes its time, outside the fake's lock.
  absl::Duration d = absl::Milliseconds(sleep_ms);
  if (d > options.timeout) {
    d = options.timeout;
    r.timed_out = true;
    r.exit_code = 128 + SIGKILL;
  }
  if (d > absl::ZeroDuration()) absl::SleepFor(d);
  return r;
}

void FakeRuntime::SetExecResult(const std::string& program, ExecResult result) {
  absl::MutexLock lock(&mu_);
  exec_results_[program] = std::move(result);
}

uint64_t FakeRuntime::execs() const {
  absl::MutexLock lock(&mu_);
  return execs_;
}

absl::StatusOr<ContainerStats> FakeRuntime::Stats(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound(id);
  ContainerStats s;
  s.id = id;
  if (it->second.running) {
    s.cpu_usage_us = 1000;
    s.memory_bytes = 1 << 20;
    s.pids = 1;
  }
  return s;
}

absl::Status FakeRuntime::Emit(const std::string& id, absl::string_view data) {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound(id);
  return it->second.log->Append(data);
}

size_t FakeRuntime::size() const {
  absl::MutexLock lock(&mu_);
  return containers_.size();
}

absl::StatusOr<ContainerSpec> FakeRuntime::SpecOf(const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound(id);
  return it->second.spec;
}

absl::StatusOr<ContainerLimits> FakeRuntime::LimitsOf(
    const std::string& id) const {
  NEST_ASSIGN_OR_RETURN(ContainerSpec spec, SpecOf(id));
  return spec.limits;
}

}  // namespace nest::agent
