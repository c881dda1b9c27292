// bench_dashboard: runs dashboard_bench.py (selenium + headless chromium)
// against this build's nestd and nestctl. Extra arguments are passed on
// (--hosts, --vms, --runs). Prints the driver's table and, last, its JSON
// line; exits with the driver's status.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  std::vector<std::string> args = {NEST_PYTHON3, NEST_BENCH_SCRIPT,
                                   "--nestd",    NEST_NESTD,
                                   "--nestctl",  NEST_NESTCTL};
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  execv(cargs[0], cargs.data());
  std::perror("bench_dashboard: cannot run " NEST_PYTHON3);
  return 1;
}
