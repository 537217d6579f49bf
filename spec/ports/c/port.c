/* A C99 port of mnistref: the 784-128-10 MNIST network of the paper, equations
 * (1)-(21), as a program speaking the exec protocol (spec/protocol.md), so the
 * conformance runner checks it as it checks a Python port.
 *
 * Build and check, from the repository root (only libc and libm):
 *
 *     cc -std=c99 -O2 -Wall -Wextra -o /tmp/port spec/ports/c/port.c -lm
 *     mnistref conformance --exec /tmp/port
 *     mnistref conformance --exec /tmp/port --dtype float32
 *
 * The file reads top to bottom as: the values and the protocol (reader, writer,
 * and `call`, which runs one function), then the math, one function per equation
 * of spec/semantics.md, then `main`.  check_vectors.c includes this file with
 * MNISTREF_NO_MAIN defined, to check the port on the stored golden vectors.
 *
 * Precision.  Every float array is held as double; an f32 array holds binary32
 * numbers.  Each arithmetic step of a float32 computation is rounded to binary32 by
 * fl().  A binary32 +, -, * or / done in binary64 and then rounded to binary32 is
 * exactly the binary32 result (binary64 carries more than 2 x 24 + 2 bits, so the
 * double rounding is innocuous), so this is binary32 arithmetic, with one code path
 * for both dtypes; exp and log are binary64's, rounded once.  Do not compile with
 * -ffast-math, which reorders and fuses these steps.
 */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* Values                                                                    */
/* ------------------------------------------------------------------------- */

typedef enum { F64, F32, I64, BOOL, TUPLE, STR } Kind;

/* The protocol's name of each kind, indexed by Kind. */
static const char *const KIND_NAMES[] = {"f64", "f32", "i64", "bool", "tuple", "str"};

#define MAX_NDIM 8
#define MAX_ARGS 8

typedef struct Value {
    Kind kind;
    int ndim;              /* arrays: the rank, 0 for a scalar */
    size_t dims[MAX_NDIM]; /* arrays: the shape */
    size_t n;              /* arrays: the number of entries; tuples: of items */
    double *x;             /* F64, F32: the entries, row-major */
    int64_t *i;            /* I64, BOOL: the entries, row-major */
    struct Value **items;  /* TUPLE */
    char *str;             /* STR */
} Value;

/* Everything a request allocates is released once it is answered (arena_reset),
 * also when the port raised an error, which leaves the math by longjmp. */
static void **arena;
static size_t arena_len, arena_cap;

static void *alloc(size_t count, size_t size)
{
    if (arena_len == arena_cap) {
        arena_cap = arena_cap ? 2 * arena_cap : 64;
        void **grown = realloc(arena, arena_cap * sizeof *arena);
        if (!grown) {
            perror("port");
            exit(1);
        }
        arena = grown;
    }
    void *block = calloc(count ? count : 1, size); /* calloc checks count * size */
    if (!block) {
        perror("port");
        exit(1);
    }
    return arena[arena_len++] = block;
}

static void arena_reset(void)
{
    while (arena_len > 0)
        free(arena[--arena_len]);
}

/* The port's exception: fail() formats the message and jumps back to the caller
 * of setjmp(on_error), which answers `error MESSAGE`. */
static jmp_buf on_error;
static char error_message[512];

static void fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error_message, sizeof error_message, format, args);
    va_end(args);
    longjmp(on_error, 1);
}

static Value *new_array(Kind kind, int ndim, size_t d0, size_t d1)
{
    Value *v = alloc(1, sizeof *v);
    v->kind = kind;
    v->ndim = ndim;
    v->dims[0] = d0;
    v->dims[1] = d1;
    v->n = ndim == 0 ? 1 : ndim == 1 ? d0 : d0 * d1;
    if (kind == F64 || kind == F32)
        v->x = alloc(v->n, sizeof *v->x);
    else
        v->i = alloc(v->n, sizeof *v->i);
    return v;
}

/* A new float array of Z's kind and shape, of zeros. */
static Value *like(const Value *Z)
{
    Value *v = alloc(1, sizeof *v);
    *v = *Z;
    v->x = alloc(Z->n, sizeof *v->x);
    return v;
}

static Value *new_tuple(size_t n)
{
    Value *v = alloc(1, sizeof *v);
    v->kind = TUPLE;
    v->n = n;
    v->items = alloc(n, sizeof *v->items);
    return v;
}

/* Entry k of an array as a double, whatever its kind. */
static double entry(const Value *v, size_t k)
{
    return (v->kind == F64 || v->kind == F32) ? v->x[k] : (double)v->i[k];
}

/* ------------------------------------------------------------------------- */
/* The protocol: reader and writer                                           */
/* ------------------------------------------------------------------------- */

/* The unread rest of the line being read; next_token cuts it in place. */
static char *cursor;

static int at_end(void)
{
    while (*cursor == ' ')
        cursor++;
    return *cursor == '\0';
}

static char *next_token(void)
{
    if (at_end())
        fail("the line ended before its last value");
    char *token = cursor;
    while (*cursor != '\0' && *cursor != ' ')
        cursor++;
    if (*cursor == ' ')
        *cursor++ = '\0';
    return token;
}

static double read_float(void)
{
    char *token = next_token(), *end;
    double x = strtod(token, &end); /* also reads nan, inf, -inf, Infinity */
    if (end == token || *end != '\0')
        fail("'%s' is not a number", token);
    return x;
}

static int64_t read_int(void)
{
    char *token = next_token(), *end;
    long long k = strtoll(token, &end, 10);
    if (end == token || *end != '\0')
        fail("'%s' is not an integer", token);
    return (int64_t)k;
}

static size_t read_count(void)
{
    int64_t k = read_int();
    if (k < 0)
        fail("a size or a count of %lld is negative", (long long)k);
    return (size_t)k;
}

/* One value: `KIND NDIM D1 ... DN V1 ... VK`, `tuple N ...` or `str TEXT`. */
static Value *read_value(void)
{
    char *tag = next_token();
    if (strcmp(tag, "tuple") == 0) {
        Value *t = new_tuple(read_count());
        for (size_t k = 0; k < t->n; k++)
            t->items[k] = read_value();
        return t;
    }
    Value *v = alloc(1, sizeof *v);
    if (strcmp(tag, "str") == 0) {
        char *text = next_token(); /* copied: the line buffer is reused */
        v->kind = STR;
        v->str = strcpy(alloc(strlen(text) + 1, 1), text);
        return v;
    }
    for (v->kind = F64; v->kind <= BOOL && strcmp(tag, KIND_NAMES[v->kind]) != 0; v->kind++)
        continue;
    if (v->kind > BOOL)
        fail("unknown kind '%s'", tag);
    v->ndim = (int)read_count();
    if (v->ndim > MAX_NDIM)
        fail("an array of rank %d, this port reads up to %d", v->ndim, MAX_NDIM);
    v->n = 1;
    for (int d = 0; d < v->ndim; d++) {
        v->dims[d] = read_count();
        if (v->dims[d] != 0 && v->n > SIZE_MAX / v->dims[d])
            fail("an array too large to hold");
        v->n *= v->dims[d];
    }
    if (v->kind == F64 || v->kind == F32) {
        v->x = alloc(v->n, sizeof *v->x);
        for (size_t k = 0; k < v->n; k++) {
            v->x[k] = read_float();
            if (v->kind == F32) /* the runner sends binary32 numbers: exact */
                v->x[k] = (float)v->x[k];
        }
    } else {
        v->i = alloc(v->n, sizeof *v->i);
        for (size_t k = 0; k < v->n; k++)
            v->i[k] = read_int();
    }
    return v;
}

#ifndef MNISTREF_NO_MAIN /* check_vectors.c reads values and writes none */

/* Floats as 17 significant digits, which read back exactly; an f32 entry is a
 * binary32 number held in a double, so "%.17g" of it is the protocol's form. */
static void write_value(FILE *out, const Value *v)
{
    fputs(KIND_NAMES[v->kind], out);
    if (v->kind == TUPLE) {
        fprintf(out, " %zu", v->n);
        for (size_t k = 0; k < v->n; k++) {
            putc(' ', out);
            write_value(out, v->items[k]);
        }
        return;
    }
    if (v->kind == STR) {
        fprintf(out, " %s", v->str);
        return;
    }
    fprintf(out, " %d", v->ndim);
    for (int d = 0; d < v->ndim; d++)
        fprintf(out, " %zu", v->dims[d]);
    for (size_t k = 0; k < v->n; k++) {
        if (v->kind == F64 || v->kind == F32)
            fprintf(out, " %.17g", v->x[k]);
        else
            fprintf(out, " %lld", (long long)v->i[k]);
    }
}

#endif /* MNISTREF_NO_MAIN */

/* ------------------------------------------------------------------------- */
/* Checks of the arguments                                                   */
/* ------------------------------------------------------------------------- */

/* A float array of rank ndim (-1: any rank). */
static void floats(const char *eq, const char *name, const Value *v, int ndim)
{
    if (v->kind != F64 && v->kind != F32)
        fail("%s: %s must be a float array (f64 or f32), got %s", eq, name, KIND_NAMES[v->kind]);
    if (ndim >= 0 && v->ndim != ndim)
        fail("%s: %s must have %d dimensions, got %d", eq, name, ndim, v->ndim);
}

/* The precision of a and b, which must share one (spec/semantics.md, "Dtype"). */
static Kind precision(const char *eq, const char *name_a, const Value *a, const char *name_b,
                      const Value *b)
{
    if (a->kind != b->kind)
        fail("%s: %s is %s but %s is %s; the port does not mix precisions", eq, name_a,
             KIND_NAMES[a->kind], name_b, KIND_NAMES[b->kind]);
    return a->kind;
}

static void same_shape(const char *eq, const char *name_a, const Value *a, const char *name_b,
                       const Value *b)
{
    int same = a->ndim == b->ndim;
    for (int d = 0; same && d < a->ndim; d++)
        same = a->dims[d] == b->dims[d];
    if (!same)
        fail("%s: %s and %s must have the same shape", eq, name_a, name_b);
}

static void same_size(const char *eq, const char *what_a, size_t a, const char *what_b, size_t b)
{
    if (a != b)
        fail("%s: %s is %zu but %s is %zu", eq, what_a, a, what_b, b);
}

/* The m of an equation that averages over the samples: at least 1. */
static size_t samples(const char *eq, const char *name, const Value *v)
{
    if (v->dims[0] == 0)
        fail("%s: %s has no rows; the average over m = 0 samples is undefined", eq, name);
    return v->dims[0];
}

/* An i64 scalar (a seed, a size, K). */
static int64_t integer(const char *name, const Value *v)
{
    if (v->kind != I64 || v->ndim != 0)
        fail("%s must be an i64 scalar", name);
    return v->i[0];
}

static size_t size_arg(const char *name, const Value *v)
{
    int64_t k = integer(name, v);
    if (k < 0)
        fail("%s must be at least 0, got %lld", name, (long long)k);
    return (size_t)k;
}

/* `str float64` or `str float32`. */
static Kind dtype_arg(const Value *v)
{
    if (v->kind != STR || (strcmp(v->str, "float64") != 0 && strcmp(v->str, "float32") != 0))
        fail("dtype must be str float64 or str float32");
    return strcmp(v->str, "float32") == 0 ? F32 : F64;
}

/* Item k of a tuple of four (params, grads, cache). */
static Value *part(const char *name, const Value *tuple, size_t k)
{
    if (tuple->kind != TUPLE || tuple->n != 4)
        fail("%s must be a tuple of 4 arrays", name);
    return tuple->items[k];
}

/* ------------------------------------------------------------------------- */
/* The math (spec/semantics.md): m samples, D inputs, H hidden units, K classes */
/* ------------------------------------------------------------------------- */

/* fl(x): x rounded to the working precision dt, after every arithmetic step. */
static double fl(Kind dt, double x) { return dt == F32 ? (double)(float)x : x; }

/* op(A) op(B), op transposing where asked: the matrix products of Eq. (5), (7),
 * (11), (13), (15), summed in order and rounded at each step. */
static Value *product(const Value *A, int transpose_A, const Value *B, int transpose_B, Kind dt)
{
    size_t rows = A->dims[transpose_A ? 1 : 0], inner = A->dims[transpose_A ? 0 : 1];
    size_t cols = B->dims[transpose_B ? 0 : 1];
    Value *C = new_array(dt, 2, rows, cols);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            double sum = 0.0;
            for (size_t k = 0; k < inner; k++) {
                double a = transpose_A ? A->x[k * A->dims[1] + r] : A->x[r * A->dims[1] + k];
                double b = transpose_B ? B->x[c * B->dims[1] + k] : B->x[k * B->dims[1] + c];
                sum = fl(dt, sum + fl(dt, a * b));
            }
            C->x[r * cols + c] = sum;
        }
    return C;
}

/* Adds the bias b to every row of Z, in place (Z is the caller's new array). */
static Value *add_bias(Value *Z, const Value *b)
{
    for (size_t r = 0; r < Z->dims[0]; r++)
        for (size_t c = 0; c < Z->dims[1]; c++)
            Z->x[r * Z->dims[1] + c] = fl(Z->kind, Z->x[r * Z->dims[1] + c] + b->x[c]);
    return Z;
}

/* Each entry of Z divided by m, in place: the 1/m of Eq. (11), (12), (15), (16). */
static Value *average(Value *Z, size_t m)
{
    for (size_t k = 0; k < Z->n; k++)
        Z->x[k] = fl(Z->kind, Z->x[k] / (double)m);
    return Z;
}

/* The column means of an (m, n) matrix: Eq. (12) and (16). */
static Value *column_means(const char *eq, const char *name, const Value *dZ)
{
    floats(eq, name, dZ, 2);
    size_t m = samples(eq, name, dZ), n = dZ->dims[1];
    Value *db = new_array(dZ->kind, 1, n, 0);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            db->x[j] = fl(dZ->kind, db->x[j] + dZ->x[i * n + j]);
    return average(db, m);
}

/* splitmix64 (Steele, Lea and Flood 2014): a 64-bit counter, its value mixed. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A standard normal draw by Box-Muller, u1 in (0, 1] so that log(u1) is finite. */
static double standard_normal(uint64_t *state)
{
    const double two_pi = 6.283185307179586;
    double u1 = (double)((splitmix64(state) >> 11) + 1) * 0x1p-53;
    double u2 = (double)(splitmix64(state) >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}

/* Eq. (1)-(2): W ~ N(0, 0.01), a variance, so std 0.1, drawn in binary64 row-major
 * and rounded once to dt; b = 0.  Returns the tuple (W, b).  Each layer has its own
 * generator, seeded by (seed, layer), so that init's W1 and W2 are init_W1_b1's and
 * init_W2_b2's for the same seed. */
static Value *normal_layer(int64_t seed, int layer, size_t n_in, size_t n_out, Kind dt)
{
    uint64_t state = (uint64_t)seed ^ ((uint64_t)layer * 0xD1B54A32D192ED03ULL);
    Value *layer_params = new_tuple(2);
    Value *W = layer_params->items[0] = new_array(dt, 2, n_in, n_out);
    layer_params->items[1] = new_array(dt, 1, n_out, 0);
    for (size_t k = 0; k < W->n; k++)
        W->x[k] = fl(dt, 0.1 * standard_normal(&state));
    return layer_params;
}

/* Eq. (1): W1 (n_in, n_hidden) and b1 (n_hidden). */
static Value *init_W1_b1(Value *seed, Value *n_in, Value *n_hidden, Value *dtype)
{
    return normal_layer(integer("seed", seed), 1, size_arg("n_in", n_in),
                        size_arg("n_hidden", n_hidden), dtype_arg(dtype));
}

/* Eq. (2): W2 (n_hidden, n_out) and b2 (n_out). */
static Value *init_W2_b2(Value *seed, Value *n_hidden, Value *n_out, Value *dtype)
{
    return normal_layer(integer("seed", seed), 2, size_arg("n_hidden", n_hidden),
                        size_arg("n_out", n_out), dtype_arg(dtype));
}

/* Eq. (1)-(2): the tuple (W1, b1, W2, b2). */
static Value *init(Value *seed, Value *n_in, Value *n_hidden, Value *n_out, Value *dtype)
{
    Value *layer1 = init_W1_b1(seed, n_in, n_hidden, dtype);
    Value *layer2 = init_W2_b2(seed, n_hidden, n_out, dtype);
    Value *params = new_tuple(4);
    params->items[0] = layer1->items[0];
    params->items[1] = layer1->items[1];
    params->items[2] = layer2->items[0];
    params->items[3] = layer2->items[1];
    return params;
}

/* Eq. (3): ReLU(z) = max(0, z) elementwise, +0 for every z <= 0 (also -0). */
static Value *relu(Value *Z)
{
    floats("Eq. (3)", "Z", Z, -1);
    Value *A = like(Z);
    for (size_t k = 0; k < Z->n; k++)
        A->x[k] = Z->x[k] > 0 ? Z->x[k] : 0.0;
    return A;
}

/* The ReLU derivative of Eq. (14): 1 for z > 0, 0 for z <= 0 (ReLU'(0) = 0). */
static Value *relu_prime(Value *Z)
{
    floats("Eq. (14)", "Z1", Z, -1);
    Value *R = like(Z);
    for (size_t k = 0; k < Z->n; k++)
        R->x[k] = Z->x[k] > 0 ? 1.0 : 0.0;
    return R;
}

/* Eq. (4): softmax over the last axis, exp(z_i - c) / sum_j exp(z_j - c) with
 * c = max_j z_j, so that no exponent is positive and nothing overflows. */
static Value *softmax(Value *Z)
{
    floats("Eq. (4)", "Z", Z, -1);
    if (Z->ndim == 0)
        fail("Eq. (4): Z must be a vector or a matrix, got a scalar");
    Kind dt = Z->kind;
    size_t K = Z->dims[Z->ndim - 1], rows = K == 0 ? 0 : Z->n / K;
    Value *P = like(Z);
    for (size_t r = 0; r < rows; r++) {
        const double *z = Z->x + r * K;
        double *p = P->x + r * K, c = z[0], sum = 0.0;
        for (size_t j = 1; j < K; j++)
            c = z[j] > c ? z[j] : c;
        for (size_t j = 0; j < K; j++) {
            p[j] = fl(dt, exp(fl(dt, z[j] - c)));
            sum = fl(dt, sum + p[j]);
        }
        for (size_t j = 0; j < K; j++)
            p[j] = fl(dt, p[j] / sum);
    }
    return P;
}

/* Eq. (5): Z1 = X W1 + b1, (m, H). */
static Value *eq5_Z1(Value *X, Value *W1, Value *b1)
{
    const char *eq = "Eq. (5)";
    floats(eq, "X", X, 2);
    floats(eq, "W1", W1, 2);
    floats(eq, "b1", b1, 1);
    Kind dt = precision(eq, "X", X, "W1", W1);
    precision(eq, "W1", W1, "b1", b1);
    same_size(eq, "the number of columns of X", X->dims[1],
              "the number of rows of W1", W1->dims[0]);
    same_size(eq, "the length of b1", b1->dims[0], "the number of columns of W1", W1->dims[1]);
    return add_bias(product(X, 0, W1, 0, dt), b1);
}

/* Eq. (6): A1 = ReLU(Z1). */
static Value *eq6_A1(Value *Z1) { return relu(Z1); }

/* Eq. (7): Z2 = A1 W2 + b2, (m, K). */
static Value *eq7_Z2(Value *A1, Value *W2, Value *b2)
{
    const char *eq = "Eq. (7)";
    floats(eq, "A1", A1, 2);
    floats(eq, "W2", W2, 2);
    floats(eq, "b2", b2, 1);
    Kind dt = precision(eq, "A1", A1, "W2", W2);
    precision(eq, "W2", W2, "b2", b2);
    same_size(eq, "the number of columns of A1", A1->dims[1],
              "the number of rows of W2", W2->dims[0]);
    same_size(eq, "the length of b2", b2->dims[0], "the number of columns of W2", W2->dims[1]);
    return add_bias(product(A1, 0, W2, 0, dt), b2);
}

/* Eq. (8): A2 = softmax(Z2), row by row. */
static Value *eq8_A2(Value *Z2)
{
    floats("Eq. (8)", "Z2", Z2, 2);
    return softmax(Z2);
}

/* Eq. (9): L = -(1/m) sum_i log p_i, p_i the true-class probability of row i;
 * where p_i < tiny (the smallest normal number of the dtype) log(tiny) is used. */
static Value *loss(Value *Y, Value *A2)
{
    const char *eq = "Eq. (9)";
    floats(eq, "A2", A2, 2);
    same_shape(eq, "Y", Y, "A2", A2);
    Kind dt = A2->kind;
    double tiny = dt == F32 ? FLT_MIN : DBL_MIN, sum = 0.0;
    size_t m = samples(eq, "A2", A2);
    for (size_t k = 0; k < A2->n; k++)
        if (entry(Y, k) != 0) { /* 0 log 0 = 0 */
            double p = A2->x[k] < tiny ? tiny : A2->x[k];
            sum = fl(dt, sum + fl(dt, entry(Y, k) * fl(dt, log(p))));
        }
    Value *L = new_array(dt, 0, 0, 0);
    L->x[0] = fl(dt, -sum / (double)m);
    return L;
}

/* Eq. (10): dZ2 = A2 - Y, (m, K); m times the gradient of L at the logits. */
static Value *eq10_dZ2(Value *A2, Value *Y)
{
    floats("Eq. (10)", "A2", A2, 2);
    same_shape("Eq. (10)", "A2", A2, "Y", Y);
    Value *dZ2 = new_array(A2->kind, 2, A2->dims[0], A2->dims[1]);
    for (size_t k = 0; k < A2->n; k++)
        dZ2->x[k] = fl(A2->kind, A2->x[k] - entry(Y, k));
    return dZ2;
}

/* Eq. (11): dW2 = (1/m) A1^T dZ2, (H, K). */
static Value *eq11_dW2(Value *A1, Value *dZ2)
{
    const char *eq = "Eq. (11)";
    floats(eq, "A1", A1, 2);
    floats(eq, "dZ2", dZ2, 2);
    Kind dt = precision(eq, "A1", A1, "dZ2", dZ2);
    same_size(eq, "the number of rows of A1", A1->dims[0],
              "the number of rows of dZ2", dZ2->dims[0]);
    return average(product(A1, 1, dZ2, 0, dt), samples(eq, "A1", A1));
}

/* Eq. (12): db2 = (1/m) sum_i dZ2[i, :], (K,). */
static Value *eq12_db2(Value *dZ2) { return column_means("Eq. (12)", "dZ2", dZ2); }

/* Eq. (13): dA1 = dZ2 W2^T, (m, H); no average here. */
static Value *eq13_dA1(Value *dZ2, Value *W2)
{
    const char *eq = "Eq. (13)";
    floats(eq, "dZ2", dZ2, 2);
    floats(eq, "W2", W2, 2);
    Kind dt = precision(eq, "dZ2", dZ2, "W2", W2);
    same_size(eq, "the number of columns of dZ2", dZ2->dims[1],
              "the number of columns of W2", W2->dims[1]);
    return product(dZ2, 0, W2, 1, dt);
}

/* Eq. (14): dZ1 = dA1 * ReLU'(Z1), the mask taken from Z1: each entry is dA1 or 0. */
static Value *eq14_dZ1(Value *dA1, Value *Z1)
{
    const char *eq = "Eq. (14)";
    floats(eq, "dA1", dA1, 2);
    floats(eq, "Z1", Z1, 2);
    Kind dt = precision(eq, "dA1", dA1, "Z1", Z1);
    same_shape(eq, "dA1", dA1, "Z1", Z1);
    Value *dZ1 = new_array(dt, 2, dA1->dims[0], dA1->dims[1]);
    for (size_t k = 0; k < dA1->n; k++)
        dZ1->x[k] = Z1->x[k] > 0 ? dA1->x[k] : 0.0;
    return dZ1;
}

/* Eq. (15): dW1 = (1/m) X^T dZ1, (D, H). */
static Value *eq15_dW1(Value *X, Value *dZ1)
{
    const char *eq = "Eq. (15)";
    floats(eq, "X", X, 2);
    floats(eq, "dZ1", dZ1, 2);
    Kind dt = precision(eq, "X", X, "dZ1", dZ1);
    same_size(eq, "the number of rows of X", X->dims[0], "the number of rows of dZ1", dZ1->dims[0]);
    return average(product(X, 1, dZ1, 0, dt), samples(eq, "X", X));
}

/* Eq. (16): db1 = (1/m) sum_i dZ1[i, :], (H,). */
static Value *eq16_db1(Value *dZ1) { return column_means("Eq. (16)", "dZ1", dZ1); }

/* Eq. (17)-(20): P <- P - lr dP as a new array, lr a non-negative f64 scalar used
 * in P's precision. */
static Value *step(const char *eq, const char *name, Value *P, Value *dP, Value *lr)
{
    floats(eq, name, P, -1);
    floats(eq, "its gradient", dP, -1);
    Kind dt = precision(eq, name, P, "its gradient", dP);
    same_shape(eq, name, P, "its gradient", dP);
    if (lr->kind != F64 || lr->ndim != 0 || !(lr->x[0] >= 0) || isinf(lr->x[0]))
        fail("%s: lr must be a finite f64 scalar >= 0", eq);
    double alpha = fl(dt, lr->x[0]);
    Value *P_new = like(P);
    for (size_t k = 0; k < P->n; k++)
        P_new->x[k] = fl(dt, P->x[k] - fl(dt, alpha * dP->x[k]));
    return P_new;
}

static Value *update_W1(Value *W1, Value *dW1, Value *lr)
{
    return step("Eq. (17)", "W1", W1, dW1, lr);
}

static Value *update_b1(Value *b1, Value *db1, Value *lr)
{
    return step("Eq. (18)", "b1", b1, db1, lr);
}

static Value *update_W2(Value *W2, Value *dW2, Value *lr)
{
    return step("Eq. (19)", "W2", W2, dW2, lr);
}

static Value *update_b2(Value *b2, Value *db2, Value *lr)
{
    return step("Eq. (20)", "b2", b2, db2, lr);
}

/* Eq. (5)-(8): the tuple (Z1, A1, Z2, A2) of params = (W1, b1, W2, b2). */
static Value *forward(Value *params, Value *X)
{
    Value *cache = new_tuple(4);
    Value *Z1 = cache->items[0] = eq5_Z1(X, part("params", params, 0), part("params", params, 1));
    Value *A1 = cache->items[1] = eq6_A1(Z1);
    Value *Z2 = cache->items[2] = eq7_Z2(A1, part("params", params, 2), part("params", params, 3));
    cache->items[3] = eq8_A2(Z2);
    return cache;
}

/* Eq. (10)-(16): the tuple (dW1, db1, dW2, db2), from cache = (Z1, A1, Z2, A2). */
static Value *grads(Value *params, Value *X, Value *Y, Value *cache)
{
    Value *g = new_tuple(4);
    Value *dZ2 = eq10_dZ2(part("cache", cache, 3), Y);
    g->items[2] = eq11_dW2(part("cache", cache, 1), dZ2);
    g->items[3] = eq12_db2(dZ2);
    Value *dA1 = eq13_dA1(dZ2, part("params", params, 2));
    Value *dZ1 = eq14_dZ1(dA1, part("cache", cache, 0));
    g->items[0] = eq15_dW1(X, dZ1);
    g->items[1] = eq16_db1(dZ1);
    return g;
}

/* Eq. (17)-(20): the new (W1, b1, W2, b2), every step from the old parameters. */
static Value *update(Value *params, Value *g, Value *lr)
{
    Value *params_new = new_tuple(4);
    params_new->items[0] = update_W1(part("params", params, 0), part("grads", g, 0), lr);
    params_new->items[1] = update_b1(part("params", params, 1), part("grads", g, 1), lr);
    params_new->items[2] = update_W2(part("params", params, 2), part("grads", g, 2), lr);
    params_new->items[3] = update_b2(part("params", params, 3), part("grads", g, 3), lr);
    return params_new;
}

/* The (m, K) one-hot encoding of the labels y (section 2 of the paper). */
static Value *one_hot(Value *y, Value *K, Value *dtype)
{
    size_t classes = size_arg("K", K);
    if (y->kind != I64 || y->ndim != 1)
        fail("one_hot: y must be an i64 vector of labels");
    Value *Y = new_array(dtype_arg(dtype), 2, y->n, classes);
    for (size_t i = 0; i < y->n; i++) {
        if (y->i[i] < 0 || (uint64_t)y->i[i] >= classes)
            fail("one_hot: label y[%zu] = %lld is not a class of 0 <= y < K = %zu", i,
                 (long long)y->i[i], classes);
        Y->x[i * classes + (size_t)y->i[i]] = 1.0;
    }
    return Y;
}

/* Eq. (21)'s predictions: the argmax of each row of A2, ties to the lowest class. */
static Value *predict(Value *params, Value *X)
{
    Value *A2 = forward(params, X)->items[3];
    size_t m = A2->dims[0], K = A2->dims[1];
    Value *labels = new_array(I64, 1, m, 0);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 1; j < K; j++)
            if (A2->x[i * K + j] > A2->x[i * K + (size_t)labels->i[i]])
                labels->i[i] = (int64_t)j;
    return labels;
}

/* Eq. (21): 100 x (correct predictions) / (predictions), an f64 scalar. */
static Value *accuracy(Value *y, Value *y_pred)
{
    const char *eq = "Eq. (21)";
    if (y->kind != I64 || y->ndim != 1 || y_pred->kind != I64 || y_pred->ndim != 1)
        fail("%s: y and y_pred must be i64 vectors of labels", eq);
    same_size(eq, "the length of y", y->n, "the length of y_pred", y_pred->n);
    if (y->n == 0)
        fail("%s: no predictions; the accuracy of m = 0 samples is undefined", eq);
    size_t correct = 0;
    for (size_t i = 0; i < y->n; i++)
        correct += y->i[i] == y_pred->i[i];
    Value *percent = new_array(F64, 0, 0, 0);
    percent->x[0] = 100.0 * (double)correct / (double)y->n;
    return percent;
}

/* ------------------------------------------------------------------------- */
/* The functions by name                                                     */
/* ------------------------------------------------------------------------- */

/* Each entry sets the one pointer of its arity. */
static const struct Function {
    const char *name;
    Value *(*f1)(Value *);
    Value *(*f2)(Value *, Value *);
    Value *(*f3)(Value *, Value *, Value *);
    Value *(*f4)(Value *, Value *, Value *, Value *);
    Value *(*f5)(Value *, Value *, Value *, Value *, Value *);
} FUNCTIONS[] = {
    {"init", .f5 = init},           {"init_W1_b1", .f4 = init_W1_b1},
    {"init_W2_b2", .f4 = init_W2_b2}, {"relu", .f1 = relu},
    {"softmax", .f1 = softmax},     {"Z1", .f3 = eq5_Z1},
    {"A1", .f1 = eq6_A1},           {"Z2", .f3 = eq7_Z2},
    {"A2", .f1 = eq8_A2},           {"loss", .f2 = loss},
    {"dZ2", .f2 = eq10_dZ2},        {"dW2", .f2 = eq11_dW2},
    {"db2", .f1 = eq12_db2},        {"dA1", .f2 = eq13_dA1},
    {"dZ1", .f2 = eq14_dZ1},        {"relu_prime", .f1 = relu_prime},
    {"dW1", .f2 = eq15_dW1},        {"db1", .f1 = eq16_db1},
    {"update_W1", .f3 = update_W1}, {"update_b1", .f3 = update_b1},
    {"update_W2", .f3 = update_W2}, {"update_b2", .f3 = update_b2},
    {"forward", .f2 = forward},     {"grads", .f4 = grads},
    {"update", .f3 = update},       {"one_hot", .f3 = one_hot},
    {"predict", .f2 = predict},     {"accuracy", .f2 = accuracy},
};

#define N_FUNCTIONS (sizeof FUNCTIONS / sizeof FUNCTIONS[0])

/* Runs the function called name on args; an error of the port leaves by fail(). */
static Value *call(const char *name, Value **args, size_t nargs)
{
    for (size_t k = 0; k < N_FUNCTIONS; k++) {
        const struct Function *f = &FUNCTIONS[k];
        if (strcmp(name, f->name) != 0)
            continue;
        size_t arity = f->f1 ? 1 : f->f2 ? 2 : f->f3 ? 3 : f->f4 ? 4 : 5;
        if (nargs != arity)
            fail("%s takes %zu arguments, got %zu", name, arity, nargs);
        return arity == 1 ? f->f1(args[0])
             : arity == 2 ? f->f2(args[0], args[1])
             : arity == 3 ? f->f3(args[0], args[1], args[2])
             : arity == 4 ? f->f4(args[0], args[1], args[2], args[3])
                          : f->f5(args[0], args[1], args[2], args[3], args[4]);
    }
    fail("this port has no function '%s'", name);
    return NULL;
}

#ifndef MNISTREF_NO_MAIN

/* Reads the request in line and writes its answer; fail() leaves it for answer(). */
static void respond(char *line)
{
    Value *args[MAX_ARGS];
    size_t nargs = 0;
    cursor = line;
    const char *name = next_token();
    while (!at_end()) {
        if (nargs == MAX_ARGS)
            fail("%s: more than %d arguments", name, MAX_ARGS);
        args[nargs++] = read_value();
    }
    Value *result = call(name, args, nargs);
    fputs("ok ", stdout);
    write_value(stdout, result);
    putchar('\n');
}

static void answer(char *line)
{
    if (setjmp(on_error) == 0)
        respond(line);
    else
        printf("error %s\n", error_message);
    fflush(stdout);
    arena_reset();
}

int main(void)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    printf("mnistref-exec 1");
    for (size_t k = 0; k < N_FUNCTIONS; k++)
        printf(" %s", FUNCTIONS[k].name);
    printf("\n");
    fflush(stdout);
    while ((length = getline(&line, &capacity, stdin)) != -1) {
        line[strcspn(line, "\r\n")] = '\0';
        answer(line);
    }
    free(line);
    free(arena);
    return 0;
}

#endif /* MNISTREF_NO_MAIN */
