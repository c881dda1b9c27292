// nestctl's command line: flags, subcommands and exit codes. tools/nestctl.cc
// only calls RunNestctl.
#pragma once

#include <istream>
#include <ostream>

namespace nest::cli {

// Parses `argv`, runs the command and returns the process exit code (see
// errors.h). `tty` says whether stdout/stderr are terminals (progress lines
// and screen redraws). Reads NEST_SERVER and NEST_TOKEN from the
// environment.
int RunNestctl(int argc, char** argv, std::istream& in, std::ostream& out,
               std::ostream& err, bool tty);

}  // namespace nest::cli
