// What a fuzz target does when a property it checks does not hold: print the
// property and abort, which libFuzzer reports as a crash and saves the input.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace nest::fuzz {

[[noreturn]] inline void PropertyFailed(const char* expr, const char* file,
                                        int line) {
  std::fprintf(stderr, "%s:%d: property does not hold: %s\n", file, line, expr);
  std::abort();
}

}  // namespace nest::fuzz

// A macro so the message carries the expression and the line.
#define FUZZ_CHECK(cond)                                                  \
  do {                                                                    \
    if (!(cond)) ::nest::fuzz::PropertyFailed(#cond, __FILE__, __LINE__); \
  } while (0)
