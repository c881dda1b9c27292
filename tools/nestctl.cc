// nestctl: the Nest command-line client (talks only to the nest.v1 API).
#include <unistd.h>

#include <iostream>

#include "cli/app.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  bool tty = isatty(STDOUT_FILENO) && isatty(STDERR_FILENO);
  return nest::cli::RunNestctl(argc, argv, std::cin, std::cout, std::cerr, tty);
}
