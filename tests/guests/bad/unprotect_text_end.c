/* Code is immutable: neither mprotect nor munmap may change the last page of
 * the executable segment (found through the program headers), nor the
 * first. Prints what each call returned; exits 0 only if all were refused.
 * (qemu allows them, so this is a bad/ guest, not a differential one.) */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/mman.h>

int main(void) {
    const Elf64_Phdr *headers = (const Elf64_Phdr *)getauxval(AT_PHDR);
    unsigned long count = getauxval(AT_PHNUM);
    uintptr_t first = 0, last = 0;
    for (unsigned long i = 0; i < count; i++) {
        if (headers[i].p_type == PT_LOAD && (headers[i].p_flags & PF_X)) {
            first = headers[i].p_vaddr & ~(uintptr_t)4095;
            last = (headers[i].p_vaddr + headers[i].p_memsz - 1) & ~(uintptr_t)4095;
        }
    }
    if (last == 0) {
        printf("no executable segment found\n");
        return 100;
    }
    int writable_last = mprotect((void *)last, 4096, PROT_READ | PROT_WRITE | PROT_EXEC);
    int writable_first = mprotect((void *)first, 4096, PROT_READ | PROT_WRITE);
    int unmapped_last = munmap((void *)last, 4096);
    int replaced_last = mmap((void *)last, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED;
    printf("mprotect(last text page, rwx): %d\n", writable_last);
    printf("mprotect(first text page, rw): %d\n", writable_first);
    printf("munmap(last text page): %d\n", unmapped_last);
    printf("mmap(MAP_FIXED over the last text page) succeeded: %d\n", replaced_last);
    return (writable_last == 0) + 2 * (writable_first == 0) + 4 * (unmapped_last == 0) + 8 * replaced_last;
}
