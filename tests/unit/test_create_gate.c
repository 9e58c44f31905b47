/* SPDX-License-Identifier: Apache-2.0
 *
 * test_create_gate.c -- the gate that keeps snapshot creations of one
 * collection on one node apart: who waits for whom, for how long (not at
 * all once the holder's snapshot is deleted), and that a waiting run can
 * be cancelled.
 */
#include "unit.h"
#include "engine/create_gate.h"

/* A check that refuses at once: enter then answers whether it would
 * have had to wait. */
static enum qb_err refuse(void *ud, char *err, size_t errlen)
{
    (void)ud;
    return qb_failf(QB_ERR_CANCELLED, err, errlen, "cancelled while waiting");
}

static bool passes(const char *node, const char *collection)
{
    char err[QB_ERRBUF_SIZE];
    return create_gate_enter(node, collection, refuse, NULL, err, sizeof err) == QB_OK;
}

static void test_who_waits(void)
{
    TEST_ASSERT(passes("http://a:6333", "c1"));
    /* Another collection, or another node: no wait. */
    TEST_EXPECT(passes("http://a:6333", "c2"));
    TEST_EXPECT(passes("http://b:6333", "c1"));
    /* The same collection, or a full snapshot of that node: waits, and the
     * check's refusal is what enter returns. */
    char err[QB_ERRBUF_SIZE];
    TEST_EXPECT_INT(create_gate_enter("http://a:6333", "c1", refuse, NULL, err, sizeof err),
                    QB_ERR_CANCELLED);
    TEST_EXPECT_STR(err, "cancelled while waiting");
    TEST_EXPECT(!passes("http://a:6333", NULL));
    create_gate_leave("http://a:6333", "c2", true);
    create_gate_leave("http://b:6333", "c1", true);
    create_gate_leave("http://a:6333", "c1", true);
    /* Their snapshots are gone: the next run need not wait. */
    TEST_EXPECT(passes("http://a:6333", NULL));
    create_gate_leave("http://a:6333", NULL, true);
}

/* After a holder whose snapshot stayed behind on Qdrant, the same
 * collection waits the spacing out, then passes: its name will be a later
 * second. */
static void test_spacing(void)
{
    TEST_ASSERT(passes("http://s:6333", NULL));
    create_gate_leave("http://s:6333", NULL, false);
    int64_t left = qb_mono_ms();
    TEST_EXPECT(!passes("http://s:6333", "c1"));
    while (!passes("http://s:6333", "c1") && qb_mono_ms() - left < 10000)
        qb_sleep_ms(50);
    TEST_EXPECT(qb_mono_ms() - left >= CREATE_GATE_SPACING_MS - 50);
    create_gate_leave("http://s:6333", "c1", true);
}

int main(void)
{
    TEST_RUN(test_who_waits);
    TEST_RUN(test_spacing);
    return TEST_RESULT();
}
