/* The two inner loops of a budgeted BM25 search (rmd_baselines/respond/bm25.py), compiled.
 *
 * In numpy the first pass of a query is a dozen passes over its postings (gather the documents and weights, scale,
 * scatter-add into the accumulator, mark and gather the touched documents, reset), and every one of them jumps
 * around an accumulator of one float per indexed context: tens of MB at MedDialog-CN size, so nearly every access
 * misses the cache. Here each posting is read once and touches the accumulator once. The arithmetic is the numpy
 * path's, in the same order (float32 products and sums for the first pass, float64 for the exact scores), so both
 * give the same numbers bit for bit; bm25.py keeps the numpy path as the reference and as the fallback when this
 * module is not built. Built with -ffp-contract=off so that no multiply-add is fused (that would round once, not
 * twice, and change the sums).
 *
 * The postings and forward lists are read from the index files with pread(2), not through a memory map: on Linux
 * with large page-cache folios (ext4, xfs) touching one page of a mapped file maps the whole folio, up to 2 MB, so
 * the 256 forward lists a query scores would add hundreds of MB to the resident memory per query. pread copies
 * only the bytes asked for into a small buffer.
 *
 * Arrays come from bm25.py, which passes C-contiguous arrays of the stated dtypes. Every number read from the
 * on-disk index is checked before use: a file changed under a loaded index gives a ValueError, never a read or a
 * write out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFETCH_POSTINGS 64  /* how far ahead of the posting being added its document's accumulator is fetched */
#define CHUNK_POSTINGS 16384  /* postings read at a time (two 64 KB buffers: they stay in the cache) */

static int
check_items(Py_buffer *view, Py_ssize_t size, const char *name)
{
    if (view->len % size != 0) {
        PyErr_Format(PyExc_ValueError, "%s: a buffer of %zd-byte items expected", name, size);
        return -1;
    }
    return 0;
}

/* Reads `count` items of `size` bytes, item `first` onwards, of the array whose data starts at byte `offset` of
 * `fd`. Returns NULL on success, else what went wrong (errno is kept for an I/O error). */
static const char *
read_items(int fd, int64_t offset, void *out, int64_t first, int64_t count, int size)
{
    char *at = out;
    size_t left = (size_t)count * size;
    off_t position = (off_t)(offset + first * size);
    while (left > 0) {
        ssize_t got = pread(fd, at, left, position);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return "io";
        }
        if (got == 0)
            return "an index file is shorter than its header says";
        at += got;
        left -= (size_t)got;
        position += got;
    }
    return NULL;
}

static PyObject *
raise_problem(const char *problem, int saved_errno)
{
    if (strcmp(problem, "memory") == 0)
        return PyErr_NoMemory();
    if (strcmp(problem, "io") == 0) {
        errno = saved_errno;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyErr_Format(PyExc_ValueError, "inconsistent BM25 index: %s", problem);
}

static void
release(Py_buffer **buffers, size_t count)
{
    for (size_t b = 0; b < count; b++)
        PyBuffer_Release(buffers[b]);
}

/* first_pass(inv_ptr, docs_fd, docs_offset, weights_fd, weights_offset, terms, lengths, values, acc, docs_out,
 *            scores_out) -> n
 *
 * For every term i (in order) and each of the first lengths[i] postings of the term's list (in order), adds
 * values[i] * weight to acc[document]. The postings' documents (uint32) and weights (float32) are the arrays whose
 * data starts at byte docs_offset of file docs_fd and weights_offset of weights_fd; list t is items
 * inv_ptr[t]..inv_ptr[t+1]-1 of both. Returns how many documents received a positive score and writes them to
 * docs_out[:n] (in the order first reached) with their partial scores to scores_out[:n]; acc is left all zero
 * again. Types: inv_ptr, terms, lengths int64; values, acc, scores_out float32; docs_out int64 with room for
 * sum(lengths) entries. */
static PyObject *
first_pass(PyObject *self, PyObject *args)
{
    Py_buffer ptr_b, terms_b, lengths_b, values_b, acc_b, out_docs_b, out_scores_b;
    int docs_fd, weights_fd;
    long long docs_offset, weights_offset;
    if (!PyArg_ParseTuple(args, "y*iLiLy*y*y*w*w*w*", &ptr_b, &docs_fd, &docs_offset, &weights_fd, &weights_offset,
                          &terms_b, &lengths_b, &values_b, &acc_b, &out_docs_b, &out_scores_b))
        return NULL;
    Py_buffer *all[] = {&ptr_b, &terms_b, &lengths_b, &values_b, &acc_b, &out_docs_b, &out_scores_b};
    PyObject *result = NULL;
    const char *problem = NULL;
    int saved_errno = 0;
    Py_ssize_t n = 0;
    uint32_t *docs = NULL;
    float *weights = NULL;

    if (check_items(&ptr_b, 8, "inv_ptr") || check_items(&terms_b, 8, "terms")
        || check_items(&lengths_b, 8, "lengths") || check_items(&values_b, 4, "values")
        || check_items(&acc_b, 4, "acc") || check_items(&out_docs_b, 8, "docs_out")
        || check_items(&out_scores_b, 4, "scores_out"))
        goto done;
    const int64_t *ptr = ptr_b.buf;
    const int64_t *terms = terms_b.buf, *lengths = lengths_b.buf;
    const float *values = values_b.buf;
    float *acc = acc_b.buf, *out_scores = out_scores_b.buf;
    int64_t *out_docs = out_docs_b.buf;
    const Py_ssize_t n_terms = ptr_b.len / 8 - 1, n_docs = acc_b.len / 4;
    const Py_ssize_t m = terms_b.len / 8, room = out_docs_b.len / 8;
    if (n_terms < 0 || lengths_b.len / 8 != m || values_b.len / 4 != m || out_scores_b.len / 4 != room) {
        PyErr_SetString(PyExc_ValueError, "first_pass: buffers of inconsistent lengths");
        goto done;
    }
    docs = malloc(CHUNK_POSTINGS * sizeof *docs);
    weights = malloc(CHUNK_POSTINGS * sizeof *weights);
    if (!docs || !weights) {
        PyErr_NoMemory();
        goto done;
    }

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < m && !problem; i++) {
        const int64_t term = terms[i];
        if (term < 0 || term >= n_terms) { problem = "term number out of range"; break; }
        const int64_t start = ptr[term], stop = start + lengths[i];
        if (lengths[i] < 0 || start < 0 || stop > ptr[term + 1]) { problem = "posting list out of range"; break; }
        if (n + (stop - start) > room) { problem = "docs_out is too small"; break; }
        const float value = values[i];
        for (int64_t chunk = start; chunk < stop && !problem; chunk += CHUNK_POSTINGS) {
            const int64_t count = stop - chunk < CHUNK_POSTINGS ? stop - chunk : CHUNK_POSTINGS;
            if ((problem = read_items(docs_fd, docs_offset, docs, chunk, count, 4))
                || (problem = read_items(weights_fd, weights_offset, weights, chunk, count, 4))) {
                saved_errno = errno;
                break;
            }
            for (int64_t p = 0; p < count; p++) {
                if (p + PREFETCH_POSTINGS < count) {  /* the accumulator is too large for the cache: ask early */
                    const uint32_t ahead = docs[p + PREFETCH_POSTINGS];
                    __builtin_prefetch(&acc[ahead < (uint64_t)n_docs ? ahead : 0], 1, 3);
                }
                const uint32_t doc = docs[p];
                if (doc >= (uint64_t)n_docs) { problem = "document number out of range"; break; }
                const float contribution = weights[p] * value;
                /* Without branches (whether a document is new is a coin toss, and a mispredicted branch also
                 * throws away the cache misses already under way): the document is written after the others and
                 * kept when this is its first positive contribution. A zero contribution changes no sum. */
                const float before = acc[doc];
                out_docs[n] = doc;
                n += (before == 0.0f) & (contribution > 0.0f);
                acc[doc] = before + contribution;
            }
        }
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        out_scores[j] = acc[out_docs[j]];
        acc[out_docs[j]] = 0.0f;
    }
    Py_END_ALLOW_THREADS

    if (problem)
        raise_problem(problem, saved_errno);
    else
        result = PyLong_FromSsize_t(n);
done:
    free(docs);
    free(weights);
    release(all, sizeof(all) / sizeof(all[0]));
    return result;
}

/* exact_scores(fwd_ptr, terms_fd, terms_offset, weights_fd, weights_offset, docs, dense_query, out)
 *
 * out[i] = sum over the forward entries p of docs[i], in order, of float64(weight[p]) * dense_query[term[p]],
 * where the entries' terms (uint32) and weights (float32) are the arrays whose data starts at byte terms_offset of
 * terms_fd and weights_offset of weights_fd, and document d's entries are items fwd_ptr[d]..fwd_ptr[d+1]-1.
 * Types: fwd_ptr, docs int64; dense_query, out float64 (out has one entry per document). */
static PyObject *
exact_scores(PyObject *self, PyObject *args)
{
    Py_buffer ptr_b, docs_b, query_b, out_b;
    int terms_fd, weights_fd;
    long long terms_offset, weights_offset;
    if (!PyArg_ParseTuple(args, "y*iLiLy*y*w*", &ptr_b, &terms_fd, &terms_offset, &weights_fd, &weights_offset,
                          &docs_b, &query_b, &out_b))
        return NULL;
    Py_buffer *all[] = {&ptr_b, &docs_b, &query_b, &out_b};
    PyObject *result = NULL;
    const char *problem = NULL;
    int saved_errno = 0;
    uint32_t *terms = NULL;
    float *weights = NULL;
    int64_t capacity = 0;

    if (check_items(&ptr_b, 8, "fwd_ptr") || check_items(&docs_b, 8, "docs")
        || check_items(&query_b, 8, "dense_query") || check_items(&out_b, 8, "out"))
        goto done;
    const int64_t *ptr = ptr_b.buf, *docs = docs_b.buf;
    const double *query = query_b.buf;
    double *out = out_b.buf;
    const Py_ssize_t n_docs = ptr_b.len / 8 - 1, n_terms = query_b.len / 8, k = docs_b.len / 8;
    if (n_docs < 0 || out_b.len / 8 != k) {
        PyErr_SetString(PyExc_ValueError, "exact_scores: buffers of inconsistent lengths");
        goto done;
    }

    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < k && !problem; i++) {
        const int64_t doc = docs[i];
        if (doc < 0 || doc >= n_docs) { problem = "document number out of range"; break; }
        const int64_t start = ptr[doc], length = ptr[doc + 1] - ptr[doc];
        if (start < 0 || length < 0) { problem = "forward list out of range"; break; }
        if (length > capacity) {
            capacity = length > 2 * capacity ? length : 2 * capacity;
            uint32_t *more_terms = realloc(terms, capacity * sizeof *terms);
            if (more_terms)
                terms = more_terms;
            float *more_weights = realloc(weights, capacity * sizeof *weights);
            if (more_weights)
                weights = more_weights;
            if (!more_terms || !more_weights) { problem = "memory"; break; }
        }
        if ((problem = read_items(terms_fd, terms_offset, terms, start, length, 4))
            || (problem = read_items(weights_fd, weights_offset, weights, start, length, 4))) {
            saved_errno = errno;
            break;
        }
        double sum = 0.0;
        for (int64_t p = 0; p < length; p++) {
            const uint32_t term = terms[p];
            if (term >= (uint64_t)n_terms) { problem = "term number out of range"; break; }
            const double contribution = (double)weights[p] * query[term];
            sum += contribution;
        }
        out[i] = sum;
    }
    Py_END_ALLOW_THREADS

    if (problem)
        raise_problem(problem, saved_errno);
    else
        result = Py_NewRef(Py_None);
done:
    free(terms);
    free(weights);
    release(all, sizeof(all) / sizeof(all[0]));
    return result;
}

static PyMethodDef methods[] = {
    {"first_pass", first_pass, METH_VARARGS,
     "first_pass(inv_ptr, docs_fd, docs_offset, weights_fd, weights_offset, terms, lengths, values, acc, docs_out, "
     "scores_out) -> n"},
    {"exact_scores", exact_scores, METH_VARARGS,
     "exact_scores(fwd_ptr, terms_fd, terms_offset, weights_fd, weights_offset, docs, dense_query, out)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_bm25_kernels",
    "Compiled inner loops of the budgeted BM25 search (see rmd_baselines/respond/bm25.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit__bm25_kernels(void)
{
    return PyModule_Create(&module);
}
