/* Runs short straight-line RISC-V programs under qemu-riscv64 for the same_as_qemu fuzz target
 * (fuzz/src/qemu.rs), one after another in one process, so an input costs a pipe round trip
 * instead of a qemu start.
 *
 * Request on stdin: u32 code length, 31 u64 (x1..x31), 32 u64 (f0..f31), the code.
 * Answer on stdout: u32 signal (SIGTRAP for the final ebreak, SIGILL, ...), u64 pc,
 * 31 u64 (x1..x31), 32 u64 (f0..f31), u64 fcsr, the data page; all little-endian.
 *
 * The code runs at CODE_ADDRESS with every register as given, and a page of data at
 * DATA_ADDRESS filled with data_byte(offset) (fuzz/src/qemu.rs fills rvedge's the same way):
 * the harness stops itself with an ebreak, and its signal handler swaps the harness's
 * registers for the program's; the signal that ends the program (its last ebreak, or a fault)
 * swaps them back and the harness goes on after its ebreak. The handler runs with the program's gp and tp, so this file is
 * built with -mno-relax (no gp-relative data) and the handler uses no thread-local state. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define CODE_ADDRESS 0x10000ul
#define CODE_BYTES 0x1000ul
#define DATA_ADDRESS 0x20000ul
#define DATA_BYTES 0x1000ul

static unsigned char data_byte(unsigned long offset) {
    return (unsigned char)(offset * 0x9d + 0x17);
}

struct request {
    uint32_t code_length;
    uint64_t x[31];
    uint64_t f[32];
} __attribute__((packed));

struct answer {
    uint32_t signal;
    uint64_t pc;
    uint64_t x[31];
    uint64_t f[32];
    uint64_t fcsr;
    unsigned char data[DATA_BYTES];
} __attribute__((packed));

static struct request request;
static struct answer answer;
static mcontext_t harness_context;
static volatile int running;

static void on_signal(int signal, siginfo_t *info, void *context_pointer) {
    (void)info;
    mcontext_t *context = &((ucontext_t *)context_pointer)->uc_mcontext;
    if (!running) {
        if (signal != SIGTRAP) {
            _exit(100 + signal); /* the harness itself faulted */
        }
        harness_context = *context;
        for (int i = 0; i < 31; i++) {
            context->__gregs[i + 1] = request.x[i];
        }
        for (int i = 0; i < 32; i++) {
            context->__fpregs.__d.__f[i] = request.f[i];
        }
        context->__fpregs.__d.__fcsr = 0;
        context->__gregs[0] = CODE_ADDRESS;
        running = 1;
        return;
    }
    answer.signal = (uint32_t)signal;
    answer.pc = context->__gregs[0];
    for (int i = 0; i < 31; i++) {
        answer.x[i] = context->__gregs[i + 1];
    }
    for (int i = 0; i < 32; i++) {
        answer.f[i] = context->__fpregs.__d.__f[i];
    }
    answer.fcsr = context->__fpregs.__d.__fcsr;
    *context = harness_context;
    context->__gregs[0] += 4; /* past the harness's ebreak */
    running = 0;
}

static int read_all(void *buffer, size_t length) {
    char *cursor = buffer;
    while (length > 0) {
        ssize_t n = read(0, cursor, length);
        if (n <= 0) {
            return 0;
        }
        cursor += n;
        length -= (size_t)n;
    }
    return 1;
}

static int write_all(const void *buffer, size_t length) {
    const char *cursor = buffer;
    while (length > 0) {
        ssize_t n = write(1, cursor, length);
        if (n <= 0) {
            return 0;
        }
        cursor += n;
        length -= (size_t)n;
    }
    return 1;
}

int main(void) {
    /* A mapping of its own with a spare page on top: qemu-riscv64 7.2 was seen writing just
     * above the top of the alternate stack while returning from a handler, which with a static
     * array clobbered the answer that the linker put next to it. */
    size_t stack_bytes = 64 << 10;
    char *signal_stack = mmap(NULL, stack_bytes + 4096, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t stack = {.ss_sp = signal_stack, .ss_size = stack_bytes};
    if (signal_stack == MAP_FAILED || sigaltstack(&stack, NULL) != 0) {
        return 2;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    int signals[] = {SIGTRAP, SIGILL, SIGSEGV, SIGBUS, SIGFPE};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        if (sigaction(signals[i], &action, NULL) != 0) {
            return 3;
        }
    }
    unsigned char *code = mmap((void *)CODE_ADDRESS, CODE_BYTES,
                               PROT_READ | PROT_WRITE | PROT_EXEC,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (code != (unsigned char *)CODE_ADDRESS) {
        return 4;
    }
    unsigned char *data = mmap((void *)DATA_ADDRESS, DATA_BYTES, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (data != (unsigned char *)DATA_ADDRESS) {
        return 8;
    }
    while (read_all(&request, sizeof request)) {
        if (request.code_length > CODE_BYTES) {
            return 5;
        }
        memset(code, 0, CODE_BYTES);
        if (!read_all(code, request.code_length)) {
            return 6;
        }
        for (unsigned long offset = 0; offset < DATA_BYTES; offset++) {
            data[offset] = data_byte(offset);
        }
        __asm__ volatile("fence.i" ::: "memory");
        /* Every program starts without a reservation, as on a fresh rvedge machine: any sc
         * drops the one an earlier program's lr left (Linux drops it on every trap return;
         * qemu-user does not). */
        static uint32_t reservation_dropper;
        __asm__ volatile("sc.w zero, zero, (%0)" ::"r"(&reservation_dropper) : "memory");
        /* A 4-byte ebreak, whatever the compiler would pick. */
        __asm__ volatile(".4byte 0x00100073" ::: "memory");
        memcpy(answer.data, data, DATA_BYTES);
        if (!write_all(&answer, sizeof answer)) {
            return 7;
        }
    }
    return 0;
}
