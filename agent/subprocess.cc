#include "agent/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"

extern char** environ;

namespace nest::agent {
namespace {

int g_sigchld_pipe[2] = {-1, -1};

void OnSigchld(int) {
  int saved = errno;
  char c = 0;
  [[maybe_unused]] ssize_t r = ::write(g_sigchld_pipe[1], &c, 1);
  errno = saved;
}

// Statuses of children nobody watched yet are kept briefly, because a child
// can exit (and be reaped) before its spawner gets to call Watch.
constexpr size_t kMaxUnclaimed = 1024;

}  // namespace

struct ChildReaper::Impl {
  absl::Mutex mu;
  std::map<pid_t, std::function<void(int)>> watchers ABSL_GUARDED_BY(mu);
  std::map<pid_t, int> unclaimed ABSL_GUARDED_BY(mu);
  std::deque<pid_t> unclaimed_order ABSL_GUARDED_BY(mu);

  void Loop() {
    for (;;) {
      for (;;) {
        int st = 0;
        pid_t pid = ::waitpid(-1, &st, WNOHANG | __WALL);
        if (pid <= 0) break;
        std::function<void(int)> cb;
        {
          absl::MutexLock lock(&mu);
          auto it = watchers.find(pid);
          if (it != watchers.end()) {
            cb = std::move(it->second);
            watchers.erase(it);
          } else {
            unclaimed[pid] = st;
            unclaimed_order.push_back(pid);
            while (unclaimed_order.size() > kMaxUnclaimed) {
              unclaimed.erase(unclaimed_order.front());
              unclaimed_order.pop_front();
            }
          }
        }
        if (cb) cb(st);
      }
      // The timeout covers a SIGCHLD that raced with the drain above.
      pollfd pfd{g_sigchld_pipe[0], POLLIN, 0};
      int n = ::poll(&pfd, 1, 1000);
      if (n > 0) {
        char buf[256];
        while (::read(g_sigchld_pipe[0], buf, sizeof(buf)) > 0) {
        }
      }
    }
  }
};

ChildReaper& ChildReaper::Get() {
  static ChildReaper* reaper = new ChildReaper();
  return *reaper;
}

ChildReaper::ChildReaper() : impl_(new Impl) {
  if (::pipe2(g_sigchld_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    g_sigchld_pipe[0] = g_sigchld_pipe[1] = -1;
  }
  struct sigaction sa;
  std::memset(&sa, 0, sizeof(sa));
  sa.sa_handler = OnSigchld;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGCHLD, &sa, nullptr);
  std::thread([impl = impl_] { impl->Loop(); }).detach();
}

void ChildReaper::Watch(pid_t pid, std::function<void(int)> on_exit) {
  int st = 0;
  {
    absl::MutexLock lock(&impl_->mu);
    auto it = impl_->unclaimed.find(pid);
    if (it == impl_->unclaimed.end()) {
      impl_->watchers[pid] = std::move(on_exit);
      return;
    }
    st = it->second;
    impl_->unclaimed.erase(it);
  }
  on_exit(st);
}

absl::StatusOr<int> ChildReaper::Wait(pid_t pid, absl::Time deadline) {
  struct Result {
    absl::Notification done;
    int status = 0;
  };
  auto result = std::make_shared<Result>();
  Watch(pid, [result](int st) {
    result->status = st;
    result->done.Notify();
  });
  if (!result->done.WaitForNotificationWithDeadline(deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat("process ", pid, " did not exit in time"));
  }
  return result->status;
}

int ExitCodeFromWaitStatus(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 255;
}

absl::StatusOr<pid_t> Spawn(const SpawnOptions& options) {
  if (options.args.empty()) {
    return absl::InvalidArgumentError("args must not be empty");
  }
  ChildReaper::Get();  // the reaper must exist before the child can exit
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (options.stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, options.stdout_fd, 1);
  } else {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  }
  if (options.stderr_fd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, options.stderr_fd, 2);
  } else {
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  }
  // The child must not inherit the agent's blocked signals or handlers.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const auto& a : options.args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : options.env)
    envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(),
                          options.env.empty() ? environ : envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot start ", options.args[0], ": ", std::strerror(rc)));
  }
  return pid;
}

absl::StatusOr<ExecResult> RunCommand(const std::vector<std::string>& args,
                                      const std::vector<std::string>& env,
                                      absl::Duration timeout,
                                      size_t max_output) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  SpawnOptions opts{args, env, p[1], p[1]};
  absl::StatusOr<pid_t> pid = Spawn(opts);
  ::close(p[1]);
  if (!pid.ok()) {
    ::close(p[0]);
    return pid.status();
  }
  // The exit can come before EOF on the pipe when a grandchild keeps it
  // open, so the reader also wakes on the exit.
  int exited_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct Exit {
    absl::Notification done;
    int status = 0;
  };
  auto exit = std::make_shared<Exit>();
  ChildReaper::Get().Watch(*pid, [exit, exited_fd](int st) {
    exit->status = st;
    uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(exited_fd, &one, sizeof(one));
    exit->done.Notify();  // last: the waiter then closes exited_fd
  });

  ExecResult result;
  absl::Time deadline = absl::Now() + timeout;
  bool eof = false;
  while (!eof) {
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      result.timed_out = true;
      ::kill(*pid, SIGKILL);
      break;
    }
    pollfd fds[2] = {{p[0], POLLIN, 0}, {exited_fd, POLLIN, 0}};
    int n =
        ::poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    if (fds[0].revents) {
      char buf[16384];
      ssize_t r = ::read(p[0], buf, sizeof(buf));
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        eof = true;
      } else if (result.output.size() < max_output) {
        size_t keep =
            std::min(static_cast<size_t>(r), max_output - result.output.size());
        result.output.append(buf, keep);
        if (keep < static_cast<size_t>(r)) result.output_truncated = true;
      } else {
        result.output_truncated = true;
      }
      continue;
    }
    if (fds[1].revents) {
      // Exited: take what is buffered now, then stop.
      ::fcntl(p[0], F_SETFL, O_NONBLOCK);
      char buf[16384];
      ssize_t r;
      while ((r = ::read(p[0], buf, sizeof(buf))) > 0) {
        if (result.output.size() < max_output) {
          size_t keep = std::min(static_cast<size_t>(r),
                                 max_output - result.output.size());
          result.output.append(buf, keep);
        }
      }
      break;
    }
  }
  ::close(p[0]);
  if (!result.timed_out &&
      !exit->done.WaitForNotificationWithDeadline(deadline)) {
    result.timed_out = true;
    ::kill(*pid, SIGKILL);
  }
  // After SIGKILL the exit is imminent; the bound guards against a process
  // stuck in uninterruptible sleep.
  if (!exit->done.WaitForNotificationWithDeadline(absl::Now() +
                                                  absl::Seconds(5))) {
    // The watcher still owns exited_fd; leak it rather than race.
    return absl::DeadlineExceededError(
        absl::StrCat(absl::StrJoin(args, " "), " did not exit after SIGKILL"));
  }
  ::close(exited_fd);
  result.exit_code = ExitCodeFromWaitStatus(exit->status);
  return result;
}

}  // namespace nest::agent
