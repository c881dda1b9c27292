#include "images/guest/exec.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace nest::images::guest_internal {

absl::StatusOr<ExecResult> Exec(const std::vector<std::string>& argv,
                                const std::string& cwd) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) {
    return absl::UnavailableError(absl::StrCat("pipe: ", strerror(errno)));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return absl::UnavailableError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(pipefd[1], 1);
    dup2(pipefd[1], 2);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(pipefd[1]);
  ExecResult r;
  char buf[8192];
  for (;;) {
    ssize_t n = read(pipefd[0], buf, sizeof(buf));
    if (n > 0) {
      r.output.append(buf, n);
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  if (r.exit_code == 127) {
    return absl::NotFoundError(absl::StrCat("cannot run ", argv[0]));
  }
  return r;
}

absl::StatusOr<std::string> ExecOk(const std::vector<std::string>& argv,
                                   const std::string& cwd) {
  NEST_ASSIGN_OR_RETURN(ExecResult r, Exec(argv, cwd));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("`", absl::StrJoin(argv, " "),
                                            "` exited ", r.exit_code, ": ",
                                            r.output.substr(0, 2000)));
  }
  return r.output;
}

}  // namespace nest::images::guest_internal
