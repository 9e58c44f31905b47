/* SPDX-License-Identifier: Apache-2.0
 *
 * test_ratelimit.c -- util/ratelimit on an injected clock: the sleeping a
 * take does is exactly the debt over the rate (no wall-clock timing), a
 * rate change is honoured by a taker already sleeping, 0 is unlimited, a
 * stop request ends a take, and the registry hands out one shared bucket
 * per key whose rate only ratelimits_set changes.
 */
#include "util/ratelimit.h"
#include "unit.h"

struct fake_clock {
    int64_t now;          /* microseconds */
    int64_t slept;        /* total slept */
    int64_t max_slice;    /* longest single sleep */
    struct ratelimit *rl; /* when set: on_sleep runs after each sleep */
    void (*on_sleep)(struct fake_clock *c);
    int sleeps;
};

static int64_t fake_now(void *ud)
{
    return ((struct fake_clock *)ud)->now;
}

static void fake_sleep(void *ud, int64_t us)
{
    struct fake_clock *c = ud;
    c->now += us;
    c->slept += us;
    c->sleeps++;
    if (us > c->max_slice)
        c->max_slice = us;
    if (c->on_sleep)
        c->on_sleep(c);
}

static struct ratelimit *make(struct fake_clock *c, uint64_t rate)
{
    struct ratelimit_clock k = {.now_us = fake_now, .sleep_us = fake_sleep, .ud = c};
    return ratelimit_create(rate, &k);
}

/* 1 MiB/s, burst 102.4 KiB: 4 MiB taken in 64 KiB chunks costs 3.9 s of
 * sleep, cut into slices of at most 100 ms. */
static void test_rate(void)
{
    struct fake_clock c = {.now = 1000000};
    struct ratelimit *rl = make(&c, 1 << 20);
    for (int i = 0; i < 64; i++)
        TEST_EXPECT_INT(ratelimit_take(rl, 64 * 1024, NULL, NULL), QB_OK);
    int64_t want = 3900000;
    TEST_EXPECT(c.slept >= want && c.slept <= want + 64 * 2);
    TEST_EXPECT(c.max_slice <= 100000);
    ratelimit_destroy(rl);
}

/* A chunk far larger than the burst (16 KiB at this rate) goes through,
 * as debt. */
static void test_big_chunk(void)
{
    struct fake_clock c = {0};
    struct ratelimit *rl = make(&c, 100000);
    TEST_EXPECT_INT(ratelimit_take(rl, 1000000 + 16384, NULL, NULL), QB_OK);
    TEST_EXPECT(c.slept >= 10000000 && c.slept <= 10000000 + 200);
    ratelimit_destroy(rl);
}

static void test_unlimited(void)
{
    struct fake_clock c = {0};
    struct ratelimit *rl = make(&c, 0);
    TEST_EXPECT_INT(ratelimit_take(rl, (uint64_t)1 << 40, NULL, NULL), QB_OK);
    TEST_EXPECT_INT(c.slept, 0);
    TEST_EXPECT_INT(ratelimit_take(NULL, 5, NULL, NULL), QB_OK);
    ratelimit_destroy(rl);
}

/* A taker sleeping on a 10-second debt at 100 KB/s: the rate goes to 10 MB/s
 * after its first slice, and it wakes after about one more millisecond
 * instead of ten seconds; then unlimited returns at once. */
static void raise_rate(struct fake_clock *c)
{
    if (c->sleeps == 1)
        ratelimit_set_rate(c->rl, 10000000);
}

static void test_live_change(void)
{
    struct fake_clock c = {0};
    struct ratelimit *rl = make(&c, 100000);
    c.rl = rl;
    c.on_sleep = raise_rate;
    TEST_EXPECT_INT(ratelimit_take(rl, 1000000 + 16384, NULL, NULL), QB_OK);
    /* 100 ms at the old rate repaid 10 KB; the remaining 990 KB at 10 MB/s. */
    TEST_EXPECT(c.slept >= 100000 + 99000 && c.slept <= 100000 + 99000 + 200);
    TEST_EXPECT_INT(ratelimit_rate(rl), 10000000);
    c.on_sleep = NULL;
    ratelimit_set_rate(rl, 0);
    int64_t before = c.slept;
    TEST_EXPECT_INT(ratelimit_take(rl, 100000000, NULL, NULL), QB_OK);
    TEST_EXPECT_INT(c.slept, before);
    ratelimit_destroy(rl);
}

static bool stop_after_3(void *ud)
{
    return ((struct fake_clock *)ud)->sleeps >= 3;
}

static void test_stop(void)
{
    struct fake_clock c = {0};
    struct ratelimit *rl = make(&c, 1000);
    TEST_EXPECT_INT(ratelimit_take(rl, 10000000, stop_after_3, &c), QB_ERR_CANCELLED);
    TEST_EXPECT_INT(c.sleeps, 3);
    TEST_EXPECT(c.slept <= 300000);
    ratelimit_destroy(rl);
}

static void test_registry(void)
{
    struct ratelimits *r = ratelimits_create();
    struct ratelimit *a = ratelimits_get(r, "instance:1", 1000);
    struct ratelimit *b = ratelimits_get(r, "destination:1", 0);
    TEST_EXPECT(a != b);
    /* A later get does not undo a change (its caller's row may be older). */
    TEST_EXPECT(ratelimits_get(r, "instance:1", 2000) == a);
    TEST_EXPECT_INT(ratelimit_rate(a), 1000);
    ratelimits_set(r, "instance:1", 5);
    TEST_EXPECT_INT(ratelimit_rate(a), 5);
    ratelimits_set(r, "plan:9", 5); /* never used: nothing to change */
    TEST_EXPECT_INT(ratelimit_rate(b), 0);
    ratelimits_destroy(r);
    ratelimits_destroy(NULL);
}

/* A fleet's share: each bucket runs at its configured rate over the live
 * nodes, also for buckets made or changed after the share was set; no
 * limit stays none; back to one node, the whole rate. */
static void test_fleet_share(void)
{
    struct ratelimits *r = ratelimits_create();
    struct ratelimit *a = ratelimits_get(r, "instance:1", 3000);
    struct ratelimit *none = ratelimits_get(r, "plan:1", 0);
    ratelimits_set_share(r, 3);
    TEST_EXPECT_INT(ratelimit_rate(a), 1000);
    TEST_EXPECT_INT(ratelimit_rate(none), 0);
    struct ratelimit *b = ratelimits_get(r, "destination:1", 600);
    TEST_EXPECT_INT(ratelimit_rate(b), 200);
    ratelimits_set(r, "instance:1", 9000);
    TEST_EXPECT_INT(ratelimit_rate(a), 3000);
    ratelimits_set(r, "destination:1", 2); /* never below 1 byte/s */
    TEST_EXPECT_INT(ratelimit_rate(b), 1);
    ratelimits_set_share(r, 0); /* counts as one */
    TEST_EXPECT_INT(ratelimit_rate(a), 9000);
    TEST_EXPECT_INT(ratelimit_rate(b), 2);
    ratelimits_destroy(r);
}

int main(void)
{
    TEST_RUN(test_rate);
    TEST_RUN(test_big_chunk);
    TEST_RUN(test_unlimited);
    TEST_RUN(test_live_change);
    TEST_RUN(test_stop);
    TEST_RUN(test_registry);
    TEST_RUN(test_fleet_share);
    return TEST_RESULT();
}
