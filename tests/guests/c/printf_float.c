/* printf of float/double through glibc's conversion code (which is heavy on
 * integer multiply/divide and FP<->int conversions) for many formats. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    static const double vals[] = {
        0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 2.5, 3.5, 1.0 / 3.0, 2.0 / 3.0,
        3.141592653589793, 2.718281828459045, 123456789.125, 1e-5, 1e-300,
        1e300, 6.02214076e23, -1.602176634e-19, DBL_MAX, DBL_MIN,
        4.9406564584124654e-324 /* smallest denormal */, 0.3 * 3, 9.999999, 1e15 + 0.3,
    };
    static const char *fmts[] = {"%f", "%.0f", "%.3f", "%.17f", "%e", "%.2e", "%.15e", "%g", "%.3g", "%.17g", "%a", "%.3a", "%12.4f", "%-12.3e|", "%+g", "% .5g", "%#.0f", "%#g"};
    for (unsigned i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        printf("[%u]", i);
        for (unsigned f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
            /* %f of huge values is 300+ digits; those get one line below. */
            if (fabs(vals[i]) > 1e30 && strchr(fmts[f], 'f')) continue;
            putchar(' ');
            printf(fmts[f], vals[i]);
        }
        putchar('\n');
    }
    printf("%%.0f of 1e300: %.0f\n", 1e300);
    printf("%%f of DBL_MAX: %f\n", DBL_MAX);

    static const double specials[] = {INFINITY, -INFINITY, NAN, -NAN, -0.0};
    static const char *sfmts[] = {"%f", "%e", "%g", "%a", "%F", "%E", "%G", "%A", "%10.3f", "%-8f|", "%+f"};
    for (unsigned i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        printf("special[%u]:", i);
        for (unsigned f = 0; f < sizeof sfmts / sizeof sfmts[0]; f++) {
            putchar(' ');
            printf(sfmts[f], specials[i]);
        }
        putchar('\n');
    }

    /* floats are promoted to double by varargs, but the float arithmetic
     * producing them is single precision. */
    float fs[] = {1.0f / 3.0f, 0.1f, 16777216.0f, 16777217.0f, FLT_MAX, FLT_MIN, 1e-45f, -2.5f};
    for (unsigned i = 0; i < sizeof fs / sizeof fs[0]; i++)
        printf("float[%u]: %.9g %a %e\n", i, fs[i], fs[i], fs[i]);

    float acc = 0.0f;
    for (int i = 1; i <= 1000; i++) acc += 1.0f / (float)i;
    double dacc = 0.0;
    for (int i = 1; i <= 1000; i++) dacc += 1.0 / (double)i;
    printf("harmonic(1000): float %.9g double %.17g\n", acc, dacc);

    long double ld = 1.0L / 3.0L; /* 128-bit long double on riscv64: soft-float */
    printf("long double 1/3: %.30Lf %La\n", ld, ld);
    printf("sqrt(2)=%.17g exp(1)=%.17g sin(1)=%.17g log(10)=%.17g pow(2,0.5)=%.17g\n", sqrt(2.0), exp(1.0), sin(1.0), log(10.0), pow(2.0, 0.5));
    return 0;
}
