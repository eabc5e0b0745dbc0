/* glibc's string functions at their edges, results printed raw (comparison
 * values as returned, pointers as offsets), so rvedge's host-side versions
 * (emulator/src/native) must give exactly glibc's answers: zero lengths,
 * every alignment, overlapping moves both ways, bytes >= 0x80, strchr of NUL
 * and of an int beyond a byte, and strings and ranges that end on the last
 * byte before a page the program cannot access. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char a[300], b[300];

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed * 7u + i * 13u);
}

static unsigned sum(const unsigned char *p, size_t n) {
    unsigned s = 0;
    for (size_t i = 0; i < n; i++) s = s * 31u + p[i];
    return s;
}

static int sign(int value) { return (value > 0) - (value < 0); }

int main(void) {
    /* memcpy and memset: every alignment and length up to 40, plus long ones. */
    unsigned check = 0;
    for (size_t src = 0; src < 8; src++)
        for (size_t dst = 0; dst < 8; dst++)
            for (size_t n = 0; n <= 40; n++) {
                fill(a, sizeof a, (unsigned)(src + n));
                memset(b, 0xee, sizeof b);
                void *r = memcpy(b + dst, a + src, n);
                check = check * 3u + sum(b, 64) + (r == b + dst);
                memset(b + src, (int)(n + 0x100), n); /* only the low byte counts */
                check = check * 3u + sum(b, 64);
            }
    fill(a, sizeof a, 3);
    memcpy(b + 1, a + 3, 257);
    printf("memcpy/memset: %08x %08x\n", check, sum(b, sizeof b));
    printf("memcpy zero length leaves dst: %d\n", memcpy(b, (void *)8, 0) == b);

    /* memmove over itself, forwards and backwards, at every shift. */
    check = 0;
    for (int shift = -9; shift <= 9; shift++)
        for (size_t n = 0; n <= 33; n += 3) {
            fill(a, sizeof a, (unsigned)n);
            void *r = memmove(a + 20 + shift, a + 20, n);
            check = check * 5u + sum(a, 80) + (r == a + 20 + shift);
        }
    fill(a, sizeof a, 9);
    memmove(a + 1, a, 290);
    memmove(a, a + 5, 290);
    printf("memmove: %08x %08x\n", check, sum(a, sizeof a));

    /* Comparisons return the difference of the first differing bytes. */
    fill(a, sizeof a, 4);
    memcpy(b, a, sizeof a);
    printf("memcmp equal: %d, zero length: %d\n", memcmp(a, b, sizeof a), memcmp(a, b + 1, 0));
    for (size_t at = 0; at < 20; at++) {
        memcpy(b, a, sizeof a);
        b[at] = (unsigned char)(a[at] + 0x85);
        printf("memcmp differs at %zu: %d %d, bcmp %d\n", at, memcmp(a, b, 40),
               memcmp(b + at, a + at, 1), bcmp(a, b, 40) != 0);
    }
    memcpy(b, a, sizeof a);
    b[250] ^= 1;
    printf("memcmp late: %d %d\n", memcmp(a + 1, b + 1, 299), memcmp(a, b, 250));

    const char *words[] = {"", "a", "ab", "abc", "abd", "ab\x80", "ab\x01", "abcdefghijklmnop",
                           "abcdefghijklmnoq", "\xff"};
    enum { NW = sizeof words / sizeof words[0] };
    for (int i = 0; i < NW; i++)
        for (int j = 0; j < NW; j++)
            printf("%d%d: strcmp %d strncmp3 %d strncmp0 %d strncmp99 %d\n", i, j,
                   strcmp(words[i], words[j]), strncmp(words[i], words[j], 3),
                   strncmp(words[i], words[j], 0), strncmp(words[i], words[j], 99));

    /* Searches: found, not found, NUL, bytes >= 0x80, ints beyond a byte. */
    static char text[] = "hello, wor\xe9ld! the end";
    for (size_t i = 0; i < sizeof text; i++) {
        char *hit = strchr(text + i, 'l');
        char *high = strchr(text + i, 0x1e9); /* as (char)0xe9 */
        char *nul = strchr(text + i, 0);
        void *mem = memchr(text + i, 'e', sizeof text - i);
        void *none = memchr(text + i, 'e', 0);
        printf("%2zu: strlen %zu strchr %td %td %td memchr %td %d\n", i, strlen(text + i),
               hit ? hit - text : -1, high ? high - text : -1, nul - text,
               mem ? (char *)mem - text : -1, none == NULL);
    }
    printf("index: %td\n", index(text, 'w') - text);

    /* Right up to a page the program cannot touch: nothing may fault. */
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *pages = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED || mprotect(pages + page, page, PROT_NONE) != 0) {
        printf("mmap failed\n");
        return 1;
    }
    unsigned char *last = pages + page - 1;
    memset(pages, 'x', page);
    *last = 0;
    char *end_text = (char *)pages + page - 12;
    printf("edge strlen %zu strchr %td memchr %td strcmp %d strncmp %d\n", strlen(end_text),
           strchr(end_text, 0) - end_text, (char *)memchr(pages, 0, page) - (char *)pages,
           sign(strcmp(end_text, "xxxxxxxxxxx")), strncmp(end_text, "xxxxxxxxxxxy", 11));
    memset(pages + page - 100, 7, 100);
    memcpy(b, pages + page - 100, 100);
    memmove(pages + page - 50, pages + page - 100, 50);
    printf("edge memcmp %d memcpy %08x memmove %08x\n", memcmp(pages + page - 100, b, 100),
           sum(b, 100), sum(pages + page - 100, 100));
    return 0;
}
