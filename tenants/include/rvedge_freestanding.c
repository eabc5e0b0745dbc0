/* Start-up and system glue for freestanding RISC-V programs built with
 * picolibc (riscv64-unknown-elf-gcc --specs=picolibc.specs), RV32 or RV64, to
 * run under rvedge or qemu-riscv32/qemu-riscv64 user mode: the entry point
 * reads argc and argv from the stack the loader set up, standard output and
 * error go out through the Linux write system call, exit through exit_group,
 * and malloc's memory comes from brk. Compile it together with the program.
 * Picolibc's linker script (picolibc.ld) places the program; see
 * scripts/lib/riscv-build.sh for the flags. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RVEDGE_SYS_WRITE 64
#define RVEDGE_SYS_EXIT_GROUP 94
#define RVEDGE_SYS_KILL 129
#define RVEDGE_SYS_GETPID 172
#define RVEDGE_SYS_BRK 214

static long rvedge_linux_call(long number, long arg0, long arg1, long arg2) {
    register long a7 __asm__("a7") = number;
    register long a0 __asm__("a0") = arg0;
    register long a1 __asm__("a1") = arg1;
    register long a2 __asm__("a2") = arg2;
    __asm__ volatile("ecall" : "+r"(a0) : "r"(a7), "r"(a1), "r"(a2) : "memory");
    return a0;
}

/* gp for linker relaxation, tp at the thread-local block picolibc's errno
 * lives in (local-exec TLS starts at tp), then C with the initial stack. */
__asm__(".section .text._start, \"ax\", @progbits\n"
        ".global _start\n"
        ".type _start, @function\n"
        "_start:\n"
        ".option push\n"
        ".option norelax\n"
        "    lla gp, __global_pointer$\n"
        ".option pop\n"
        "    lla tp, __tls_base\n"
        "    mv a0, sp\n"
        "    call rvedge_freestanding_start\n"
        ".size _start, . - _start\n");

int main(int argc, char **argv);

/* From picolibc.ld: the zero-initialised data, thread-local (errno) included. */
extern char __bss_start[], __bss_end[];

/* The initial stack: argc, then argv[] (words of the program's width). */
void rvedge_freestanding_start(long *stack) __attribute__((noreturn, used));
void rvedge_freestanding_start(long *stack) {
    /* As picolibc's own start-up does: a loader that maps the data segment's last page
     * from the file may leave file bytes where .bss begins on that page (qemu does). */
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    exit(main((int)stack[0], (char **)(stack + 1)));
}

/* Output is buffered per stream and written at a newline, when full, and at
 * exit. */
struct rvedge_output {
    FILE file;
    int fd;
    size_t used;
    char buffer[256];
};

static int rvedge_flush(FILE *file) {
    struct rvedge_output *out = (struct rvedge_output *)file;
    size_t done = 0;
    while (done < out->used) {
        long written = rvedge_linux_call(RVEDGE_SYS_WRITE, out->fd, (long)(out->buffer + done),
                                         (long)(out->used - done));
        if (written <= 0) {
            out->used = 0;
            return EOF;
        }
        done += (size_t)written;
    }
    out->used = 0;
    return 0;
}

static int rvedge_put(char c, FILE *file) {
    struct rvedge_output *out = (struct rvedge_output *)file;
    out->buffer[out->used++] = c;
    if (c == '\n' || out->used == sizeof out->buffer) {
        if (rvedge_flush(file) != 0) return EOF;
    }
    return (unsigned char)c;
}

static struct rvedge_output rvedge_stdout = {
    .file = FDEV_SETUP_STREAM(rvedge_put, NULL, rvedge_flush, _FDEV_SETUP_WRITE),
    .fd = 1,
};
static struct rvedge_output rvedge_stderr = {
    .file = FDEV_SETUP_STREAM(rvedge_put, NULL, rvedge_flush, _FDEV_SETUP_WRITE),
    .fd = 2,
};
FILE *const stdout = &rvedge_stdout.file;
FILE *const stderr = &rvedge_stderr.file;
FILE *const stdin = NULL;

void _exit(int status) {
    rvedge_flush(stdout);
    rvedge_flush(stderr);
    for (;;) rvedge_linux_call(RVEDGE_SYS_EXIT_GROUP, status, 0, 0);
}

/* abort() raises SIGABRT at itself: under rvedge the run ends with that signal. */
pid_t getpid(void) {
    return (pid_t)rvedge_linux_call(RVEDGE_SYS_GETPID, 0, 0, 0);
}

int kill(pid_t pid, int signal) {
    return (int)rvedge_linux_call(RVEDGE_SYS_KILL, pid, signal, 0);
}

/* malloc's heap: the program break, which the loader puts after the last
 * segment. */
void *sbrk(ptrdiff_t increment) {
    static uintptr_t current;
    if (current == 0) current = (uintptr_t)rvedge_linux_call(RVEDGE_SYS_BRK, 0, 0, 0);
    uintptr_t old = current;
    uintptr_t wanted = old + (uintptr_t)increment;
    uintptr_t granted = (uintptr_t)rvedge_linux_call(RVEDGE_SYS_BRK, (long)wanted, 0, 0);
    if (granted != wanted) return (void *)-1;
    current = granted;
    return (void *)old;
}
