/* Random tenant calls with random arguments, for emulator/tests/tenant_runtime.rs.
 *
 * Each request's URL is "/<seed>". on_recv makes CALLS calls with numbers in
 * 500..559 and arguments drawn from a pool of good and bad values (small
 * integers, pointers into a writable buffer, read-only data, code, NULL, wild
 * addresses, huge lengths; see argument()), then answers 200 with a summary. A wild pointer
 * ends the request with bad_argument; anything else must come back as a
 * result the ABI allows, which the summary counts ("unexpected=0"). */
#include <rvedge.h>

#include <stdio.h>

#define CALLS 20

static char buffer[256];
static const char rodata[] = "read-only bytes of the tenant";
static uint64_t rng;

static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A hook the fuzzer may register (set_hook, forge): harmless wherever it runs. */
static void noop_hook(rvedge_word data, rvedge_word arg1, rvedge_word arg2) {
    (void)data;
    (void)arg1;
    (void)arg2;
}

/* Odd seeds draw from the whole pool; even ones only from plausible values
 * (still often wrong for the call), so more requests get through all their
 * calls. */
static int tame;

static uint64_t argument(void) {
    switch (next() % (tame ? 7 : 12)) {
    case 0:
    case 1:
        return next() % 9; /* small: ids, lengths, flags */
    case 2:
        return next() % 129; /* a length that fits the buffer from any offset below 128 */
    case 3:
    case 4:
        return RVEDGE_PTR(buffer + next() % 128);
    case 5:
        return RVEDGE_PTR(rodata + next() % 8);
    case 6:
        return RVEDGE_PTR(noop_hook);
    case 7:
        return 0; /* NULL */
    case 8: {
        static const uint64_t wild[] = {0xdead0000ull, 1ull << 40, ~0ull, 0x1000};
        return wild[next() % 4];
    }
    case 9: {
        static const uint64_t huge[] = {1ull << 32, (16ull << 20) + 1, 1ull << 62, ~0ull - 7};
        return huge[next() % 4];
    }
    case 10:
        return 100 + next() % 900; /* a status */
    default:
        return next();
    }
}

static int known_call(uint64_t number) {
    return (number >= 500 && number <= 520) || (number >= 530 && number <= 533) ||
           number == 540 || number == 541 || number == 550 || number == 551;
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)resp;
    char url[32];
    int64_t len = rvedge_url_get(req, url, sizeof url - 1);
    uint64_t seed = 0;
    for (int64_t i = 1; i < len && i < (int64_t)sizeof url - 1; i++) {
        if (url[i] >= '0' && url[i] <= '9') {
            seed = seed * 10 + (uint64_t)(url[i] - '0');
        }
    }
    rng = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
    tame = seed % 2 == 0;
    int unexpected = 0, errors = 0;
    for (int i = 0; i < CALLS; i++) {
        uint64_t number = 500 + next() % 60;
        /* Calls take (pointer, length) pairs: after a pointer into the
         * program, usually a length that stays within the buffer. */
        uint64_t a[6];
        for (int j = 0; j < 6; j++) {
            int after_pointer = j > 0 && a[j - 1] >= RVEDGE_PTR(noop_hook) &&
                                a[j - 1] < RVEDGE_PTR(buffer + sizeof buffer);
            a[j] = after_pointer && next() % 4 != 0 ? next() % 129 : argument();
        }
        int64_t result = rvedge_syscall6(number, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (result < 0) {
            errors++;
            int64_t code = -result;
            int allowed = code == RVEDGE_EPERM || code == RVEDGE_ENOENT ||
                          code == RVEDGE_E2BIG || code == RVEDGE_EINVAL;
            if (!known_call(number)) {
                allowed = code == RVEDGE_ENOSYS;
            }
            if (!allowed) {
                unexpected++;
            }
        } else if (!known_call(number)) {
            unexpected++;
        }
    }
    char body[64];
    int n = snprintf(body, sizeof body, "calls=%d errors=%d unexpected=%d", CALLS, errors,
                     unexpected);
    rvedge_respond(200, "text/plain", 10, body, (size_t)n);
}

int main(void) {
    rvedge_wait_for_requests(on_recv, 0);
}
