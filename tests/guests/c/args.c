/* Prints argc/argv and a couple of derived facts, so argument passing
 * (including empty strings, spaces and non-ASCII bytes) can be compared. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    /* argv[0] is whatever the runner passed as the program path, which differs
     * between runners; print only its basename. */
    const char *base = strrchr(argv[0], '/');
    printf("argv[0] basename=%s\n", base ? base + 1 : argv[0]);
    size_t total = 0;
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        total += n;
        printf("argv[%d] len=%zu \"%s\"\n", i, n, argv[i]);
    }
    printf("argv[argc] is %s\n", argv[argc] == NULL ? "NULL" : "not NULL");
    printf("total arg bytes=%zu\n", total);
    return argc > 1 ? 0 : 3;
}
