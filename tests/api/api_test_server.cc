// Serves nest.v1 on 127.0.0.1:0 over a simulated cluster (one host "h1",
// an image "hello") for tests written against the API from other
// languages. Prints "PORT <n>" on stdout, then serves until stdin closes.
#include <cstdio>
#include <iostream>
#include <string>

#include "tests/api/api_fixture.h"

int main() {
  nest::api::testing::ApiFixture fixture;
  nest::control::ImageBlob hello{
      "sha256:" + std::string(64, 'a'), "tar", {"/bin/echo"}, {"hi"}, {}, "/"};
  fixture.images.Add("hello", hello);
  std::printf("PORT %d\n", fixture.server->port());
  std::fflush(stdout);
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}
