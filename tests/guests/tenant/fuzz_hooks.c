/* The tenant of fuzz/fuzz_targets/tenant_calls.rs: every hook and forge callback runs a script
 * of tenant calls that the fuzzer wrote, so call numbers and arguments are the fuzzer's in
 * every hook.
 *
 * A hook registered with data d reads its script, hex-encoded, from header "x-fuzz-<d % 8>"
 * of the request it sees (its first hook argument: req on the client side, bereq on the
 * backend side). main() registers every request hook with its hook id as data; forge
 * callbacks get whatever data the script passed.
 *
 * A script is a list of calls. One call: a byte choosing the number (500 + byte % 64; for
 * bytes 0xf0..0xfb a Linux system call that changes memory or reads guest buffers, from
 * linux_calls; for bytes >= 0xfc a raw 64-bit number that is at least 500), then six
 * arguments, each a kind byte and the bytes its kind takes (see argument()). Missing bytes
 * read as 0. A Linux call is logged first ("linux <number>"): after one, the tenant may have
 * unmapped its own memory, so the fuzz target accepts the faults that follow. A Linux call
 * whose line the log caps drop is skipped, so the log shows every one made.
 *
 * A hook or callback entry the script passes (set_hook, forge) that lies in the program's code
 * segment but is not one of its two hook-shaped functions becomes one of them: the runtime
 * accepts any address in that segment, and running rodata as code is the execute target's
 * business, not this one's. Entries elsewhere stay wild.
 *
 * Results must be ones docs/abi.md allows: a known call fails only with EPERM, ENOENT,
 * E2BIG or EINVAL, an unknown one only with ENOSYS. Anything else is logged and ends the
 * request with a breakpoint (error kind "crashed"), which the fuzz target reports. */
#include <rvedge.h>

#include <stdint.h>

#define MAX_SCRIPT 512
#define MAX_CALLS 48

static unsigned char script[MAX_SCRIPT];
static int64_t script_len;
static int64_t position;
static char hex[2 * MAX_SCRIPT];
/* Where calls write their results; page-aligned so page boundaries are near. */
static char buffer[2 * 4096] __attribute__((aligned(4096)));
static const char rodata[] = "read-only bytes of the tenant";
static int64_t last_result;
static uint64_t last_length;

static void run_script(uint64_t data, uint64_t set, uint64_t other_set);

/* From the linker: the start of the code segment, and a section after its end. */
extern const char __executable_start[];
extern void (*const __init_array_start[])(void);

/* Texts the calls want (header names, documents, queries, URLs), so scripts reach past
 * argument checks. */
static const char *const texts[] = {
    "x-fuzz-0",
    "content-type",
    "host",
    "{\"a\":{\"b\":[1,2,{\"c\":\"d\"}]},\"e\":null}",
    "a.b[2].c",
    "<a x=\"1\"><b c=\"2\">text</b><b/></a>",
    "a/b",
    "/path?query=1",
    "GET",
    "text/plain",
    "default",
    "x-rvedge-backend",
    "transfer-encoding",
    "bad\r\nheader",
    "{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]}",
    "",
};
#define N_TEXTS (sizeof texts / sizeof texts[0])

static uint64_t text_length(const char *text) {
    uint64_t length = 0;
    while (text[length] != 0) {
        length++;
    }
    return length;
}

static unsigned next_byte(void) {
    return position < script_len ? script[position++] : 0;
}

static uint64_t next_u16(void) {
    uint64_t low = next_byte();
    return low | (uint64_t)next_byte() << 8;
}

static uint64_t next_u64(void) {
    uint64_t value = 0;
    for (int i = 0; i < 8; i++) {
        value |= (uint64_t)next_byte() << (8 * i);
    }
    return value;
}

/* One argument: the kind byte's low 4 bits choose what, the bytes after it say which. */
static uint64_t argument(void) {
    static const uint64_t wild[] = {
        0xdead0000ull, 1ull << 40, ~0ull, 0x1000, 0x10000, 0x7fffffffffffull, 1ull << 63, 8,
    };
    static const uint64_t huge[] = {
        1ull << 32, (16ull << 20) + 1, 16ull << 20, 1ull << 62, ~0ull - 7, (64ull << 10) + 1,
        ~0ull, 1ull << 31,
    };
    unsigned kind = next_byte();
    switch (kind & 15) {
    case 0:
        return next_byte(); /* small: ids, flags, sets */
    case 1:
        return last_length = next_u16(); /* a length */
    case 2: {
        uint64_t offset = next_u16() % sizeof buffer;
        last_length = sizeof buffer - offset;
        return RVEDGE_PTR(buffer + offset);
    }
    case 3: { /* the script's own bytes: documents and names the fuzzer chose */
        uint64_t offset = next_u16() % MAX_SCRIPT;
        last_length = next_byte();
        return RVEDGE_PTR(script + offset);
    }
    case 4:
        last_length = sizeof rodata - 1;
        return RVEDGE_PTR(rodata + next_byte() % 8);
    case 5: { /* functions, and addresses that are not one */
        uint64_t choice = next_byte() % 5;
        if (choice == 0) {
            return RVEDGE_PTR(run_script);
        }
        if (choice == 1) {
            return RVEDGE_PTR(argument);
        }
        if (choice == 2) {
            return RVEDGE_PTR(buffer);
        }
        if (choice == 3) {
            return RVEDGE_PTR(rodata);
        }
        return RVEDGE_PTR(run_script) + 2; /* becomes a function (see hook_entry) */
    }
    case 6:
        return 0;
    case 7:
        return wild[next_byte() % 8];
    case 8:
        return huge[next_byte() % 8];
    case 9:
        return next_u16() % 1100; /* a status, valid or not */
    case 10:
        return next_u64();
    case 11: {
        const char *text = texts[next_byte() % N_TEXTS];
        last_length = text_length(text);
        return RVEDGE_PTR(text);
    }
    case 12:
        return last_length; /* the length of the last pointer's data */
    case 13:
        return (uint64_t)last_result;
    case 14: /* just before the buffer's end, so a longer length runs past it */
        last_length = next_byte() % 16;
        return RVEDGE_PTR(buffer + sizeof buffer) - last_length;
    default:
        return next_byte() % 5; /* a header set, valid or not */
    }
}

/* A function entry in the code segment: a real hook-shaped function. */
static uint64_t hook_entry(uint64_t entry) {
    if (entry < RVEDGE_PTR(__executable_start) || entry >= RVEDGE_PTR(__init_array_start) ||
        entry == RVEDGE_PTR(run_script) || entry == RVEDGE_PTR(argument)) {
        return entry;
    }
    return entry & 1 ? RVEDGE_PTR(argument) : RVEDGE_PTR(run_script);
}

/* brk, mmap, munmap, mprotect, madvise, write, writev, getrandom, clock_gettime, futex,
 * newfstatat, sigaltstack: never exit or kill. */
static const uint64_t linux_calls[] = {214, 222, 215, 226, 233, 64, 66, 278, 113, 98, 79, 132};

/* Whether the line got into the log. */
static int log_linux_call(uint64_t number) {
    char line[] = "linux 000";
    line[6] = (char)('0' + number / 100 % 10);
    line[7] = (char)('0' + number / 10 % 10);
    line[8] = (char)('0' + number % 10);
    return rvedge_log(line, sizeof line - 1) == 0;
}

static int known_call(uint64_t number) {
    return (number >= 500 && number <= 520) || (number >= 530 && number <= 533) ||
           number == 540 || number == 541 || number == 550 || number == 551 ||
           (number >= 570 && number <= 575) || (number >= 580 && number <= 583);
}

static void report_unexpected(uint64_t number, int64_t result) {
    static const char digits[] = "0123456789abcdef";
    char line[] = "unexpected result 0x0000000000000000 of call 0x0000000000000000";
    uint64_t value = (uint64_t)result;
    for (int i = 0; i < 16; i++) {
        line[35 - i] = digits[value & 15];
        value >>= 4;
        line[62 - i] = digits[number & 15];
        number >>= 4;
    }
    rvedge_log(line, sizeof line - 1);
    __builtin_trap();
}

static int hex_value(char digit) {
    if (digit >= '0' && digit <= '9') {
        return digit - '0';
    }
    if (digit >= 'a' && digit <= 'f') {
        return digit - 'a' + 10;
    }
    return 0;
}

static void load_script(uint64_t data, uint64_t set) {
    char name[] = "x-fuzz-0";
    name[7] = (char)('0' + data % 8);
    int64_t length = rvedge_header_get(set, name, sizeof name - 1, hex, sizeof hex);
    if (length < 0) {
        length = 0;
    }
    if (length > (int64_t)sizeof hex) {
        length = sizeof hex;
    }
    script_len = length / 2;
    for (int64_t i = 0; i < script_len; i++) {
        script[i] = (unsigned char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
    }
    position = 0;
}

static void run_script(uint64_t data, uint64_t set, uint64_t other_set) {
    (void)other_set;
    load_script(data, set);
    for (int calls = 0; calls < MAX_CALLS && position < script_len; calls++) {
        unsigned choice = next_byte();
        uint64_t number = 500 + choice % 64;
        int linux_call = choice >= 0xf0 && choice < 0xfc;
        if (linux_call) {
            number = linux_calls[choice - 0xf0];
        } else if (choice >= 0xfc) {
            number = next_u64();
            if (number < 500) {
                number += 500;
            }
        }
        uint64_t a[6];
        for (int j = 0; j < 6; j++) {
            a[j] = argument();
        }
        if (number == RVEDGE_CALL_SET_HOOK || number == RVEDGE_CALL_FORGE) {
            a[1] = hook_entry(a[1]);
        }
        if (linux_call && !log_linux_call(number)) {
            continue;
        }
        int64_t result = rvedge_syscall6(number, a[0], a[1], a[2], a[3], a[4], a[5]);
        last_result = result;
        if (linux_call) {
            continue; /* any result: these are Linux's rules, not the tenant ABI's */
        }
        if (result >= 0) {
            if (!known_call(number)) {
                report_unexpected(number, result);
            }
            continue;
        }
        int64_t code = -result;
        int allowed = known_call(number)
                          ? code == RVEDGE_EPERM || code == RVEDGE_ENOENT ||
                                code == RVEDGE_E2BIG || code == RVEDGE_EINVAL
                          : code == RVEDGE_ENOSYS;
        if (!allowed) {
            report_unexpected(number, result);
        }
    }
}

int main(void) {
    for (uint64_t hook = RVEDGE_HOOK_ON_HASH; hook <= RVEDGE_HOOK_ON_BACKEND_RESPONSE; hook++) {
        rvedge_set_hook(hook, run_script, hook);
    }
    rvedge_wait_for_requests(run_script, RVEDGE_HOOK_ON_RECV);
}
