/*
 * qmc.c - the quasi-random point sets a search draws from: Sobol and Halton.
 *
 * Both are unscrambled and match scipy.stats.qmc (Sobol and Halton with
 * scramble=False) point for point, so that a search's plan can be checked
 * against the reference and reproduced anywhere. Points are computed from
 * their index alone (no generator state), so a resumed search draws the same
 * points.
 */
#include "internal.h"

#include <math.h>

/* Sobol direction numbers of dimensions 2..21: Joe and Kuo's
 * new-joe-kuo-6.21201 (S. Joe and F. Y. Kuo, "Constructing Sobol sequences
 * with better two-dimensional projections", SIAM J. Sci. Comput. 30, 2008;
 * https://web.maths.unsw.edu.au/~fkuo/sobol/new-joe-kuo-6.21201), its first
 * 20 rows: the degree s of the primitive polynomial, its coefficients a
 * (without the leading and trailing 1) and the initial numbers m_1..m_s.
 * These are the rows scipy's _sobol_direction_numbers.npz holds for the same
 * dimensions (there poly = 2^s + 2a + 1). Dimension 1 has every m_k = 1. */
typedef struct {
  unsigned s, a;
  uint32_t m[7];
} sobol_row;

static const sobol_row SOBOL_ROWS[DESCENT_SOBOL_MAX_DIM - 1] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
};

enum { SOBOL_BITS = 32 };

/* The 32 direction numbers v_k = m_k 2^(32-k) of dimension j (0-based), m_k
 * continued past the initial ones by the recurrence of Bratley and Fox:
 * m_k = 2^s m_{k-s} xor m_{k-s} xor sum_{i=1}^{s-1} 2^i a_i m_{k-i}.
 * With 32 bits the points are those of scipy's default 30 bits for every
 * index below 2^30 (the numbers scale by a power of two) and continue them. */
static void sobol_directions(size_t j, uint64_t v[SOBOL_BITS]) {
  uint64_t m[SOBOL_BITS];
  if (j == 0) {
    for (unsigned k = 0; k < SOBOL_BITS; k++) m[k] = 1;
  } else {
    const sobol_row *row = &SOBOL_ROWS[j - 1];
    unsigned s = row->s;
    for (unsigned k = 0; k < s; k++) m[k] = row->m[k];
    for (unsigned k = s; k < SOBOL_BITS; k++) {
      uint64_t next = m[k - s] ^ (m[k - s] << s);
      for (unsigned i = 1; i < s; i++)
        if ((row->a >> (s - 1 - i)) & 1u) next ^= m[k - i] << i;
      m[k] = next;
    }
  }
  for (unsigned k = 0; k < SOBOL_BITS; k++) v[k] = m[k] << (SOBOL_BITS - 1 - k);
}

int descent_sobol_point(uint64_t index, size_t dim, double *out) {
  if (!out)
    return descent_fail(DESCENT_EINVAL,
                        "descent_sobol_point: out is NULL; pass a buffer of dim doubles");
  if (dim == 0 || dim > DESCENT_SOBOL_MAX_DIM)
    return descent_fail(DESCENT_EINVAL,
                        "descent_sobol_point: dim %zu is outside 1..%d; draw more dimensions with "
                        "descent_halton_point",
                        dim, DESCENT_SOBOL_MAX_DIM);
  if (index >> SOBOL_BITS)
    return descent_fail(DESCENT_EINVAL,
                        "descent_sobol_point: index %llu is 2^32 or above; the sequence has 2^32 "
                        "points",
                        (unsigned long long)index);
  /* Point i of the Gray-code order is the xor of the direction numbers of
   * the set bits of gray(i) = i xor (i >> 1). */
  uint64_t gray = index ^ (index >> 1);
  for (size_t j = 0; j < dim; j++) {
    uint64_t v[SOBOL_BITS], x = 0;
    sobol_directions(j, v);
    for (unsigned k = 0; k < SOBOL_BITS; k++)
      if ((gray >> k) & 1u) x ^= v[k];
    out[j] = ldexp((double)x, -SOBOL_BITS);
  }
  return DESCENT_OK;
}

enum { HALTON_MAX_DIM = 1000 };

/* The prime after p (p >= 2), by trial division: 1000 primes cost little. */
static unsigned next_prime(unsigned p) {
  for (unsigned c = p + 1;; c++) {
    int prime = 1;
    for (unsigned d = 2; d * d <= c; d++)
      if (c % d == 0) {
        prime = 0;
        break;
      }
    if (prime) return c;
  }
}

/* The radical inverse of index in base b, summed digit by digit as scipy's
 * van_der_corput does (factor 1/b, divided by b per digit), so the rounding
 * is the same. */
static double radical_inverse(uint64_t index, unsigned base) {
  double sum = 0.0, factor = 1.0 / base;
  while (index > 0) {
    sum += (double)(index % base) * factor;
    factor /= base;
    index /= base;
  }
  return sum;
}

int descent_halton_point(uint64_t index, size_t dim, double *out) {
  if (!out)
    return descent_fail(DESCENT_EINVAL,
                        "descent_halton_point: out is NULL; pass a buffer of dim doubles");
  if (dim == 0 || dim > HALTON_MAX_DIM)
    return descent_fail(DESCENT_EINVAL, "descent_halton_point: dim %zu is outside 1..%d", dim,
                        HALTON_MAX_DIM);
  unsigned base = 2;
  for (size_t j = 0; j < dim; j++) {
    out[j] = radical_inverse(index, base);
    base = next_prime(base);
  }
  return DESCENT_OK;
}
