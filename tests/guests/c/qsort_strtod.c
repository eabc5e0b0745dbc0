/* qsort (function-pointer callbacks, indirect jumps) and strtod (the
 * arbitrary-precision correct-rounding path) with errno and end pointers. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(void) {
    enum { N = 5000 };
    static int arr[N];
    uint32_t s = 2463534242u;
    for (int i = 0; i < N; i++) {
        s ^= s << 13; s ^= s >> 17; s ^= s << 5;
        arr[i] = (int)s;
    }
    arr[0] = INT32_MIN; arr[1] = INT32_MAX; arr[2] = 0; arr[3] = -1;
    qsort(arr, N, sizeof arr[0], cmp_int);
    int sorted = 1;
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < N; i++) {
        if (i && arr[i - 1] > arr[i]) sorted = 0;
        h = (h ^ (uint32_t)arr[i]) * 1099511628211ull;
    }
    printf("ints sorted=%d first=%d last=%d median=%d hash=%016llx\n", sorted, arr[0], arr[N - 1], arr[N / 2], (unsigned long long)h);

    const char *words[] = {"pear", "apple", "Zebra", "banana", "apple pie", "", "cherry", "a", "Apple", "zz", "mango", "kiwi", "123", "~tilde", "banana split"};
    enum { NW = sizeof words / sizeof words[0] };
    qsort(words, NW, sizeof words[0], cmp_str);
    printf("strings:");
    for (int i = 0; i < NW; i++) printf(" \"%s\"", words[i]);
    printf("\n");

    static const char *inputs[] = {
        "0", "-0", "1", "  42.5xyz", "3.14159265358979323846264338327950288", "1e308", "1.7976931348623157e308",
        "1.7976931348623159e308", "1e309", "-1e309", "1e-307", "2.2250738585072014e-308", "2.2250738585072011e-308",
        "4.9406564584124654e-324", "2.4703282292062328e-324", "2.4703282292062327e-324", "1e-400",
        "0x1p0", "0x1.8p1", "0X1.FFFFFFFFFFFFFp1023", "0x1p-1074", "0x1p-1075", "0x1.000000000000080000001p0",
        "-0x0.0000000000001p-1022", "0x10", "nan", "NaN", "-nan", "nan(123)", "inf", "-Infinity", "infinity",
        "INFxyz", "", "abc", ".", ".5", "5.", "1e", "1e+", "+.e1", "0.1", "0.2", "0.30000000000000004",
        "9007199254740993", "123456789012345678901234567890", "1e23", "8.5e-1", "000000000000000000001.5",
    };
    for (unsigned i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char *end;
        errno = 0;
        double d = strtod(inputs[i], &end);
        int e = errno;
        uint64_t bits;
        memcpy(&bits, &d, 8);
        printf("strtod(\"%s\") = %.17g bits=%016llx consumed=%d errno=%s\n", inputs[i], d, (unsigned long long)bits, (int)(end - inputs[i]), e == ERANGE ? "ERANGE" : e == 0 ? "0" : "other");
    }

    static const char *finputs[] = {"3.4028235e38", "3.4028236e38", "1e39", "1.4e-45", "7e-46", "0.1", "16777217", "nan", "-inf"};
    for (unsigned i = 0; i < sizeof finputs / sizeof finputs[0]; i++) {
        errno = 0;
        float f = strtof(finputs[i], NULL);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        printf("strtof(\"%s\") = %.9g bits=%08x errno=%s\n", finputs[i], f, (unsigned)bits, errno == ERANGE ? "ERANGE" : errno ? "other" : "0");
    }

    /* Sort doubles parsed above (excluding NaN) to hit FP compares in the callback. */
    static double ds[64];
    int nd = 0;
    for (unsigned i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        double d = strtod(inputs[i], NULL);
        if (d == d) ds[nd++] = d;
    }
    int cmp_d(const void *a, const void *b);
    qsort(ds, nd, sizeof ds[0], cmp_d);
    printf("sorted doubles:");
    for (int i = 0; i < nd; i++) printf(" %g", ds[i]);
    printf("\n");
    return 0;
}

int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
