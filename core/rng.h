// Randomness is injected so that placement and retries are replayable.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nest {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual uint64_t Next() = 0;
  // Uniform in [0, n); n must be > 0.
  uint64_t Uniform(uint64_t n);
};

// Deterministic generator (SplitMix64): the same seed gives the same
// sequence on every platform. Not thread-safe.
class SeededRng : public Rng {
 public:
  explicit SeededRng(uint64_t seed) : state_(seed) {}
  uint64_t Next() override;

 private:
  uint64_t state_;
};

// A SeededRng seeded from the OS entropy source.
SeededRng RandomlySeededRng();

// Stable 64-bit hash of bytes (FNV-1a then a SplitMix64 finaliser), for
// seeding per-request tie-breaks. Identical across runs and platforms.
uint64_t StableHash(const void* data, size_t size, uint64_t seed = 0);

}  // namespace nest
