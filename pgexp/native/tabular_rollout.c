/* The whole rollout of a finite MDP under table policies, one loop per trajectory, with the
 * numbers of pgexp's torch sampler (pgexp/rollout.py, Sampler) to the last bit.
 *
 * Each step draws its uniform u (Threefry-2x32-20 of the run's key and the counter (trajectory,
 * 1 + t), as pgexp/counter_rng.py computes it) and takes the entry e of the state's own entries
 * that searchsorted(table[r], 2s + u, right=True) takes: the first whose table value exceeds
 * 2s + u. The table holds 2s plus the cumulative mass of the state's entries and 2s + 1.5 from
 * its last entry of positive mass on (FiniteMDP.step_table), so the search never leaves the
 * state. Integer arithmetic is exact, 2s + u is one IEEE addition, and the uniform is built
 * from its two words with the additions and products of the torch code, in its order: the
 * same bits on any machine. Built without contraction of a*b + c into one rounding
 * (-ffp-contract=off).
 */
#include <stdint.h>

#define LANES 16 /* copies whose uniforms are computed together (the compiler vectorizes them) */

/* LANES uint32 lanes; GCC and Clang apply each operator lane by lane, in vector registers. */
typedef uint32_t lanes __attribute__((vector_size(4 * LANES)));

#define ROUND(r)                              \
    x0 += x1;                                 \
    x1 = ((x1 << (r)) | (x1 >> (32 - (r)))) ^ x0;
#define INJECT(b)                             \
    x0 += ks[((b) + 1) % 3];                  \
    x1 += ks[((b) + 2) % 3] + (b) + 1;
#define EVEN_BLOCK(b) ROUND(13) ROUND(15) ROUND(26) ROUND(6) INJECT(b)
#define ODD_BLOCK(b) ROUND(17) ROUND(29) ROUND(16) ROUND(24) INJECT(b)

/* Threefry-2x32-20 of keys (k0, k1) and counters (c0, c1) for all LANES lanes; the uniforms
 * (k + 1/2) / 2^53 of the high 27 bits of the first output word and the high 26 of the
 * second, k = high * 2^26 + low. */
static void uniforms(uint32_t k0, uint32_t k1, const lanes *c0, uint32_t c1, double *u) {
    const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
    lanes x0 = *c0 + k0, x1 = {0};
    x1 += c1 + k1;
    EVEN_BLOCK(0) ODD_BLOCK(1) EVEN_BLOCK(2) ODD_BLOCK(3) EVEN_BLOCK(4)
    x0 >>= 5;
    x1 >>= 6;
    for (int j = 0; j < LANES; j++) {
        u[j] = ((double)x0[j] * 0x1p26 + (double)x1[j] + 0.5) * 0x1p-53;
    }
}

/* The states s_t, actions a_t (int64) and rewards r_t (double) [R, n, T], trajectory-major, of
 * trajectories first .. first + n - 1 of each run r, from their initial states s0 [R, n]:
 * step t takes entry e, whose action and reward it records, and moves to entry_next[e].
 *   keys [R, 2]: the runs' key words (values below 2^32);
 *   table [R, E]: FiniteMDP.step_table of the runs' policies;
 *   state_start [S + 1]: the index of each state's first entry (and E);
 *   entry_next, entry_action [E] (int64), entry_reward [E] (double): each entry's s', a, r. */
void tabular_rollout(int64_t R, int64_t n, int64_t T, int64_t E, const int64_t *keys,
                     int64_t first, const double *table, const int64_t *state_start,
                     const int64_t *entry_next, const int64_t *entry_action,
                     const double *entry_reward, const int64_t *s0, int64_t *states,
                     int64_t *actions, double *rewards) {
    for (int64_t r = 0; r < R; r++) {
        const double *row = table + r * E;
        const uint32_t k0 = (uint32_t)keys[2 * r], k1 = (uint32_t)keys[2 * r + 1];
        for (int64_t i0 = 0; i0 < n; i0 += LANES) {
            const int count = (int)(n - i0 < LANES ? n - i0 : LANES);
            lanes traj;
            int64_t state[LANES];
            double u[LANES];
            for (int j = 0; j < LANES; j++) traj[j] = (uint32_t)(first + i0 + j);
            for (int j = 0; j < count; j++) state[j] = s0[r * n + i0 + j];
            for (int64_t t = 0; t < T; t++) {
                uniforms(k0, k1, &traj, (uint32_t)(1 + t), u); /* lanes past count: unused */
                for (int j = 0; j < count; j++) {
                    const int64_t s = state[j], at = (r * n + i0 + j) * T + t;
                    const double target = u[j] + 2.0 * (double)s;
                    int64_t e = state_start[s];
                    const int64_t last = state_start[s + 1] - 1;
                    while (e < last && row[e] <= target) e++;
                    states[at] = s;
                    actions[at] = entry_action[e];
                    rewards[at] = entry_reward[e];
                    state[j] = entry_next[e];
                }
            }
        }
    }
}
