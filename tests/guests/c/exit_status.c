/* Exercises both output streams and a non-zero exit status. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    printf("to stdout: line 1\n");
    fprintf(stderr, "to stderr: something went wrong\n");
    printf("to stdout: line 2\n");
    /* exit() (not return) so atexit/stdio flushing is exercised on this path. */
    exit(42);
}
