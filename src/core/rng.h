/* rng: the project's own seeded random generator (xoshiro256**, seeded by splitmix64).
 *
 * One stream per purpose, derived from (dataset name, seed, purpose) so that every optimizer in a
 * grid row starts from the same weights and sees the same data: rng_stream("Cu", 3, RNG_INIT).
 * Never the clock, never rand().
 */
#ifndef RLEKF_RNG_H
#define RLEKF_RNG_H

#include <stdint.h>
#include <stddef.h>

typedef struct {
    uint64_t s[4];
    int has_spare; /* Box-Muller keeps its second normal draw */
    double spare;
} rng_t;

typedef enum { RNG_INIT = 1, RNG_SPLIT = 2, RNG_ORDER = 3, RNG_SAMPLE = 4, RNG_TEST = 5, RNG_VELOCITY = 6 } rng_purpose;

void rng_seed(rng_t *r, uint64_t seed);
/* Stream for (name, seed, purpose): the same triple always gives the same stream. */
void rng_stream(rng_t *r, const char *name, uint64_t seed, rng_purpose purpose);
uint64_t rng_u64(rng_t *r);
double rng_uniform(rng_t *r);          /* [0, 1) with 53 random bits */
size_t rng_below(rng_t *r, size_t n);  /* uniform integer in [0, n), unbiased */
double rng_normal(rng_t *r);           /* standard normal */
void rng_shuffle(rng_t *r, size_t *a, size_t n); /* Fisher-Yates */

#endif
