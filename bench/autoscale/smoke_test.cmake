# Runs ${BENCH} on a small burst and checks that its last line is a JSON
# object with the keys issue 10 names.
execute_process(
  COMMAND ${BENCH} --hosts 20 --pending 300 --boot-latency-ms 0 --runs 1
          --timeout-s 60
  OUTPUT_VARIABLE out
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "bench_autoscale exited with ${rc}:\n${out}")
endif()
string(STRIP "${out}" out)
string(REGEX REPLACE "^.*\n" "" last "${out}")
foreach(key bench pending decision_s all_placed_s vms_added vms_lower_bound
            vms_by_division)
  string(JSON value ERROR_VARIABLE err GET "${last}" ${key})
  if(err)
    message(FATAL_ERROR "last line lacks \"${key}\" (${err}): ${last}")
  endif()
endforeach()
string(JSON name GET "${last}" bench)
if(NOT name STREQUAL "autoscale")
  message(FATAL_ERROR "\"bench\" is \"${name}\", expected \"autoscale\"")
endif()
message(STATUS "ok: ${last}")
