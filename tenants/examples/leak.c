/* Isolation probe: every request must start from the template, whatever the
 * previous request did. on_recv first reports what it sees, then dirties
 * globals, heap, an mmap'd page, brk, the mapping table and the stack, and
 * only then answers. On a correct host every request gets
 *     counter=0 heap=clean brk=same mmap=clean stack=clean
 * (one line, "\n"-terminated, 200 text/plain). */
#define _GNU_SOURCE /* syscall, sbrk, MAP_ANONYMOUS even under -std=c11 */
#include <rvedge.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STACK_PROBE_SIZE 4096
#define STACK_MARK 0xAA
/* This many STACK_MARK bytes in a row cannot be left-over start-up data by
 * chance; a single one could. */
#define STACK_MARK_RUN 64

static int counter = 0;
static char *heap;   /* malloc'ed in main, holds "clean" */
static char *mapped; /* an mmap'ed page from main, holds "clean" */
static uintptr_t brk_at_start;

/* The break as the (emulated) kernel sees it, not libc's cached copy. */
static uintptr_t current_brk(void) { return (uintptr_t)syscall(SYS_brk, 0); }

/* Best-effort probe: reads whatever the stack below on_recv holds, through an
 * array this function never writes. stack_scribble, called from the same
 * depth, fills the same bytes with STACK_MARK, so a stack leaked from an
 * earlier request shows up here. Returns 1 if it finds the mark. */
__attribute__((noinline)) static int stack_probe_dirty(void) {
    volatile unsigned char area[STACK_PROBE_SIZE];
    /* Tells the compiler the array may have been written, so reading it is
     * not treated as reading an uninitialised value. */
    __asm__ volatile("" : : "r"(area) : "memory");
    int run = 0;
    for (size_t i = 0; i < STACK_PROBE_SIZE; i++) {
        run = area[i] == STACK_MARK ? run + 1 : 0;
        if (run >= STACK_MARK_RUN) {
            return 1;
        }
    }
    return 0;
}

__attribute__((noinline)) static void stack_scribble(void) {
    volatile unsigned char area[STACK_PROBE_SIZE];
    for (size_t i = 0; i < STACK_PROBE_SIZE; i++) {
        area[i] = STACK_MARK;
    }
    __asm__ volatile("" : : "r"(area) : "memory"); /* the array counts as used */
}

static void on_recv(rvedge_word data, rvedge_word req, rvedge_word resp) {
    (void)data;
    (void)req;
    (void)resp;
    /* First, before anything else uses the stack below this frame. */
    int stack_dirty = stack_probe_dirty();

    char body[160];
    snprintf(body, sizeof body, "counter=%d heap=%s brk=%s mmap=%s stack=%s\n", counter, heap,
             current_brk() == brk_at_start ? "same" : "moved", mapped,
             stack_dirty ? "dirty" : "clean");

    /* Dirty everything a later request could wrongly see. */
    counter++;
    strcpy(heap, "dirty");
    strcpy(mapped, "dirty");
    char *grown = sbrk(1 << 20);
    if (grown != (void *)-1) {
        grown[0] = 1;
    }
    char *region = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region != MAP_FAILED) {
        region[0] = 1;
    }
    stack_scribble();

    rvedge_respond_str(200, "text/plain", body);
}

int main(void) {
    heap = malloc(16);
    mapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (heap == NULL || mapped == MAP_FAILED) {
        return 1;
    }
    strcpy(heap, "clean");
    strcpy(mapped, "clean");
    /* After the allocations above, which may have moved it. */
    brk_at_start = current_brk();
    rvedge_wait_for_requests(on_recv, 0);
}
