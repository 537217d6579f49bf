/* The C port checked on the stored golden vectors: the template to copy for a port
 * that cannot run the conformance runner.  Keep this reader, put your functions
 * where port.c's are (the same names and arguments, reached through `call`).
 *
 *     cc -std=c99 -O2 -Wall -Wextra -o /tmp/check spec/ports/c/check_vectors.c -lm
 *     /tmp/check spec/vectors/float64.txt && /tmp/check spec/vectors/float32.txt
 *
 * A line of the file is `# comment`, `case NAME`, `NAME VALUE` (an array of the
 * case in the protocol's syntax; `NAME.tol` is the absolute tolerance of each entry
 * of the output NAME) or `check FUNCTION OUTPUT INPUT...`: FUNCTION on the stored
 * inputs must give OUTPUT's shape and |got - expected| <= tol at every entry (so a
 * NaN fails, and -0 equals +0).  One line per failing check, then a summary; the
 * exit status is 1 if any check failed.
 */
#define MNISTREF_NO_MAIN
#include "port.c"

#define MAX_ARRAYS 256

/* The arrays of the current case, in the arena until the next `case` line. */
static struct { char *name; Value *value; } arrays[MAX_ARRAYS];
static size_t n_arrays;
static char case_name[128];
static const char *checking = ""; /* the function of the line's check, if any */
static long line_number, checks, failures;

static Value *stored(const char *name)
{
    for (size_t k = 0; k < n_arrays; k++)
        if (strcmp(arrays[k].name, name) == 0)
            return arrays[k].value;
    fail("case %s has no array %s", case_name, name);
    return NULL;
}

/* Entry k of a row-major array v as its index, e.g. [1, 2]. */
static void print_index(const Value *v, size_t k)
{
    size_t index[MAX_NDIM];
    for (int d = v->ndim - 1; d >= 0; d--) {
        index[d] = k % v->dims[d];
        k /= v->dims[d];
    }
    putchar('[');
    for (int d = 0; d < v->ndim; d++)
        printf(d > 0 ? ", %zu" : "%zu", index[d]);
    putchar(']');
}

/* `check FUNCTION OUTPUT INPUT...`; a shape or a port error leaves by fail(). */
static void check(void)
{
    char *function = next_token(), *output = next_token(), tol_name[160];
    checking = function;
    Value *args[MAX_ARGS];
    size_t nargs = 0;
    while (!at_end() && nargs < MAX_ARGS)
        args[nargs++] = stored(next_token());
    snprintf(tol_name, sizeof tol_name, "%s.tol", output);
    Value *expected = stored(output), *tol = stored(tol_name), *got = call(function, args, nargs);
    if (got->kind == TUPLE || got->kind == STR || got->ndim != expected->ndim
        || memcmp(got->dims, expected->dims, (size_t)got->ndim * sizeof *got->dims) != 0)
        fail("%s: the result does not have the shape of %s", function, output);
    if (tol->n != expected->n)
        fail("%s has %zu entries but %s has %zu", tol_name, tol->n, output, expected->n);
    for (size_t k = 0; k < expected->n; k++)
        if (!(fabs(entry(got, k) - entry(expected, k)) <= entry(tol, k))) {
            printf("FAIL case %s, %s: %s", case_name, function, output);
            print_index(expected, k);
            printf(" expected %.17g, got %.17g, tol %.17g\n", entry(expected, k), entry(got, k),
                   entry(tol, k));
            failures++;
            return;
        }
}

static void read_line(char *line)
{
    cursor = line;
    checking = "";
    char *word = next_token();
    if (strcmp(word, "case") == 0) {
        arena_reset();
        n_arrays = 0;
        snprintf(case_name, sizeof case_name, "%s", next_token());
    } else if (strcmp(word, "check") == 0) {
        checks++;
        check();
    } else {
        if (n_arrays == MAX_ARRAYS)
            fail("more than %d arrays in case %s", MAX_ARRAYS, case_name);
        arrays[n_arrays].name = strcpy(alloc(strlen(word) + 1, 1), word);
        arrays[n_arrays++].value = read_value();
    }
    if (!at_end())
        fail("unexpected '%s' at the end of the line", cursor);
}

/* A line's error (fail() while reading it) is a failure, reported with the line. */
static void process(char *line)
{
    if (setjmp(on_error) == 0)
        read_line(line);
    else {
        printf("FAIL case %s, %s%sline %ld: %s\n", case_name, checking, *checking ? ", " : "",
               line_number, error_message);
        failures++;
    }
}

int main(int argc, char **argv)
{
    FILE *in = argc == 2 ? fopen(argv[1], "r") : NULL;
    if (!in) {
        fprintf(stderr, "usage: check VECTORS.txt (a readable file)\n");
        return 2;
    }
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, in) != -1) {
        line_number++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0' && line[0] != '#')
            process(line);
    }
    printf("%s: %ld checks, %ld failed\n", argv[1], checks, failures);
    free(line);
    arena_reset();
    free(arena);
    fclose(in);
    return failures > 0 || checks == 0;
}
