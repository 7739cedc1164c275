/*
 * rng.c - the library's one random number generator, xoshiro256**.
 *
 * Its state is four plain 64-bit words, so a checkpoint saves it by copying and
 * a resumed run continues the same stream bit for bit. Seeds pass through
 * splitmix64 as the generator's authors recommend, so seeds 1 and 2 give
 * unrelated streams.
 */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void descent_rng_seed(descent_rng *rng, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t descent_rng_next(descent_rng *rng) {
  uint64_t *s = rng->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double descent_rng_uniform(descent_rng *rng) {
  return (double)(descent_rng_next(rng) >> 11) * 0x1.0p-53;
}

double descent_rng_normal(descent_rng *rng) {
  /* 1 - u lies in (0, 1], so the logarithm is finite. */
  double u1 = 1.0 - descent_rng_uniform(rng);
  double u2 = descent_rng_uniform(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t descent_rng_below(descent_rng *rng, uint64_t n) {
  /* Lemire's rejection: exact uniformity without a division in the common case. */
  uint64_t x = descent_rng_next(rng);
  __uint128_t m = (__uint128_t)x * n;
  uint64_t low = (uint64_t)m;
  if (low < n) {
    uint64_t threshold = -n % n;
    while (low < threshold) {
      x = descent_rng_next(rng);
      m = (__uint128_t)x * n;
      low = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}
